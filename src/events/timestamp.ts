/**
 * FORMATS.md §1 `ts`: RFC 3339 with an offset (`2025-08-05T02:14:09Z`,
 * `2025-08-05T11:14:09.123+09:00`) or integer epoch milliseconds. Returns epoch ms or NaN.
 * RFC 3339 §5.6 `time-secfrac = "." 1*DIGIT`: any number of fraction digits; the time is kept
 * to the millisecond (the rest is truncated). Linear to match, so no length cap is needed.
 */
const RFC3339 = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt ]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$/;

/** Smallest and largest accepted times: 2000-01-01 and 2100-01-01 (anything else is a unit mistake). */
const MIN_MS = 946_684_800_000;
const MAX_MS = 4_102_444_800_000;

export function parseEventTime(ts: unknown): number {
  if (typeof ts === 'number') {
    return Number.isInteger(ts) && ts >= MIN_MS && ts < MAX_MS ? ts : NaN;
  }
  if (typeof ts !== 'string' || ts.length < 20) return NaN;
  const fast = canonical(ts);
  if (fast >= 0) return fast;
  if (!RFC3339.test(ts)) return NaN;
  // RFC 3339 §5.7: the day must exist in its month (Date.parse would roll 2025-02-31 into March).
  if (ts.charCodeAt(8) >= 50 /* '2' */ && Number(ts.slice(8, 10)) > daysInMonth(Number(ts.slice(0, 4)), Number(ts.slice(5, 7)))) return NaN;
  // RFC 3339 §5.7 allows second 60 (a leap second); JS time has none, so it is read as the
  // last millisecond of second 59: in order with its neighbours, never a minute later.
  if (ts.charCodeAt(17) === 54 /* '6' */) return leapSecond(ts);
  const ms = Date.parse(ts.length > 29 || ts.includes(' ') ? normalise(ts) : ts);
  return ms >= MIN_MS && ms < MAX_MS ? ms : NaN;
}

/** A time whose second is 60 (the regular expression allows no other 6x): second 59 and its last millisecond. */
function leapSecond(ts: string): number {
  const at59 = normalise(`${ts.slice(0, 17)}59${ts.slice(19)}`).replace(/\.\d+/, '');
  const ms = Date.parse(at59);
  return ms >= MIN_MS && ms < MAX_MS ? ms + 999 : NaN;
}

/** Value of the decimal digit at `i`, or a large negative number when it is not one. */
function digit(ts: string, i: number): number {
  const c = ts.charCodeAt(i) - 48;
  return c >= 0 && c <= 9 ? c : -1e6;
}

/**
 * The two forms gateways and the simulator write, `2025-08-05T02:14:09.123Z` and
 * `2025-08-05T11:14:09.123+09:00`, read from their characters (a third of all events carry
 * one; the regular expression and Date.parse were 2% of the replay). Returns -1 for anything
 * else, or anything out of range, and the general path decides: this one only answers when
 * the time is well-formed, the day exists, and the year is within 2000..2099, where Date.UTC
 * and Date.parse agree to the millisecond.
 */
function canonical(ts: string): number {
  const n = ts.length;
  if (n !== 24 && n !== 29) return -1;
  if (ts.charCodeAt(4) !== 45 || ts.charCodeAt(7) !== 45 || ts.charCodeAt(10) !== 84 || ts.charCodeAt(13) !== 58 || ts.charCodeAt(16) !== 58 || ts.charCodeAt(19) !== 46) return -1;
  const year = digit(ts, 0) * 1000 + digit(ts, 1) * 100 + digit(ts, 2) * 10 + digit(ts, 3);
  const month = digit(ts, 5) * 10 + digit(ts, 6);
  const day = digit(ts, 8) * 10 + digit(ts, 9);
  const hour = digit(ts, 11) * 10 + digit(ts, 12);
  const minute = digit(ts, 14) * 10 + digit(ts, 15);
  const second = digit(ts, 17) * 10 + digit(ts, 18);
  const ms = digit(ts, 20) * 100 + digit(ts, 21) * 10 + digit(ts, 22);
  if (year < 2000 || year > 2099 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 || ms < 0) return -1;
  let offset = 0;
  if (n === 24) {
    if (ts.charCodeAt(23) !== 90 /* Z */) return -1;
  } else {
    const sign = ts.charCodeAt(23);
    if ((sign !== 43 && sign !== 45) || ts.charCodeAt(26) !== 58) return -1;
    const oh = digit(ts, 24) * 10 + digit(ts, 25);
    const om = digit(ts, 27) * 10 + digit(ts, 28);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return -1;
    // RFC 3339 §4.2: local time = UTC + offset, so UTC = local - offset.
    offset = (sign === 43 ? -1 : 1) * (oh * 60 + om) * 60_000;
  }
  const t = Date.UTC(year, month - 1, day, hour, minute, second, ms) + offset;
  return t >= MIN_MS && t < MAX_MS ? t : -1;
}

/** RFC 3339 Appendix C: Gregorian leap years. */
function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Date.parse is strict about a space separator and more than 3 fraction digits. */
function normalise(ts: string): string {
  return ts.replace(' ', 'T').replace(/(\.\d{3})\d+/, '$1');
}

export function formatEventTime(ms: number): string {
  return new Date(ms).toISOString();
}
