/**
 * Decoding of the byte scanner's records (fast-scan.ts) into events: the same values
 * `validateEvent(JSON.parse(line))` gives, with the strings that repeat interned in bounded
 * direct-mapped caches. The record layout (field ids, slots, type codes) is fast-scan.ts's.
 */
import type { FemtoReportEvent, FgEvent, GpsFix } from './types.js';
import {
  D_ACCURACY,
  D_AMOUNT,
  D_LAT,
  D_LON,
  D_T,
  D_TS,
  F_CELL_ID,
  F_CELL_IDS,
  F_CERT_FINGERPRINT,
  F_CONFIG_HASH,
  F_CURRENCY,
  F_ENDPOINT,
  F_GPS,
  F_IMEI,
  F_IMSI,
  F_IPSEC,
  F_MERCHANT,
  F_METHOD,
  F_MSISDN,
  F_NEIGHBORS,
  F_PHASE,
  F_SERIAL,
  F_SESSION_ID,
  F_SOURCE_IP,
  F_SW_VERSION,
  F_TS,
  F_TX_ID,
  T_ATTACH,
  T_IMS,
  T_PAYMENT,
  T_REPORT,
  T_SESSION,
  REC_F64,
  REC_I32,
  type EventRecords,
} from './fast-scan.js';
import { latin1 } from './fast-scan-values.js';
import { ListCache, StringCache } from './intern-caches.js';
import { gpsOf, hasAccuracy, optList, optNeighbors, optStr, recordId, sameCells, sourceIpOf, str } from './fast-decode-fields.js';

export { recordId } from './fast-decode-fields.js';

/**
 * Decodes scanned records into events. One instance per stream; holds bounded interning caches.
 *
 * Only what repeats is interned: device strings (serial, address, ...) and cell ids in one
 * cache each, and the cellIds lists (a device announces the same ones report after report) in
 * one, 2^cacheBits slots per cache; the elements of neighbour scans in a small cache of their
 * own (2^12 slots at most: see NEIGHBOR_BITS). Subscriber identities, one-off values (session
 * ids, certificate fingerprints, transaction ids) and neighbour scans as whole arrays are
 * created fresh: they are many and rarely repeat (on the benchmark's stream a cache missed 55%
 * of subscriber strings and 79% of neighbour scans), so a cache cost a probe per field and
 * gained little; measured on the engine's thread, decoding them fresh made the replay faster
 * (8% for the strings, 5% of the device side for the scans). (In one shared cache they also
 * evicted the serials and cells every report repeats.) Fixed memory: about 2^cacheBits × 150
 * bytes of tables (10 MiB at the default 16 bits, mostly the cellIds cache's byte copies,
 * allocated at its first list) plus the strings and arrays the slots hold (each string at most
 * 256 characters, each cached array text at most 512 bytes).
 */
export class EventDecoder {
  private readonly slots: number;
  /** serial, sourceIp, endpoint, swVersion, configHash */
  private readonly device: StringCache;
  /** cellId and the elements of cellIds */
  private readonly cell: StringCache;
  private readonly cellIdLists: ListCache;
  /** the elements of neighbour scans: a small table of its own, so that it stays in the CPU cache */
  private readonly neighbor: StringCache;
  /** the consumer's device records, which decodeForEngine takes a report's serial from */
  private readonly devices: DeviceRecords | null;

  /** `devices`: see decodeForEngine. */
  constructor(opts: { cacheBits?: number; devices?: DeviceRecords } = {}) {
    const bits = opts.cacheBits ?? 16;
    if (!Number.isInteger(bits) || bits < 1 || bits > 24) throw new RangeError(`EventDecoder: cacheBits must be an integer in 1..24, got ${bits}`);
    const size = 1 << bits;
    this.slots = size;
    this.device = new StringCache(size);
    this.cell = new StringCache(size);
    this.cellIdLists = new ListCache(size, this.cell);
    this.neighbor = new StringCache(1 << Math.min(bits, NEIGHBOR_BITS));
    this.devices = opts.devices ?? null;
  }

  /** the record's `id` as a string (not interned: ids are unique), or undefined when the line has none */
  id(buf: Uint8Array, rec: EventRecords, row: number): string | undefined {
    return recordId(buf, rec, row);
  }

  /** the event: equal to validateEvent(JSON.parse(line)).event (t included) */
  decode(buf: Uint8Array, rec: EventRecords, row: number): FgEvent {
    const i32 = rec.i32;
    const f64 = rec.f64;
    const b = row * REC_I32;
    const fb = row * REC_F64;
    const mask = i32[b + 1]!;
    const pts = b + 2 + 3 * F_TS;
    const ts = i32[pts + 2] === 1 ? latin1(buf, i32[pts]!, i32[pts]! + i32[pts + 1]!) : f64[fb + D_TS]!;
    const id = this.id(buf, rec, row);
    const t = f64[fb + D_T]!;
    switch (i32[b]) {
      case T_REPORT:
        return {
          type: 'femto.report',
          ts,
          id,
          t,
          serial: str(this.device, buf, i32, b, F_SERIAL),
          sourceIp: optStr(this.device, buf, i32, b, mask, F_SOURCE_IP),
          cellIds: optList(this.cellIdLists, buf, i32, b, mask, F_CELL_IDS),
          gps: (mask & (1 << F_GPS)) === 0 ? undefined : gpsOf(i32, f64, b, fb),
          neighbors: optNeighbors(this.neighbor, buf, i32, b, mask, F_NEIGHBORS),
          swVersion: optStr(this.device, buf, i32, b, mask, F_SW_VERSION),
          configHash: optStr(this.device, buf, i32, b, mask, F_CONFIG_HASH),
        };
      case T_SESSION:
        return {
          type: 'femto.session',
          ts,
          id,
          t,
          serial: str(this.device, buf, i32, b, F_SERIAL),
          phase: i32[b + 3 + 3 * F_PHASE] === 2 ? 'up' : 'down', // validated: length 2 is "up", 4 is "down"
          sourceIp: str(this.device, buf, i32, b, F_SOURCE_IP),
          certFingerprint: optStr(null, buf, i32, b, mask, F_CERT_FINGERPRINT),
          cellIds: optList(this.cellIdLists, buf, i32, b, mask, F_CELL_IDS),
          endpoint: optStr(this.device, buf, i32, b, mask, F_ENDPOINT),
          sessionId: optStr(null, buf, i32, b, mask, F_SESSION_ID),
        };
      case T_ATTACH:
        return {
          type: 'ue.attach',
          ts,
          id,
          t,
          cellId: str(this.cell, buf, i32, b, F_CELL_ID),
          imsi: str(null, buf, i32, b, F_IMSI),
          imei: optStr(null, buf, i32, b, mask, F_IMEI),
          msisdn: optStr(null, buf, i32, b, mask, F_MSISDN),
        };
      case T_IMS:
        return {
          type: 'ims.register',
          ts,
          id,
          t,
          imsi: str(null, buf, i32, b, F_IMSI),
          ipsec: i32[b + 2 + 3 * F_IPSEC] === 1,
          cellId: optStr(this.cell, buf, i32, b, mask, F_CELL_ID),
          msisdn: optStr(null, buf, i32, b, mask, F_MSISDN),
        };
      case T_PAYMENT:
        return {
          type: 'payment.auth',
          ts,
          id,
          t,
          txId: str(null, buf, i32, b, F_TX_ID),
          msisdn: str(null, buf, i32, b, F_MSISDN),
          amountMinor: f64[fb + D_AMOUNT]!,
          currency: str(null, buf, i32, b, F_CURRENCY),
          method: optStr(null, buf, i32, b, mask, F_METHOD),
          merchant: optStr(null, buf, i32, b, mask, F_MERCHANT),
        };
      default:
        throw new Error(`EventDecoder.decode: row ${row} holds no scanned event (scanEvent returned false or was not called)`);
    }
  }

  /**
   * The same event as `decode`, but for a report (most of the stream) its `ts`, `id`,
   * `swVersion` and `configHash` are read from the line's bytes when asked (a fresh string of
   * the same value each time), not created up front: the detection engine reads a report's
   * `id` only into the evidence of a finding, raised while the report is processed, and the
   * three others never. The event reads the batch's memory (`buf`, `rec`), so it is for a
   * consumer done with it before that memory is written again: the engine's `processOrdered`,
   * which keeps no event past its return (replay-thread.ts reuses a batch only once both
   * sides have consumed it). Not own properties: a spread or JSON.stringify of it would miss
   * them, and it is not `toEqual` to `decode`'s. Its `sourceIp` is not interned in a cache (it is
   * the device's last address, or fresh: see below): a cache of addresses
   * beside the serials cost more (a probe of two tables and the string, and the serials it
   * evicted) than it saved: measured on the device side, 5% faster without. Its `neighbors`
   * too is made from the bytes when asked (fresh strings, kept once made): the engine numbers
   * the cells from the bytes (`neighborNos`, `neighborText`: its cell-number table is probed
   * with the bytes, so no string is made for a cell it holds) and the rules read the array only
   * into a finding's evidence. Its `serial` is, when the decoder was given `devices` and they
   * hold a record of the serial, that record's `serial` (found from the bytes and the
   * scanner's hash of them; the record is the report's `device`), else interned as `decode`'s.
   * With such a record, a `sourceIp` or `cellIds` of the same characters as the record's last
   * (`ipLast`, `announcedFrom`) is that string or list, not a new one. Its `gps` too is made when
   * asked (kept once made): the engine reads the fix's numbers from the record (`fixInto`), and
   * the rules read the object only into a finding's evidence.
   */
  decodeForEngine(buf: Uint8Array, rec: EventRecords, row: number): FgEvent {
    const i32 = rec.i32;
    const b = row * REC_I32;
    if (i32[b] !== T_REPORT) return this.decode(buf, rec, row);
    const mask = i32[b + 1]!;
    const p = b + 2 + 3 * F_SERIAL;
    const hash = i32[p + 2]!;
    const device = this.devices === null ? undefined : this.devices.ofSerialBytes(buf, i32[p]!, i32[p + 1]!, hash);
    return new ScannedReport(
      buf,
      rec,
      row,
      rec.f64[row * REC_F64 + D_T]!,
      device !== undefined ? device.serial : this.device.get(buf, i32[p]!, i32[p + 1]!, hash),
      device,
      hash,
      (mask & (1 << F_SOURCE_IP)) === 0 ? undefined : sourceIpOf(device, buf, i32, b),
      (mask & (1 << F_CELL_IDS)) === 0 ? undefined : this.cellIdsOf(device, buf, i32, b),
      (mask & (1 << F_NEIGHBORS)) === 0 ? -1 : i32[b + 3 + 3 * F_NEIGHBORS]!,
    );
  }

  /**
   * A report's cellIds: the list its device announced last when the text names the same cells
   * (a device announces the same ones report after report: compared with that list's few
   * strings, on the record just found, instead of a probe of the list cache's large tables),
   * else the list cache's.
   */
  private cellIdsOf(device: DecodedDevice | undefined, buf: Uint8Array, i32: Int32Array, b: number): string[] {
    const p = b + 2 + 3 * F_CELL_IDS;
    const s = i32[p]!;
    const e = s + i32[p + 1]!;
    const last = device === undefined ? undefined : device.announcedFrom;
    // Frozen, shared instances: typed as string[] to match the event contract; nobody may mutate them.
    if (last !== undefined && sameCells(last, buf, s, e)) return last as string[];
    return this.cellIdLists.get(buf, s, e, i32[p + 2]!) as string[];
  }

  /**
   * Touches the device records of the reports among records [from, to) ahead of decoding them
   * (DeviceRecords.warm): loads of independent records overlap in the CPU, where one by one, as
   * each report is decoded, each waits for memory. For a few rows ahead of the one decoded:
   * what a whole batch's rows touch does not stay in the CPU's caches until its turn. A hint
   * only: rows that hold no scanned record cost a useless load. Returns anything (a value for
   * the caller to drop).
   */
  warmDevices(rec: EventRecords, from: number, to: number): number {
    const devices = this.devices;
    if (devices === null) return 0;
    const i32 = rec.i32;
    let x = 0;
    for (let row = from; row < to; row++) {
      const b = row * REC_I32;
      if (i32[b] === T_REPORT) x ^= devices.warm(i32[b + 4 + 3 * F_SERIAL]!);
    }
    return x;
  }

  /** The engine is done with `e`, from decodeForEngine: a scanned report lets its batch go (later reads of its lazy fields throw). */
  release(e: FgEvent): void {
    if (e instanceof ScannedReport) e.release();
  }

  /** Slots of all string and list caches, and how many hold a value: the caches never grow past their slots. */
  cacheStats(): { stringSlots: number; strings: number; listSlots: number; lists: number } {
    return {
      stringSlots: 2 * this.slots + this.neighbor.size,
      strings: this.device.held() + this.cell.held() + this.neighbor.held(),
      listSlots: this.slots,
      lists: this.cellIdLists.held(),
    };
  }
}

/**
 * A table of cell numbers, as a decodeForEngine report numbers its neighbours
 * (ScannedReport.neighborNos; the detection engine's CellNumbers).
 */
export interface NeighborCells {
  /** the number of the cell whose id is the bytes buf[s, s+n), or -1 when the table holds none */
  numberOfBytes(buf: Uint8Array, s: number, n: number): number;
  /** the id's number (a new one for an id not held) */
  no(id: string): number;
}

/**
 * A device's record as EventDecoder.decodeForEngine reads it (the detection engine's
 * DeviceRuntime): a report of the device that repeats what it sent last is given those
 * instances, compared by their characters.
 */
export interface DecodedDevice {
  readonly serial: string;
  /** the source address the device was last seen from, if any */
  readonly ipLast: string | undefined;
  /** the frozen cellIds list (from this decoder) the device announced last, if any */
  readonly announcedFrom: readonly string[] | undefined;
}

/**
 * Device records keyed by serial, as EventDecoder.decodeForEngine looks a report's serial up
 * from its bytes (the detection engine's registered devices).
 */
export interface DeviceRecords {
  /** the record of the serial whose characters are the bytes buf[s, s+n) (hashBytes hash h), or undefined when none is held */
  ofSerialBytes(buf: Uint8Array, s: number, n: number, h: number): DecodedDevice | undefined;
  /** touches (loads into the CPU cache) what ofSerialBytes with hash h will read; returns anything */
  warm(h: number): number;
}

/** A report from EventDecoder.decodeForEngine: what the engine does not read on every report is read from the bytes when asked. */
class ScannedReport implements FemtoReportEvent {
  readonly type = 'femto.report';
  /** the neighbour list, once asked for */
  private scan: string[] | undefined = undefined;
  /** the fix, once asked for (null: not yet) */
  private fix: GpsFix | undefined | null = null;

  constructor(
    private buf: Uint8Array | null,
    private rec: EventRecords | null,
    private readonly row: number,
    readonly t: number,
    readonly serial: string,
    /** the decoder's DeviceRecords' record of the serial, undefined when they hold none (or the decoder has none) */
    readonly device: DecodedDevice | undefined,
    /** the scanner's hash (hashBytes) of the serial's bytes: DeviceRecords' key */
    readonly serialHash: number,
    readonly sourceIp: string | undefined,
    readonly cellIds: string[] | undefined,
    /** the length in bytes of the `neighbors` list's text, -1 when the line has none */
    readonly neighborText: number,
  ) {}

  /** Lets the batch go (EventDecoder.release): what was not read by now can no longer be. */
  release(): void {
    this.buf = null;
    this.rec = null;
  }

  /** built from the scanned record at the first read (the engine hands the rules its numbers: see fixInto) */
  get gps(): GpsFix | undefined {
    if (this.fix !== null) return this.fix;
    this.bytes();
    const rec = this.rec as EventRecords;
    const b = this.row * REC_I32;
    return (this.fix = (rec.i32[b + 1]! & (1 << F_GPS)) === 0 ? undefined : gpsOf(rec.i32, rec.f64, b, this.row * REC_F64));
  }

  /**
   * Puts the fix's numbers into out, as RuleContext.gpsFix has them (1, lat, lon, accuracyM or
   * 0 when the fix has none; 0 first when the report has no fix), read from the scanned record:
   * no object per report.
   */
  fixInto(out: Float64Array): void {
    this.bytes();
    const rec = this.rec as EventRecords;
    const b = this.row * REC_I32;
    if ((rec.i32[b + 1]! & (1 << F_GPS)) === 0) {
      out[0] = 0;
      return;
    }
    const fb = this.row * REC_F64;
    out[0] = 1;
    out[1] = rec.f64[fb + D_LAT]!;
    out[2] = rec.f64[fb + D_LON]!;
    out[3] = hasAccuracy(rec.i32[b + 4 + 3 * F_GPS]!) ? rec.f64[fb + D_ACCURACY]! : 0;
  }

  /** built from the line's bytes at the first read (fresh strings: a rule reads it only into evidence) */
  get neighbors(): string[] | undefined {
    if (this.neighborText < 0) return undefined;
    if (this.scan !== undefined) return this.scan;
    const buf = this.bytes();
    const rec = this.rec as EventRecords;
    const b = this.row * REC_I32;
    return (this.scan = optNeighbors(null, buf, rec.i32, b, rec.i32[b + 1]!, F_NEIGHBORS));
  }

  /**
   * Puts the cell number of each neighbour, in order, into out (which has room for
   * neighborText / 3 + 1 of them) and returns how many; looked up in `cells` from the line's
   * bytes, so a string is made only for a cell the table does not hold.
   */
  neighborNos(cells: NeighborCells, out: Int32Array): number {
    const buf = this.bytes();
    const rec = this.rec as EventRecords;
    const i32 = rec.i32;
    const p = this.row * REC_I32 + 2 + 3 * F_NEIGHBORS;
    const e = i32[p]! + this.neighborText;
    let m = 0;
    for (let j = i32[p]! + 1; j < e; j++) {
      if (buf[j] !== 34) continue; // whitespace, commas, the closing bracket
      const es = j + 1;
      let k = es;
      while (buf[k] !== 34) k++;
      const no = cells.numberOfBytes(buf, es, k - es);
      out[m++] = no >= 0 ? no : cells.no(latin1(buf, es, k));
      j = k;
    }
    return m;
  }

  get ts(): string | number {
    const buf = this.bytes();
    const rec = this.rec as EventRecords;
    const i32 = rec.i32;
    const p = this.row * REC_I32 + 2 + 3 * F_TS;
    return i32[p + 2] === 1 ? latin1(buf, i32[p]!, i32[p]! + i32[p + 1]!) : rec.f64[this.row * REC_F64 + D_TS]!;
  }

  get id(): string | undefined {
    const buf = this.bytes();
    const rec = this.rec as EventRecords;
    return recordId(buf, rec, this.row);
  }

  get swVersion(): string | undefined {
    return this.field(F_SW_VERSION);
  }

  get configHash(): string | undefined {
    return this.field(F_CONFIG_HASH);
  }

  private field(f: number): string | undefined {
    const buf = this.bytes();
    const rec = this.rec as EventRecords;
    const b = this.row * REC_I32;
    return optStr(null, buf, rec.i32, b, rec.i32[b + 1]!, f);
  }

  /** The batch's bytes (`rec` is released with them); after `release`, an error rather than whatever a reused batch holds there. */
  private bytes(): Uint8Array {
    if (this.buf === null) throw new Error('a scanned report was read after its batch was handed back (EventDecoder.decodeForEngine: the engine must not keep events)');
    return this.buf;
  }
}

/**
 * Entries of the neighbour cache: a scan names the same few cells over and over (1,007 distinct
 * ids in 2.7 million elements of the benchmark's first million lines), and a table this small
 * stays in the CPU cache, where probing it costs less than creating the string.
 */
const NEIGHBOR_BITS = 12;
