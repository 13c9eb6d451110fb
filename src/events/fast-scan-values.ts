/**
 * Values read straight from an event line's bytes for the scanner (fast-scan.ts): JSON numbers
 * and the two common RFC 3339 forms, each answering exactly what JSON.parse and parseEventTime
 * would (or declining, and the caller takes the ordinary path), and ASCII text as a string.
 */

/** parseEventTime's accepted range: 2000-01-01 .. 2100-01-01. */
const MIN_MS = 946_684_800_000;
const MAX_MS = 4_102_444_800_000;

/** Exact powers of ten (10^22 is the largest exactly representable one). */
const POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));

type Latin1Slice = (this: Uint8Array, start: number, end: number) => string;
/** Node's native latin1 decoder works on any Uint8Array; the fast path only admits bytes 0x20–0x7E, where latin1 is UTF-8. */
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice: Latin1Slice }).latin1Slice;
export function latin1(buf: Uint8Array, start: number, end: number): string {
  return latin1Slice.call(buf, start, end);
}

/** Result slot of scanNumber (a second return value without allocating). */
export let scannedNumber = 0;

/**
 * A number per the JSON grammar (RFC 8259 §6) into `scannedNumber`; returns the index after it,
 * or -1. Up to 15 significant digits without an exponent are computed as m / 10^k, which is
 * exact to the correctly rounded result (m < 2^53 and 10^k exact, and IEEE division rounds
 * correctly); anything else goes through Number() on the exact text, as JSON.parse would.
 */
export function scanNumber(buf: Uint8Array, i: number, end: number): number {
  const s = i;
  const negative = i < end && buf[i] === 45;
  if (negative) i++;
  if (i >= end) return -1;
  let c = buf[i]!;
  let m = 0;
  let digits = 0;
  if (c === 48) {
    i++;
    digits = 1;
    if (i < end && buf[i]! >= 48 && buf[i]! <= 57) return -1; // leading zero
  } else if (c >= 49 && c <= 57) {
    while (i < end && (c = buf[i]!) >= 48 && c <= 57) {
      m = m * 10 + (c - 48);
      digits++;
      i++;
    }
  } else return -1;
  let fraction = 0;
  if (i < end && buf[i] === 46 /* . */) {
    i++;
    while (i < end && (c = buf[i]!) >= 48 && c <= 57) {
      m = m * 10 + (c - 48);
      fraction++;
      i++;
    }
    if (fraction === 0) return -1;
  }
  let exponent = false;
  if (i < end && (buf[i] === 101 || buf[i] === 69)) {
    exponent = true;
    i++;
    if (i < end && (buf[i] === 43 || buf[i] === 45)) i++;
    const es = i;
    while (i < end && (c = buf[i]!) >= 48 && c <= 57) i++;
    if (i === es) return -1;
  }
  if (exponent || digits + fraction > 15) scannedNumber = Number(latin1(buf, s, i));
  else {
    const v = fraction === 0 ? m : m / POW10[fraction]!;
    scannedNumber = negative ? -v : v; // -0 stays -0, as in JSON.parse
  }
  return i;
}

function digitAt(buf: Uint8Array, k: number): number {
  const c = buf[k]! - 48;
  return c >= 0 && c <= 9 ? c : -1e6;
}

/**
 * The date part of the last time canonicalTime read (its eight digits packed in two numbers) and
 * its Date.UTC: a stream's times share their date with the one before nearly always, and then the
 * date needs neither its checks again nor the Date.UTC call (a builtin: most of the time's cost).
 * A pure cache of one answer, valid for every caller.
 */
let haveDate = false;
let lastDateLo = 0;
let lastDateMid = 0;
let lastDayMs = 0;

/**
 * timestamp.ts `canonical` read from the bytes (no string): `2025-08-05T02:14:09.123Z` and
 * `2025-08-05T11:14:09.123+09:00`. Same checks, same arithmetic, so it answers exactly what
 * parseEventTime would; -1 leaves the decision to parseEventTime on the string. (Date.UTC of the
 * date, plus the time of day in ms, is Date.UTC of both: integers, exact in a double.)
 */
export function canonicalTime(buf: Uint8Array, s: number, n: number): number {
  if (n !== 24 && n !== 29) return -1;
  if (buf[s + 4] !== 45 || buf[s + 7] !== 45 || buf[s + 10] !== 84 || buf[s + 13] !== 58 || buf[s + 16] !== 58 || buf[s + 19] !== 46) return -1;
  const lo = buf[s]! | (buf[s + 1]! << 8) | (buf[s + 2]! << 16) | (buf[s + 3]! << 24);
  const mid = buf[s + 5]! | (buf[s + 6]! << 8) | (buf[s + 8]! << 16) | (buf[s + 9]! << 24);
  let dayMs: number;
  if (haveDate && lo === lastDateLo && mid === lastDateMid) dayMs = lastDayMs;
  else {
    const year = digitAt(buf, s) * 1000 + digitAt(buf, s + 1) * 100 + digitAt(buf, s + 2) * 10 + digitAt(buf, s + 3);
    const month = digitAt(buf, s + 5) * 10 + digitAt(buf, s + 6);
    const day = digitAt(buf, s + 8) * 10 + digitAt(buf, s + 9);
    if (year < 2000 || year > 2099 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return -1;
    dayMs = Date.UTC(year, month - 1, day);
    lastDateLo = lo;
    lastDateMid = mid;
    haveDate = true;
    lastDayMs = dayMs;
  }
  const hour = digitAt(buf, s + 11) * 10 + digitAt(buf, s + 12);
  const minute = digitAt(buf, s + 14) * 10 + digitAt(buf, s + 15);
  const second = digitAt(buf, s + 17) * 10 + digitAt(buf, s + 18);
  const ms = digitAt(buf, s + 20) * 100 + digitAt(buf, s + 21) * 10 + digitAt(buf, s + 22);
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 || ms < 0) return -1;
  let offset = 0;
  if (n === 24) {
    if (buf[s + 23] !== 90 /* Z */) return -1;
  } else {
    const sign = buf[s + 23];
    if ((sign !== 43 && sign !== 45) || buf[s + 26] !== 58) return -1;
    const oh = digitAt(buf, s + 24) * 10 + digitAt(buf, s + 25);
    const om = digitAt(buf, s + 27) * 10 + digitAt(buf, s + 28);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return -1;
    offset = (sign === 43 ? -1 : 1) * (oh * 60 + om) * 60_000; // RFC 3339 §4.2: UTC = local - offset
  }
  const t = dayMs + (hour * 3_600_000 + minute * 60_000 + second * 1000 + ms) + offset;
  return t >= MIN_MS && t < MAX_MS ? t : -1;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}
