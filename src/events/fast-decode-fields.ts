/**
 * Readers of a scanned record's fields, shared by EventDecoder and the reports it decodes for the
 * engine (fast-decode.ts). Split from fast-decode.ts.
 */
import type { GpsFix } from './types.js';
import { D_ACCURACY, D_LAT, D_LON, F_GPS, F_ID, F_SOURCE_IP, hashBytes, REC_I32, type EventRecords } from './fast-scan.js';
import { latin1 } from './fast-scan-values.js';
import type { ListCache, StringCache } from './intern-caches.js';
import type { DecodedDevice } from './fast-decode.js';

/** The `id` of a scanned record as a string (ids are unique: never interned), or undefined when the line has none. */
export function recordId(buf: Uint8Array, rec: EventRecords, row: number): string | undefined {
  const b = row * REC_I32;
  const i32 = rec.i32;
  if ((i32[b + 1]! & (1 << F_ID)) === 0) return undefined;
  const p = b + 2 + 3 * F_ID;
  return latin1(buf, i32[p]!, i32[p]! + i32[p + 1]!);
}

/**
 * A report's sourceIp: the device's last address when the bytes are its characters (the
 * common case: no string made, and the engine's comparisons with it meet the same instance),
 * else a fresh string. Not interned in a cache: see decodeForEngine.
 */
export function sourceIpOf(device: DecodedDevice | undefined, buf: Uint8Array, i32: Int32Array, b: number): string {
  const p = b + 2 + 3 * F_SOURCE_IP;
  const s = i32[p]!;
  const n = i32[p + 1]!;
  const last = device === undefined ? undefined : device.ipLast;
  if (last !== undefined && last.length === n) {
    // From the end: addresses of one network share their first characters.
    let x = n - 1;
    while (x >= 0 && last.charCodeAt(x) === buf[s + x]) x--;
    if (x < 0) return last;
  }
  return latin1(buf, s, s + n);
}

/**
 * Whether the scanned list text buf[s, e) names exactly the cells of `list`, in order. Reads
 * the list only within its length: intern-caches' sameList reads one past the end, and in
 * the profile its loads went through V8's generic keyed-load handler.
 */
export function sameCells(list: readonly string[], buf: Uint8Array, s: number, e: number): boolean {
  const count = list.length;
  let idx = 0;
  for (let j = s + 1; j < e; j++) {
    if (buf[j] !== 34) continue; // whitespace, commas, the closing bracket
    if (idx === count) return false;
    const id = list[idx++] as string;
    const n = id.length;
    const at = j + 1;
    // From the end: cell ids share their first characters (MCC-MNC and more).
    if (at + n >= e || buf[at + n] !== 34) return false;
    for (let x = n - 1; x >= 0; x--) if (id.charCodeAt(x) !== buf[at + x]) return false;
    j = at + n;
  }
  return idx === count;
}

/** lat, lon, accuracyM in the scanner's key-order code (fast-scan.ts scanGps) */
const LAT_LON = 1 * 4 + 2;
const LAT_LON_ACCURACY = LAT_LON * 4 + 3;

/** Whether a fix of scanGps's key-order code `order` has an accuracyM (a base-4 digit 3). */
export function hasAccuracy(order: number): boolean {
  if (order === LAT_LON_ACCURACY) return true;
  for (let o = order; o > 0; o = Math.floor(o / 4)) if (o % 4 === 3) return true;
  return false;
}

/**
 * The fix, its keys in the order the line wrote them (as JSON.parse keeps them: a rule's
 * evidence may carry the object, and the alert must read the same as the ordinary path's).
 */
export function gpsOf(i32: Int32Array, f64: Float64Array, b: number, fb: number): GpsFix {
  const order = i32[b + 4 + 3 * F_GPS]!;
  const lat = f64[fb + D_LAT]!;
  const lon = f64[fb + D_LON]!;
  if (order === LAT_LON_ACCURACY) return { lat, lon, accuracyM: f64[fb + D_ACCURACY]! };
  if (order === LAT_LON) return { lat, lon };
  // Any other order: built key by key (rare; one hidden class per order).
  const keys: (keyof GpsFix)[] = [];
  for (let o = order; o > 0; o = Math.floor(o / 4)) keys.unshift(o % 4 === 1 ? 'lat' : o % 4 === 2 ? 'lon' : 'accuracyM');
  const fix = {} as GpsFix;
  for (const k of keys) fix[k] = k === 'lat' ? lat : k === 'lon' ? lon : f64[fb + D_ACCURACY]!;
  return fix;
}

/** The string of a field: interned in `cache`, or created fresh when `cache` is null (values that rarely repeat). */
export function str(cache: StringCache | null, buf: Uint8Array, i32: Int32Array, b: number, f: number): string {
  const p = b + 2 + 3 * f;
  return cache === null ? latin1(buf, i32[p]!, i32[p]! + i32[p + 1]!) : cache.get(buf, i32[p]!, i32[p + 1]!, i32[p + 2]!);
}

export function optStr(cache: StringCache | null, buf: Uint8Array, i32: Int32Array, b: number, mask: number, f: number): string | undefined {
  return (mask & (1 << f)) === 0 ? undefined : str(cache, buf, i32, b, f);
}

export function optList(cache: ListCache, buf: Uint8Array, i32: Int32Array, b: number, mask: number, f: number): string[] | undefined {
  if ((mask & (1 << f)) === 0) return undefined;
  const p = b + 2 + 3 * f;
  // Frozen, shared instances: typed as string[] to match the event contract; nobody may mutate them.
  return cache.get(buf, i32[p]!, i32[p]! + i32[p + 1]!, i32[p + 2]!) as string[];
}

/**
 * A neighbour scan: a fresh array (scans rarely repeat as a whole: on the benchmark's stream
 * 229,000 of 545,000 were distinct, and a list cache missed 79% of them), its elements interned
 * in the neighbour cache, so no string is created per element and the engine's cell-number
 * lookups meet strings whose hash is computed already.
 */
export function optNeighbors(cells: StringCache | null, buf: Uint8Array, i32: Int32Array, b: number, mask: number, f: number): string[] | undefined {
  if ((mask & (1 << f)) === 0) return undefined;
  const p = b + 2 + 3 * f;
  const e = i32[p]! + i32[p + 1]!;
  const out: string[] = [];
  for (let j = i32[p]! + 1; j < e; j++) {
    if (buf[j] !== 34) continue; // whitespace, commas, the closing bracket
    const es = j + 1;
    let k = es;
    while (buf[k] !== 34) k++;
    out.push(cells === null ? latin1(buf, es, k) : cells.get(buf, es, k - es, hashBytes(buf, es, k)));
    j = k;
  }
  return out;
}
