/**
 * The scanner's record layout (fast-scan.ts writes records, fast-decode.ts and
 * fast-decode-subscriber.ts read them, the replay reader copies them between batches): field
 * ids, the Int32 and Float64 slots of a row, type codes, and the accessors that read a row
 * without decoding it. Split from fast-scan.ts.
 */
// Field ids: one bit each in the record's presence mask, three Int32 slots each
// (start, length, hash; the hash only for the fields in HASHED). Every key means the same
// thing in all five fast-path types.
export const F_TYPE = 0;
export const F_TS = 1;
export const F_ID = 2;
export const F_SERIAL = 3;
export const F_SOURCE_IP = 4;
export const F_CELL_IDS = 5;
export const F_GPS = 6;
export const F_NEIGHBORS = 7;
export const F_SW_VERSION = 8;
export const F_CONFIG_HASH = 9;
export const F_PHASE = 10;
export const F_CERT_FINGERPRINT = 11;
export const F_ENDPOINT = 12;
export const F_SESSION_ID = 13;
export const F_CELL_ID = 14;
export const F_IMSI = 15;
export const F_IMEI = 16;
export const F_MSISDN = 17;
export const F_IPSEC = 18;
export const F_TX_ID = 19;
export const F_AMOUNT_MINOR = 20;
export const F_CURRENCY = 21;
export const F_METHOD = 22;
export const F_MERCHANT = 23;
export const FIELD_COUNT = 24;

/** Int32 layout: [type code, presence mask, then (start, length, hash) per field]. */
export const REC_I32 = 2 + 3 * FIELD_COUNT;
/** Float64 layout: [t, numeric ts, amountMinor, lat, lon, accuracyM]. */
export const REC_F64 = 6;
export const D_T = 0;
export const D_TS = 1;
export const D_AMOUNT = 2;
export const D_LAT = 3;
export const D_LON = 4;
export const D_ACCURACY = 5;

export interface EventRecords {
  i32: Int32Array;
  f64: Float64Array;
}

/** Allocates room for `rows` records. */
export function createRecords(rows: number): EventRecords {
  if (!Number.isSafeInteger(rows) || rows < 0) throw new RangeError(`createRecords: rows must be a non-negative integer, got ${rows}`);
  return { i32: new Int32Array(rows * REC_I32), f64: new Float64Array(rows * REC_F64) };
}

/** The event time `t` (epoch ms, exactly what validateEvent sets) of a scanned record. */
export function recordTime(rec: EventRecords, row: number): number {
  return rec.f64[row * REC_F64 + D_T]!;
}

/** Byte offset of a scanned record's `id` (its characters: printable ASCII, no escapes), or -1 when the line has none. */
export function recordIdStart(rec: EventRecords, row: number): number {
  const b = row * REC_I32;
  return (rec.i32[b + 1]! & (1 << F_ID)) === 0 ? -1 : rec.i32[b + 2 + 3 * F_ID]!;
}

/** Length in bytes of a scanned record's `id` (meaningful when recordIdStart is not -1). */
export function recordIdLength(rec: EventRecords, row: number): number {
  return rec.i32[row * REC_I32 + 2 + 3 * F_ID + 1]!;
}

/**
 * Copies record `srcRow` of `src` to `dstRow` of `dst`, for when the line's bytes are copied too
 * (into another batch buffer): `shift` is the new offset of the line minus the old one, added to
 * every byte offset the record holds. Lengths, hashes and numbers are copied as they are. Only
 * the slots of the fields present are written: the other slots of the row of `dst` keep what they
 * held, which means nothing (a record's readers go by its presence mask, as for any record).
 */
export function copyRecord(src: EventRecords, srcRow: number, dst: EventRecords, dstRow: number, shift: number): void {
  const sb = srcRow * REC_I32;
  const db = dstRow * REC_I32;
  const si = src.i32;
  const di = dst.i32;
  const mask = si[sb + 1]!;
  di[db] = si[sb]!;
  di[db + 1] = mask;
  if (shift === 0) {
    // The line did not move (the replay reader's common case): every slot as it is.
    for (let m = mask; m !== 0; m &= m - 1) {
      const p = 2 + 3 * (31 - Math.clz32(m & -m));
      di[db + p] = si[sb + p]!;
      di[db + p + 1] = si[sb + p + 1]!;
      di[db + p + 2] = si[sb + p + 2]!;
    }
  } else {
    // Present fields only (lowest bit first): an absent field's slots mean nothing.
    for (let m = mask; m !== 0; m &= m - 1) {
      const f = 31 - Math.clz32(m & -m);
      const sp = sb + 2 + 3 * f;
      const dp = db + 2 + 3 * f;
      // Fields whose first slot is a byte offset move with the line.
      const moves = (OFFSET_FIELDS & (1 << f)) !== 0 && (f !== F_TS || si[sp + 2] === 1);
      di[dp] = moves ? si[sp]! + shift : si[sp]!;
      di[dp + 1] = si[sp + 1]!;
      di[dp + 2] = si[sp + 2]!;
    }
  }
  const sf = srcRow * REC_F64;
  const df = dstRow * REC_F64;
  for (let k = 0; k < REC_F64; k++) dst.f64[df + k] = src.f64[sf + k]!;
}

/**
 * The event type of a scanned record: 1 femto.report, 2 femto.session, 3 ue.attach,
 * 4 ims.register, 5 payment.auth (the fast path takes no other type).
 */
export function recordType(rec: EventRecords, row: number): number {
  return rec.i32[row * REC_I32]!;
}

// Type codes, stored in the record's first slot (recordType).
export const T_REPORT = 1;
export const T_SESSION = 2;
export const T_ATTACH = 3;
export const T_IMS = 4;
export const T_PAYMENT = 5;

/** Fields whose first slot is a byte offset into the line (ts only when it is a string); the others hold flags there. */
export const OFFSET_FIELDS = ~((1 << F_TYPE) | (1 << F_GPS) | (1 << F_IPSEC) | (1 << F_AMOUNT_MINOR));
