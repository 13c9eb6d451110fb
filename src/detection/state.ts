import type { RegistryUpdateEvent } from '../events/index.js';
import { DEVICE_STATUSES, PrefixSet, type DeviceInput, type DeviceStatus } from '../registry/index.js';

/** A registered device as the engine sees it: sets and prefix tables ready for lookups. */
export interface DeviceView {
  serial: string;
  status: DeviceStatus;
  cellIds: Set<string>;
  siteLat: number | null;
  siteLon: number | null;
  siteRadiusM: number;
  prefixes: PrefixSet;
  ipPrefixes: string[];
  expectedNeighbors: Set<string>;
  certFingerprints: Set<string>;
}

/**
 * A flat copy of a string. Registry fields parsed from CSV are slices of whole input chunks
 * (V8 keeps a substring as a view of its parent): holding one would hold the chunk, and every
 * comparison against it (each event's cells, neighbours, serial) would read through it.
 */
function own(s: string): string {
  // V8 makes slices only of 13 characters or more; shorter substrings are copies already.
  return s.length < 13 ? s : Buffer.from(s, 'utf8').toString('utf8');
}

/**
 * The status as the registry module's constant of the same characters: a device's status is read
 * from a file or an event (an instance per row), and the rules compare it with constants on every
 * report (`=== 'active'`): two constants compare by identity, where a read string has its
 * characters compared (reaching one cold string per device).
 */
function statusConstant(s: DeviceStatus): DeviceStatus {
  for (const c of DEVICE_STATUSES) if (c === s) return c;
  return s;
}

/** The registry, indexed for the engine: by serial, by cell, by certificate fingerprint. */
export class RegistryView {
  readonly devices = new Map<string, DeviceView>();
  private readonly cellOwners = new Map<string, Set<string>>();
  /** cells with at least one owner: what `cellRegistered` asks for every attach and report, in one lookup */
  private readonly servedCells = new Set<string>();
  private readonly fpOwners = new Map<string, string>();
  /**
   * Bumped by every `put`: the engine caches each device's entry and each cell's "served"
   * answer on its own per-entity records, and refreshes them when this moved.
   */
  version = 0;

  /**
   * `flat`: the devices' strings are known to be flat strings of their own (a structured clone's
   * or v8.deserialize's are), so they are kept as they are rather than copied (see `own`): on the
   * benchmark's 20,000 devices the copies were more than half of the view's building time.
   */
  static from(devices: Iterable<DeviceInput>, opts: { flat?: boolean } = {}): RegistryView {
    const v = new RegistryView();
    if (opts.flat === true) v.own = (s) => s;
    for (const d of devices) v.put(d);
    v.own = own;
    return v;
  }

  /** how `put` copies a registry string it keeps (see `from`) */
  private own: (s: string) => string = own;

  get(serial: string): DeviceView | undefined {
    return this.devices.get(serial);
  }

  /** Is some registered device allowed to serve this cell? */
  cellRegistered(cellId: string): boolean {
    return this.servedCells.has(cellId);
  }

  cellOwnersOf(cellId: string): ReadonlySet<string> | undefined {
    return this.cellOwners.get(cellId);
  }

  fingerprintOwner(fp: string): string | undefined {
    return this.fpOwners.get(fp);
  }

  put(d: DeviceInput): DeviceView {
    const old = this.devices.get(d.serial);
    if (old) this.unindex(old);
    this.version++;
    const own = this.own;
    const serial = own(d.serial);
    const view: DeviceView = {
      serial,
      status: statusConstant(d.status),
      cellIds: new Set(d.cellIds.map(own)),
      siteLat: d.siteLat,
      siteLon: d.siteLon,
      siteRadiusM: d.siteRadiusM,
      prefixes: new PrefixSet(d.ipPrefixes),
      ipPrefixes: d.ipPrefixes.map(own),
      expectedNeighbors: new Set(d.expectedNeighbors.map(own)),
      certFingerprints: new Set(d.certFingerprints.map(own)),
    };
    this.devices.set(serial, view);
    for (const c of view.cellIds) {
      let s = this.cellOwners.get(c);
      if (!s) this.cellOwners.set(c, (s = new Set()));
      s.add(serial);
      this.servedCells.add(c);
    }
    for (const fp of view.certFingerprints) if (!this.fpOwners.has(fp)) this.fpOwners.set(fp, serial);
    return view;
  }

  /** FORMATS.md §1 `registry.update`: fields left out keep their value. Returns the device before and after. */
  applyUpdate(e: RegistryUpdateEvent): { before: DeviceView | undefined; after: DeviceView } {
    const before = this.devices.get(e.serial);
    const base: DeviceInput = before
      ? {
          serial: before.serial,
          status: before.status,
          cellIds: [...before.cellIds],
          siteLat: before.siteLat,
          siteLon: before.siteLon,
          siteRadiusM: before.siteRadiusM,
          ipPrefixes: before.ipPrefixes,
          expectedNeighbors: [...before.expectedNeighbors],
          certFingerprints: [...before.certFingerprints],
          owner: null,
        }
      : { serial: e.serial, status: 'provisioned', cellIds: [], siteLat: null, siteLon: null, siteRadiusM: 300, ipPrefixes: [], expectedNeighbors: [], certFingerprints: [], owner: null };
    if (e.ipPrefixes !== undefined) {
      // validateEvent holds registry.update to the registry CSV's field rules, so every prefix
      // here parses. One that does not is a bug upstream: dropping it would silently switch
      // off source-ip-mismatch for the device, so fail loudly instead, before anything changes.
      try {
        new PrefixSet(e.ipPrefixes);
      } catch (err) {
        throw new Error(`registry.update for ${e.serial}: ipPrefixes did not pass the registry's field rules (${err instanceof Error ? err.message : String(err)})`, { cause: err });
      }
    }
    const after = this.put({
      ...base,
      status: e.status ?? base.status,
      cellIds: e.cellIds ?? base.cellIds,
      siteLat: e.siteLat !== undefined ? e.siteLat : base.siteLat,
      siteLon: e.siteLon !== undefined ? e.siteLon : base.siteLon,
      siteRadiusM: e.siteRadiusM ?? base.siteRadiusM,
      ipPrefixes: e.ipPrefixes ?? base.ipPrefixes,
      expectedNeighbors: e.expectedNeighbors ?? base.expectedNeighbors,
      certFingerprints: e.certFingerprints ?? base.certFingerprints,
    });
    return { before, after };
  }

  private unindex(v: DeviceView): void {
    for (const c of v.cellIds) {
      const owners = this.cellOwners.get(c);
      if (owners && owners.delete(v.serial) && owners.size === 0) this.servedCells.delete(c);
    }
    for (const fp of v.certFingerprints) if (this.fpOwners.get(fp) === v.serial) this.fpOwners.delete(fp);
  }
}

/** Does the change move the device (site, lines, radio neighbourhood, cells)? */
export function relocates(b: DeviceView | undefined, a: DeviceView): boolean {
  if (!b) return false;
  const same = (x: ReadonlySet<string>, y: ReadonlySet<string>): boolean => x.size === y.size && [...x].every((v) => y.has(v));
  return (
    b.siteLat !== a.siteLat ||
    b.siteLon !== a.siteLon ||
    b.siteRadiusM !== a.siteRadiusM ||
    !same(new Set(b.ipPrefixes), new Set(a.ipPrefixes)) ||
    !same(b.expectedNeighbors, a.expectedNeighbors) ||
    !same(b.cellIds, a.cellIds)
  );
}

/** A session a device brought up and has not closed (DeviceRuntime.sessions). */
export interface DeviceSession {
  ip: string;
  upAt: number;
  /** brought up with a `sessionId`: its source (a gateway, the strongSwan bridge) sends its `down` too */
  gateway: boolean;
  /**
   * -Infinity, or the time the operator moved the device to other lines (a relocation whose new
   * prefixes leave this address out): the session ended with the move unless its address is
   * seen again after it (a clone left on the old line, or a unit not moved yet).
   */
  retiredAt: number;
}

/** The last time a session's address was seen (its `up`, later session events and reports). */
export function sessionLastSeen(rt: DeviceRuntime, s: DeviceSession): number {
  return Math.max(s.upAt, addressSeen(rt, s.ip) ?? -Infinity);
}

/** The last time the device was seen from `ip` (DeviceRuntime.ipSeen). */
export function addressSeen(rt: DeviceRuntime, ip: string): number | undefined {
  return ip === rt.ipLast ? rt.ipLastT : rt.ipSeen.get(ip);
}

/** The device was seen from `ip` at `t` (the time is set, as given, not raised to it). */
export function seeAddress(rt: DeviceRuntime, ip: string, t: number): void {
  if (ip !== rt.ipLast) {
    if (rt.ipLast !== undefined) rt.ipSeen.set(rt.ipLast, rt.ipLastT);
    rt.ipSeen.set(ip, t);
    rt.ipLast = ip;
  }
  rt.ipLastT = t;
}

/** credential-shared's liveness bounds (`sessionLivenessMs`, `gatewaySessionMaxMs`). */
export interface SessionBounds {
  livenessMs: number;
  gatewayMs: number;
}

/**
 * Is the session live at `t`? A session without a session id is live while its address was
 * seen within `livenessMs` (a crashed unit never sends `down`, and nothing else would); one
 * from a gateway until its `down`, or `gatewayMs` of silence (a lost `down`): a gateway-only
 * feed has no reports to keep it alive. A session retired by a relocation is live only once its
 * address is seen after the move, and then while seen within `livenessMs` (the sightings are
 * all that speaks for it).
 */
export function sessionLive(rt: DeviceRuntime, s: DeviceSession, t: number, b: SessionBounds): boolean {
  const seen = sessionLastSeen(rt, s);
  if (s.retiredAt !== -Infinity) return seen > s.retiredAt && t - seen <= b.livenessMs;
  return t - seen <= (s.gateway ? b.gatewayMs : b.livenessMs);
}

/**
 * A relocation moved the device to new lines (`after`'s prefixes): its sessions from addresses
 * the new prefixes leave out, and that the old ones held (or the device had none), end with the
 * move, so the unit coming back from its new line without having sent a `down` is no second
 * session. A session from an address outside the old prefixes too was never the unit's line
 * and stays as it is. `t` is the move's time in the engine's order.
 */
export function retireMovedSessions(rt: DeviceRuntime, before: DeviceView, after: DeviceView, t: number): void {
  if (after.ipPrefixes.length === 0) return;
  for (const s of rt.sessions.values()) {
    if (s.retiredAt !== -Infinity || after.prefixes.contains(s.ip)) continue;
    if (before.ipPrefixes.length > 0 && !before.prefixes.contains(s.ip)) continue;
    s.retiredAt = t;
  }
}

/**
 * The per-device numbers device-moving and location-mismatch read on every report of the fleet
 * (DeviceRuntime.track), on one flat array: one object to reach per report, written in place
 * (no object per report, no boxed number per field).
 * - device-moving, from TR_FIX: 1 once a GPS fix is held, then the last fix (lat, lon,
 *   accuracy); at TR_LENS the lengths of the last three scans, oldest first (0: none), the scans
 *   themselves back to back after the expected cells (from `TR_CELLS + track[TR_ROOM]`), each
 *   its distinct cells (RuleContext.cellNo) in the order first heard.
 * - location-mismatch, what it reads of the registry entry (filled when `siteFresh` is false,
 *   that is after the entry was refreshed): at TR_SITE 1 when the site is known, then its lat,
 *   lon and radius; at TR_EXPECTED the number of expected neighbours held from TR_CELLS as cell
 *   numbers, 0 when there are none, -1 when there are too many to hold (the entry's set is
 *   asked), -2 when not yet interned (the first report with a scan does it); at TR_ROOM the
 *   slots kept for them.
 */
export const TR_FIX = 0;
export const TR_LENS = 4;
export const TR_SITE = 7;
export const TR_EXPECTED = 11;
export const TR_ROOM = 12;
export const TR_CELLS = 13;
/** cells a new track has room for (three scans of a handful of neighbours) */
const TRACK_CELLS = 24;

/** The device's track, a new one (no fix, no scan, no site) if it has none. */
export function trackOf(rt: DeviceRuntime): Float64Array {
  return (rt.track ??= new Float64Array(TR_CELLS + TRACK_CELLS));
}

/**
 * A copy of `tr` whose expected-cell room is `room` and whose scans region holds `scanRoom`
 * cells (what fits is copied: the header, the expected cells when the room is unchanged, the
 * scans). Returns a new array, also set on the record.
 */
export function resizeTrack(rt: DeviceRuntime, tr: Float64Array, room: number, scanRoom: number): Float64Array {
  const oldRoom = tr[TR_ROOM] as number;
  const scans = (tr[TR_LENS] as number) + (tr[TR_LENS + 1] as number) + (tr[TR_LENS + 2] as number);
  const to = new Float64Array(TR_CELLS + room + scanRoom);
  to.set(tr.subarray(0, TR_CELLS + (room === oldRoom ? room : 0)));
  to[TR_ROOM] = room;
  to.set(tr.subarray(TR_CELLS + oldRoom, TR_CELLS + oldRoom + scans), TR_CELLS + room);
  rt.track = to;
  return to;
}

/**
 * What the engine remembers about a device it has seen (registered or not): one record per
 * serial, found with one lookup per event. The rules that keep per-device state keep it here
 * too (each field names its rule), and the device's registry entry is cached on it, so an
 * event touches one record instead of a map per rule.
 */
export interface DeviceRuntime {
  serial: string;
  lastSeen: number;
  /** live sessions by session id (or source address when the gateway gives none) */
  sessions: Map<string, DeviceSession>;
  /**
   * last time each source address was seen, but for `ipLast` (held here too, with a time that
   * may be stale): its time is `ipLastT`. Most events come from the address of the one before,
   * so that one is kept on the record, not written to the map every time. Read through
   * `addressSeen`, written through `seeAddress`.
   */
  ipSeen: Map<string, number>;
  ipLast: string | undefined;
  ipLastT: number;
  /** cells the device announced most recently */
  announced: Set<string>;
  /** the same cells as an array (the set's order), to tell cheaply whether an event announces the same again */
  announcedIds: string[];
  /**
   * A frozen list (the replay's decoder hands out one frozen array per distinct list) whose
   * cells, in order and without repeats, are `announcedIds`: the same list again is known to
   * announce the same cells without comparing them (undefined when none is).
   */
  announcedFrom: readonly string[] | undefined;
  /** the registry entry as of `regVersion` (see RegistryView.version) */
  reg: DeviceView | undefined;
  regVersion: number;
  /** `reg`'s status (the rules that ask only that need not reach the entry) */
  status: DeviceStatus | undefined;
  /** device-moving's and location-mismatch's numbers (TR_*) */
  track: Float64Array | undefined;
  /** location-mismatch: the track's site part is filled from `reg` (false when `reg` is refreshed) */
  siteFresh: boolean;
  /** device-moving: the times of the moves within its window */
  moves: number[] | undefined;
  /** location-mismatch: consecutive bad GPS fixes and bad neighbour scans */
  locGps: number;
  locScan: number;
  /** source-ip-mismatch: an address found inside `reg`'s prefixes, or any address when it has none (reset when `reg` is refreshed) */
  ipOk: string | undefined;
  /** unregistered-cell: `announced` was found all registered at `cellsOkVersion` (skip re-checking the same set) */
  cellsOk: Set<string> | undefined;
  cellsOkVersion: number;
}

/**
 * Forgets, at `t`, a device's sessions (never closed by a `down`: a crash, a lost `down`) that
 * can no longer count as live (`sessionLive`'s bounds; a retired one is kept as long as it
 * could be seen again), and the addresses not seen within `livenessMs` that no kept session
 * holds: without this a device that changes address or session id every day would grow its
 * record for ever.
 */
export function pruneDevice(rt: DeviceRuntime, t: number, b: SessionBounds): void {
  if (rt.ipLast !== undefined) rt.ipSeen.set(rt.ipLast, rt.ipLastT);
  for (const [k, s] of rt.sessions) if (t - sessionLastSeen(rt, s) > (s.gateway ? b.gatewayMs : b.livenessMs)) rt.sessions.delete(k);
  const before = t - b.livenessMs;
  for (const [ip, seen] of rt.ipSeen) if (seen < before && !holdsAddress(rt, ip)) rt.ipSeen.delete(ip);
  if (rt.ipLast !== undefined && !rt.ipSeen.has(rt.ipLast)) rt.ipLast = undefined;
}

/** Does one of the device's sessions come from `ip`? (A kept session's address keeps its last sighting.) */
function holdsAddress(rt: DeviceRuntime, ip: string): boolean {
  for (const s of rt.sessions.values()) if (s.ip === ip) return true;
  return false;
}

/**
 * Marks the cell numbers device records hold (device-moving's last scans, location-mismatch's
 * expected cells), for the cell-number sweep (CellNumbers.sweep); returns how many. A record
 * evicted from the engine's maps is not passed: the numbers it held are freed by that sweep.
 */
export function markHeldCellNos(mark: Uint8Array, records: readonly Iterable<DeviceRuntime>[]): number {
  let held = 0;
  for (const rts of records) {
    for (const rt of rts) {
      const tr = rt.track;
      if (tr) {
        // The expected cells too when the entry was refreshed since: marking more than is read is safe.
        const expected = Math.max(0, tr[TR_EXPECTED] as number);
        for (let i = TR_CELLS; i < TR_CELLS + expected; i++) mark[tr[i] as number] = 1;
        const at = TR_CELLS + (tr[TR_ROOM] as number);
        const n = (tr[TR_LENS] as number) + (tr[TR_LENS + 1] as number) + (tr[TR_LENS + 2] as number);
        for (let i = at; i < at + n; i++) mark[tr[i] as number] = 1;
        held += expected + n;
      }
    }
  }
  return held;
}

/**
 * The cells a device announces, as a set. A device announces the same cells report after
 * report: the set is rebuilt only when they change (same cells in the same order give the
 * same set object, which unregistered-cell relies on to skip cells it checked already).
 */
export function announceCells(rt: DeviceRuntime, cellIds: readonly string[]): void {
  if (cellIds === rt.announcedFrom) return;
  const cur = rt.announcedIds;
  if (cur.length === cellIds.length) {
    let i = 0;
    while (i < cur.length && cur[i] === cellIds[i]) i++;
    if (i === cur.length) {
      rt.announcedFrom = Object.isFrozen(cellIds) ? cellIds : undefined;
      return;
    }
  }
  rt.announced = new Set(cellIds);
  rt.announcedIds = [...rt.announced];
  rt.announcedFrom = Object.isFrozen(cellIds) && rt.announcedIds.length === cellIds.length ? cellIds : undefined;
}

/** Subscribers joined across identifiers, with their recent cells (its own file: laid out for memory). */
export { SubscriberIndex } from './subscriber-table.js';
