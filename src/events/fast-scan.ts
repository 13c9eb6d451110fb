/**
 * Byte-level fast path for the event contract (FORMATS.md §1).
 *
 * `JSON.parse` + `validateEvent` cost about a fifth of `femtoguard detect`, and every field
 * comes out as a fresh string, so the engine's Map lookups hash fresh strings. `scanEvent`
 * reads the common, well-formed shapes of the five high-volume types straight from the bytes
 * into typed-array records (offsets, lengths, hashes, numbers; never strings), and
 * `EventDecoder` (fast-decode.ts) turns a record into the same event
 * `validateEvent(JSON.parse(line))` gives, with the strings that repeat interned in bounded
 * direct-mapped caches. The records can cross threads as plain buffers (femtoguard detect).
 *
 * The scanner accepts a strict subset of what the slow path accepts: anything unusual (escapes,
 * non-ASCII, `null` or `""` (an absent optional field, or a refused required one), unknown or
 * duplicate keys, `registry.update`, ...) returns false and the
 * caller takes the slow path, which also writes the error messages. fast-scan.test.ts checks
 * this differentially against the slow path on real, generated and fuzzed lines.
 */
import { canonicalTime, latin1, scanNumber, scannedNumber } from './fast-scan-values.js';
import { parseEventTime } from './timestamp.js';
import {
  D_ACCURACY,
  D_AMOUNT,
  D_LAT,
  D_LON,
  D_T,
  D_TS,
  type EventRecords,
  FIELD_COUNT,
  F_AMOUNT_MINOR,
  F_CELL_ID,
  F_CELL_IDS,
  F_CERT_FINGERPRINT,
  F_CONFIG_HASH,
  F_CURRENCY,
  F_ENDPOINT,
  F_GPS,
  F_ID,
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
  F_TYPE,
  REC_F64,
  REC_I32,
  T_ATTACH,
  T_IMS,
  T_PAYMENT,
  T_REPORT,
  T_SESSION,
} from './fast-records.js';

export * from './fast-records.js';

const bit = (f: number): number => 1 << f;
const BASE = bit(F_TYPE) | bit(F_TS) | bit(F_ID);
/** Keys each type may carry (FORMATS.md §1 tables) and the ones it must; indexed by type code. */
const ALLOWED = [
  0,
  BASE | bit(F_SERIAL) | bit(F_SOURCE_IP) | bit(F_CELL_IDS) | bit(F_GPS) | bit(F_NEIGHBORS) | bit(F_SW_VERSION) | bit(F_CONFIG_HASH),
  BASE | bit(F_SERIAL) | bit(F_PHASE) | bit(F_SOURCE_IP) | bit(F_CERT_FINGERPRINT) | bit(F_CELL_IDS) | bit(F_ENDPOINT) | bit(F_SESSION_ID),
  BASE | bit(F_CELL_ID) | bit(F_IMSI) | bit(F_IMEI) | bit(F_MSISDN),
  BASE | bit(F_IMSI) | bit(F_IPSEC) | bit(F_CELL_ID) | bit(F_MSISDN),
  BASE | bit(F_TX_ID) | bit(F_MSISDN) | bit(F_AMOUNT_MINOR) | bit(F_CURRENCY) | bit(F_METHOD) | bit(F_MERCHANT),
];
/**
 * Fields whose third slot holds the hashBytes hash of their text: those EventDecoder interns
 * (fast-decode.ts). The decoder creates the others fresh and never reads their hash, so it is
 * not computed (hashing the neighbour lists and subscriber ids was a tenth of the scanner).
 */
const HASHED = bit(F_SERIAL) | bit(F_SOURCE_IP) | bit(F_CELL_IDS) | bit(F_SW_VERSION) | bit(F_CONFIG_HASH) | bit(F_ENDPOINT) | bit(F_CELL_ID);
const REQ = bit(F_TYPE) | bit(F_TS);
const REQUIRED = [
  -1,
  REQ | bit(F_SERIAL),
  REQ | bit(F_SERIAL) | bit(F_PHASE) | bit(F_SOURCE_IP),
  REQ | bit(F_CELL_ID) | bit(F_IMSI),
  REQ | bit(F_IMSI) | bit(F_IPSEC),
  REQ | bit(F_TX_ID) | bit(F_MSISDN) | bit(F_AMOUNT_MINOR) | bit(F_CURRENCY),
];

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
/** Type names by code; the fast path does not take `registry.update` (rare, and null-valued fields). */
const TYPE_NAMES = [ascii(''), ascii('femto.report'), ascii('femto.session'), ascii('ue.attach'), ascii('ims.register'), ascii('payment.auth')];

interface Key {
  bytes: Uint8Array;
  field: number;
}
/** Each field's key, by field id. */
const KEY_BYTES: Uint8Array[] = [];
/**
 * The field whose key came after field f's in the last line that had f (index FIELD_COUNT: the
 * first key), or -1: lines of one type write their keys in one order, so the next key is
 * compared with its likely name first. Only a hint: what matches is exactly what keyField finds.
 */
const NEXT_KEY = new Int8Array(FIELD_COUNT + 1).fill(-1);
/** Known keys grouped by length: a key is found by its length, then a byte compare. */
const KEYS_BY_LENGTH: Key[][] = (() => {
  const names: [string, number][] = [
    ['type', F_TYPE], ['ts', F_TS], ['id', F_ID], ['serial', F_SERIAL], ['sourceIp', F_SOURCE_IP], ['cellIds', F_CELL_IDS],
    ['gps', F_GPS], ['neighbors', F_NEIGHBORS], ['swVersion', F_SW_VERSION], ['configHash', F_CONFIG_HASH], ['phase', F_PHASE],
    ['certFingerprint', F_CERT_FINGERPRINT], ['endpoint', F_ENDPOINT], ['sessionId', F_SESSION_ID], ['cellId', F_CELL_ID],
    ['imsi', F_IMSI], ['imei', F_IMEI], ['msisdn', F_MSISDN], ['ipsec', F_IPSEC], ['txId', F_TX_ID],
    ['amountMinor', F_AMOUNT_MINOR], ['currency', F_CURRENCY], ['method', F_METHOD], ['merchant', F_MERCHANT],
  ];
  const table: Key[][] = [];
  for (let n = 0; n <= 15; n++) table.push([]);
  for (const [name, field] of names) {
    table[name.length]!.push({ bytes: ascii(name), field });
    KEY_BYTES[field] = ascii(name);
  }
  return table;
})();
const GPS_LAT = 1;
const GPS_LON = 2;
const GPS_ACCURACY = 4;

/** validate.ts limits: ids at most 256 characters, lists at most 1024 entries. */
const MAX_ID = 256;
const MAX_LIST = 1024;
const FNV_BASIS = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;
/**
 * Scans the line buf[start, end) (no '\n'; caller already removed one trailing '\r' and skipped
 * blank lines). Returns true and fills record `row` when the line is an event the fast path
 * understands AND `validateEvent(JSON.parse(line))` would accept it; returns false for anything
 * else (the caller then takes the slow path, which produces the error messages). Never throws.
 */
export function scanEvent(buf: Uint8Array, start: number, end: number, rec: EventRecords, row: number): boolean {
  if (!(start >= 0 && start <= end && end <= buf.length && row >= 0 && (row + 1) * REC_I32 <= rec.i32.length && (row + 1) * REC_F64 <= rec.f64.length)) return false;
  try {
    return scanObject(buf, start | 0, end | 0, rec.i32, rec.f64, (row | 0) * REC_I32, (row | 0) * REC_F64);
  } catch {
    // Unreachable by construction (every read is bounds-checked); the slow path will decide.
    return false;
  }
}

function skipWs(buf: Uint8Array, i: number, end: number): number {
  while (i < end) {
    const c = buf[i]!;
    if (c !== 32 && c !== 9 && c !== 13 && c !== 10) break;
    i++;
  }
  return i;
}

function scanObject(buf: Uint8Array, start: number, end: number, i32: Int32Array, f64: Float64Array, b: number, fb: number): boolean {
  let i = skipWs(buf, start, end);
  if (i >= end || buf[i] !== 123 /* { */) return false;
  i = skipWs(buf, i + 1, end);
  i32[b] = 0;
  let mask = 0;
  let prev = FIELD_COUNT;
  for (;;) {
    if (i >= end || buf[i] !== 34) return false;
    const ks = i + 1;
    let j: number;
    let f = NEXT_KEY[prev]!;
    const guess = f < 0 ? undefined : KEY_BYTES[f];
    if (guess !== undefined && ks + guess.length < end && buf[ks + guess.length] === 34 && sameBytes(buf, ks, guess)) j = ks + guess.length;
    else {
      j = ks;
      while (j < end && buf[j] !== 34) j++;
      if (j >= end) return false;
      f = keyField(buf, ks, j - ks);
      if (f >= 0) NEXT_KEY[prev] = f;
    }
    prev = f;
    if (f < 0 || (mask & (1 << f)) !== 0) return false; // unknown or duplicate key
    mask |= 1 << f;
    i = skipWs(buf, j + 1, end);
    if (i >= end || buf[i] !== 58 /* : */) return false;
    i = scanValue(buf, skipWs(buf, i + 1, end), end, f, i32, f64, b, fb);
    if (i < 0) return false;
    i = skipWs(buf, i, end);
    if (i >= end) return false;
    const c = buf[i]!;
    if (c === 44 /* , */) {
      i = skipWs(buf, i + 1, end);
      continue;
    }
    if (c !== 125 /* } */) return false;
    break;
  }
  if (skipWs(buf, i + 1, end) !== end) return false; // only whitespace after the object
  const type = i32[b]!;
  if ((mask & ~ALLOWED[type]!) !== 0) return false;
  const required = REQUIRED[type]!;
  if ((mask & required) !== required) return false;
  i32[b + 1] = mask;
  return true;
}

/** Whether buf[s, s + name.length) holds the bytes of `name`. */
function sameBytes(buf: Uint8Array, s: number, name: Uint8Array): boolean {
  for (let x = 0; x < name.length; x++) if (buf[s + x] !== name[x]) return false;
  return true;
}

/** Field id of the key buf[s, s+n), or -1. Keys with escapes or odd bytes never match. */
function keyField(buf: Uint8Array, s: number, n: number): number {
  if (n > 15) return -1;
  const candidates = KEYS_BY_LENGTH[n]!;
  outer: for (let k = 0; k < candidates.length; k++) {
    const key = candidates[k]!;
    const bytes = key.bytes;
    for (let x = 0; x < n; x++) if (buf[s + x] !== bytes[x]) continue outer;
    return key.field;
  }
  return -1;
}

/** Scans the value of field `f` at `i` into the record; returns the index after it, or -1. */
function scanValue(buf: Uint8Array, i: number, end: number, f: number, i32: Int32Array, f64: Float64Array, b: number, fb: number): number {
  const p = b + 2 + 3 * f;
  switch (f) {
    case F_TS:
      return scanTs(buf, i, end, i32, f64, p, fb);
    case F_CELL_IDS:
    case F_NEIGHBORS:
      return scanList(buf, i, end, i32, p, f === F_CELL_IDS);
    case F_GPS:
      return scanGps(buf, i, end, i32, f64, p, fb);
    case F_IPSEC:
      return scanBoolean(buf, i, end, i32, p);
    case F_AMOUNT_MINOR: {
      const j = scanNumber(buf, i, end);
      if (j < 0 || !Number.isSafeInteger(scannedNumber)) return -1;
      f64[fb + D_AMOUNT] = scannedNumber;
      return j;
    }
  }
  const j = scanString(buf, i, end, i32, p);
  if (j < 0) return -1;
  const s = i32[p]!;
  const n = i32[p + 1]!;
  switch (f) {
    case F_TYPE:
      return (i32[b] = typeCode(buf, s, n)) === 0 ? -1 : j;
    case F_PHASE: // "up" or "down"
      return (n === 2 && buf[s] === 117 && buf[s + 1] === 112) || (n === 4 && buf[s] === 100 && buf[s + 1] === 111 && buf[s + 2] === 119 && buf[s + 3] === 110) ? j : -1;
    case F_IMSI: // /^\d{5,15}$/
      if (n < 5 || n > 15) return -1;
      for (let x = s; x < s + n; x++) if (buf[x]! < 48 || buf[x]! > 57) return -1;
      break;
    case F_CURRENCY: // /^[A-Z]{3}$/
      if (n !== 3) return -1;
      for (let x = s; x < s + 3; x++) if (buf[x]! < 65 || buf[x]! > 90) return -1;
      break;
    default: // validate.ts isStr. "" is declined, not refused: validate.ts reads it as absent in an optional field.
      if (n < 1 || n > MAX_ID) return -1;
  }
  if ((HASHED & (1 << f)) !== 0) i32[p + 2] = hashBytes(buf, s, s + n);
  return j;
}

function typeCode(buf: Uint8Array, s: number, n: number): number {
  // One candidate by length and first byte, then its bytes.
  let code: number;
  if (n === 12) code = buf[s] === 102 /* f */ ? T_REPORT : buf[s] === 105 /* i */ ? T_IMS : T_PAYMENT;
  else if (n === 13) code = T_SESSION;
  else if (n === 9) code = T_ATTACH;
  else return 0;
  const name = TYPE_NAMES[code]!;
  for (let x = 0; x < n; x++) if (buf[s + x] !== name[x]) return 0;
  return code;
}

/**
 * A string of printable ASCII without escapes: stores (start, length) at i32[p..p+1] and returns
 * the index after the closing quote, or -1. The caller hashes the fields that are interned.
 */
function scanString(buf: Uint8Array, i: number, end: number, i32: Int32Array, p: number): number {
  if (i >= end || buf[i] !== 34) return -1;
  const s = i + 1;
  const j = plainStringEnd(buf, s, end);
  if (j < 0) return -1;
  i32[p] = s;
  i32[p + 1] = j - s;
  return j + 1;
}

/**
 * Index of the closing quote of a string whose characters start at `s`, or -1 when it has an
 * escape, a control or non-ASCII byte, or no end before `end` (the slow path decides those).
 */
function plainStringEnd(buf: Uint8Array, s: number, end: number): number {
  let j = s;
  while (j < end && STRING_BYTE[buf[j]!] === 0) j++;
  return j < end && buf[j] === 34 ? j : -1;
}

/** Per byte value: 0 for a character a plain string may hold (printable ASCII but `"` and `\`), else 1. */
const STRING_BYTE = (() => {
  const t = new Uint8Array(256).fill(1);
  for (let c = 32; c <= 126; c++) if (c !== 34 && c !== 92) t[c] = 0;
  return t;
})();

/**
 * The interning key of buf[s, e): a word-at-a-time multiplicative hash (a quarter of the dependent
 * multiplies of byte-at-a-time FNV). Same bytes, same hash, wherever they sit in the buffer.
 */
export function hashBytes(buf: Uint8Array, s: number, e: number): number {
  let h = FNV_BASIS ^ (e - s);
  let x = s;
  for (; x + 4 <= e; x += 4) {
    h = Math.imul(h ^ (buf[x]! | (buf[x + 1]! << 8) | (buf[x + 2]! << 16) | (buf[x + 3]! << 24)), 0x9e3779b1);
    h ^= h >>> 15;
  }
  for (; x < e; x++) h = Math.imul(h ^ buf[x]!, FNV_PRIME);
  return h;
}

/** Spreads a hashBytes hash over all bits (its low bits alone cluster): mask the result to pick a table slot. */
export function spreadHash(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return h;
}

/** A string array (validate.ts isStrList); the hash (when `hashed`) covers its whole text. */
function scanList(buf: Uint8Array, i: number, end: number, i32: Int32Array, p: number, hashed: boolean): number {
  if (i >= end || buf[i] !== 91 /* [ */) return -1;
  const s = i;
  let j = skipWs(buf, i + 1, end);
  if (j < end && buf[j] === 93 /* ] */) j++;
  else {
    let count = 0;
    for (;;) {
      if (j >= end || buf[j] !== 34) return -1;
      const es = j + 1;
      const k = plainStringEnd(buf, es, end);
      if (k < 0 || k === es || k - es > MAX_ID || ++count > MAX_LIST) return -1;
      j = skipWs(buf, k + 1, end);
      if (j >= end) return -1;
      const c = buf[j]!;
      if (c === 44) {
        j = skipWs(buf, j + 1, end);
        continue;
      }
      if (c !== 93) return -1;
      j++;
      break;
    }
  }
  i32[p] = s;
  i32[p + 1] = j - s;
  if (hashed) i32[p + 2] = hashBytes(buf, s, j);
  return j;
}

/** `{ "lat": n, "lon": n, "accuracyM"?: n }` in any order (validate.ts isGps); i32[p] = 1 when accuracyM is present, i32[p+2] the key order. */
function scanGps(buf: Uint8Array, i: number, end: number, i32: Int32Array, f64: Float64Array, p: number, fb: number): number {
  if (i >= end || buf[i] !== 123) return -1;
  let seen = 0;
  /** the keys in the order written, base 4 (1 lat, 2 lon, 3 accuracyM): the decoded object keeps it */
  let order = 0;
  i = skipWs(buf, i + 1, end);
  for (;;) {
    if (i >= end || buf[i] !== 34) return -1;
    const ks = i + 1;
    let j = ks;
    while (j < end && buf[j] !== 34) j++;
    if (j >= end) return -1;
    const key = gpsKey(buf, ks, j - ks);
    if (key === 0 || (seen & key) !== 0) return -1;
    seen |= key;
    order = order * 4 + (key === GPS_LAT ? 1 : key === GPS_LON ? 2 : 3);
    i = skipWs(buf, j + 1, end);
    if (i >= end || buf[i] !== 58) return -1;
    i = scanNumber(buf, skipWs(buf, i + 1, end), end);
    if (i < 0) return -1;
    f64[fb + (key === GPS_LAT ? D_LAT : key === GPS_LON ? D_LON : D_ACCURACY)] = scannedNumber;
    i = skipWs(buf, i, end);
    if (i >= end) return -1;
    const c = buf[i]!;
    if (c === 44) {
      i = skipWs(buf, i + 1, end);
      continue;
    }
    if (c !== 125) return -1;
    break;
  }
  if ((seen & (GPS_LAT | GPS_LON)) !== (GPS_LAT | GPS_LON)) return -1;
  const lat = f64[fb + D_LAT]!;
  const lon = f64[fb + D_LON]!;
  if (!(lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180)) return -1; // also rejects NaN; ±Infinity is out of range
  const hasAccuracy = (seen & GPS_ACCURACY) !== 0;
  if (hasAccuracy) {
    const a = f64[fb + D_ACCURACY]!;
    if (!(a >= 0 && a < Infinity)) return -1;
  }
  i32[p] = hasAccuracy ? 1 : 0;
  i32[p + 2] = order;
  return i + 1;
}

function gpsKey(buf: Uint8Array, s: number, n: number): number {
  if (n === 3 && buf[s] === 108 /* l */) {
    if (buf[s + 1] === 97 && buf[s + 2] === 116) return GPS_LAT;
    if (buf[s + 1] === 111 && buf[s + 2] === 110) return GPS_LON;
    return 0;
  }
  if (n === 9) {
    const name = GPS_ACCURACY_KEY;
    for (let x = 0; x < 9; x++) if (buf[s + x] !== name[x]) return 0;
    return GPS_ACCURACY;
  }
  return 0;
}
const GPS_ACCURACY_KEY = ascii('accuracyM');

function scanBoolean(buf: Uint8Array, i: number, end: number, i32: Int32Array, p: number): number {
  if (i + 4 <= end && buf[i] === 116 && buf[i + 1] === 114 && buf[i + 2] === 117 && buf[i + 3] === 101) {
    i32[p] = 1;
    return i + 4;
  }
  if (i + 5 <= end && buf[i] === 102 && buf[i + 1] === 97 && buf[i + 2] === 108 && buf[i + 3] === 115 && buf[i + 4] === 101) {
    i32[p] = 0;
    return i + 5;
  }
  return -1;
}

/** `ts`: a string (timestamp.ts rules) or an integer number of epoch ms; sets t. i32[p+2] = 1 for a string. */
function scanTs(buf: Uint8Array, i: number, end: number, i32: Int32Array, f64: Float64Array, p: number, fb: number): number {
  if (i < end && buf[i] === 34) {
    const j = scanString(buf, i, end, i32, p);
    if (j < 0) return -1;
    const s = i32[p]!;
    const n = i32[p + 1]!;
    let t = canonicalTime(buf, s, n);
    if (t < 0) t = parseEventTime(latin1(buf, s, s + n));
    if (Number.isNaN(t)) return -1;
    i32[p + 2] = 1;
    f64[fb + D_T] = t;
    return j;
  }
  const j = scanNumber(buf, i, end);
  if (j < 0) return -1;
  const t = parseEventTime(scannedNumber);
  if (Number.isNaN(t)) return -1;
  i32[p + 2] = 0;
  f64[fb + D_TS] = scannedNumber;
  f64[fb + D_T] = t;
  return j;
}
