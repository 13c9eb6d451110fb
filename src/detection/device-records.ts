/**
 * The engine's records of devices (DeviceRuntime, state.ts), found by serial. Split from
 * engine.ts. Registered serials' records are kept for the life of the engine (bounded by the
 * registry; idle-device reads their lastSeen). Other serials are chosen by whoever sends the
 * event (a refused check-in's claimed serial), so theirs are kept in recency order and the
 * least recently seen is evicted past the cap. An evicted serial that comes back starts a fresh
 * record: unregistered-device raises again (and folds into the same alert), and only state
 * older than the cap's worth of other unknown serials is lost.
 */
import { hashId, spreadHash } from '../events/index.js';
import type { DeviceRuntime, RegistryView } from './state.js';

/** slots of the caches of registered devices' records (a power of two) */
const SLOTS = 1 << 18;

export class DeviceRecords {
  /** registered serials' records: never dropped */
  private readonly runtimes = new Map<string, DeviceRuntime>();
  /** other serials' records, least recently seen first */
  private readonly strangers = new Map<string, DeviceRuntime>();
  /** records of unknown serials evicted past the cap */
  evicted = 0;
  // Registered devices' records by a hash of the serial, in front of `runtimes`: one array slot
  // and the record itself to reach on most events, not the map's buckets and keys. Only records
  // of `runtimes` go in; a slot taken by another serial falls back to the maps.
  private readonly recent: (DeviceRuntime | undefined)[] = new Array<DeviceRuntime | undefined>(SLOTS).fill(undefined);
  // The same records by the scanner's hash of the serial's bytes, for a replayed report:
  // EventDecoder.decodeForEngine looks its serial up here from the line's bytes (ofSerialBytes)
  // and hands over the record it finds with that record's serial, so such a report makes no
  // serial string and hashes it no second time. Filled by `of` (from a report's `serialHash`)
  // with records of `runtimes` only, as `recent` is: a record found here is the one `of` would
  // return. A slot taken by another serial is a miss (the report goes through `of`).
  private readonly byBytes: (DeviceRuntime | undefined)[] = new Array<DeviceRuntime | undefined>(SLOTS).fill(undefined);
  private readonly byBytesHash = new Int32Array(SLOTS);

  constructor(
    private readonly registry: RegistryView,
    private readonly strangerCap: number,
  ) {}

  /** the record of a serial, if any (no bookkeeping) */
  get(serial: string): DeviceRuntime | undefined {
    return this.runtimes.get(serial) ?? this.strangers.get(serial);
  }

  /** A serial just put in the registry keeps the record it had while unknown (and can no longer be evicted). */
  adopt(serial: string): void {
    const rt = this.strangers.get(serial);
    if (rt === undefined || this.registry.get(serial) === undefined) return;
    this.strangers.delete(serial);
    this.runtimes.set(serial, rt);
  }

  /**
   * The device's record seen at `t` (created at its first sighting), its registry entry
   * refreshed when the registry changed since. `bytesHash`: the scanner's hash of the serial's
   * bytes (a replayed report's), to find a registered device's record from them next time.
   */
  of(serial: string, t: number, bytesHash?: number): DeviceRuntime {
    const slot = hashId(serial) & (SLOTS - 1);
    let rt = this.recent[slot];
    let registered = true;
    if (rt === undefined || rt.serial !== serial) {
      rt = this.runtimes.get(serial);
      if (rt === undefined) {
        // Not registered when last seen (or never seen): moved to the recent end of `strangers`,
        // or to `runtimes` if the registry has it now.
        const strangers = this.strangers;
        rt = strangers.get(serial);
        if (rt === undefined) rt = { serial, lastSeen: t, sessions: new Map(), ipSeen: new Map(), ipLast: undefined, ipLastT: -Infinity, announced: new Set(), announcedIds: [], announcedFrom: undefined, reg: undefined, regVersion: -1, status: undefined, track: undefined, siteFresh: false, moves: undefined, locGps: 0, locScan: 0, ipOk: undefined, cellsOk: undefined, cellsOkVersion: -1 };
        else strangers.delete(serial);
        if (this.registry.get(serial) !== undefined) {
          this.runtimes.set(serial, rt);
          this.recent[slot] = rt;
        } else {
          registered = false;
          strangers.set(serial, rt);
          if (strangers.size > this.strangerCap) {
            // The first key is the least recently seen (never this one: it was just set last).
            strangers.delete(strangers.keys().next().value as string);
            this.evicted++;
          }
        }
      } else this.recent[slot] = rt;
    }
    if (registered && bytesHash !== undefined) {
      const b = spreadHash(bytesHash) & (SLOTS - 1);
      this.byBytes[b] = rt;
      this.byBytesHash[b] = bytesHash;
    }
    return this.seen(rt, t);
  }

  /** A registered device's record (from `of`, or ofSerialBytes) seen at `t`: its registry entry refreshed when the registry changed since. */
  seen(rt: DeviceRuntime, t: number): DeviceRuntime {
    if (t > rt.lastSeen) rt.lastSeen = t;
    const registry = this.registry;
    if (rt.regVersion !== registry.version) {
      const reg = registry.get(rt.serial);
      rt.reg = reg;
      rt.regVersion = registry.version;
      rt.status = reg?.status;
      rt.siteFresh = false;
      rt.ipOk = undefined;
    }
    return rt;
  }

  /** the registered device's record whose serial is the bytes buf[s, s+n) (scanner hash h), if held here */
  ofSerialBytes(buf: Uint8Array, s: number, n: number, h: number): DeviceRuntime | undefined {
    const slot = spreadHash(h) & (SLOTS - 1);
    if (this.byBytesHash[slot] !== h) return undefined;
    const rt = this.byBytes[slot];
    if (rt === undefined) return undefined;
    const serial = rt.serial;
    if (serial.length !== n) return undefined;
    for (let x = 0; x < n; x++) if (serial.charCodeAt(x) !== buf[s + x]) return undefined;
    return rt;
  }

  /**
   * Loads what ofSerialBytes(…, h) reads, and what the decoder and the rules read next of the
   * record it finds: the last address and list its report is compared with (EventDecoder's
   * decodeForEngine) and the track (EventDecoder.warmDevices).
   */
  warm(h: number): number {
    const slot = spreadHash(h) & (SLOTS - 1);
    const rt = this.byBytes[slot];
    let x = this.byBytesHash[slot] as number;
    if (rt === undefined) return x;
    x ^= rt.serial.length;
    const ip = rt.ipLast;
    if (ip !== undefined) x ^= ip.length;
    const list = rt.announcedFrom;
    if (list !== undefined && list.length > 0) x ^= (list[0] as string).length;
    const tr = rt.track;
    if (tr !== undefined) x ^= tr[0] as number;
    return x;
  }

  /** all records, registered then unknown */
  all(): Iterable<DeviceRuntime>[] {
    return [this.runtimes.values(), this.strangers.values()];
  }

  /** how many records */
  get size(): number {
    return this.runtimes.size + this.strangers.size;
  }

  /** how many records of serials not in the registry */
  get unknown(): number {
    return this.strangers.size;
  }
}
