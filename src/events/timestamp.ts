/**
 * FORMATS.md §1 `ts`: RFC 3339 with an offset (`2025-08-05T02:14:09Z`,
 * `2025-08-05T11:14:09.123+09:00`) or integer epoch milliseconds. Returns epoch ms or NaN.
 */
const RFC3339 = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt ]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d{1,9})?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$/;

/** Smallest and largest accepted times: 2000-01-01 and 2100-01-01 (anything else is a unit mistake). */
const MIN_MS = 946_684_800_000;
const MAX_MS = 4_102_444_800_000;

export function parseEventTime(ts: unknown): number {
  if (typeof ts === 'number') {
    return Number.isInteger(ts) && ts >= MIN_MS && ts < MAX_MS ? ts : NaN;
  }
  if (typeof ts !== 'string' || ts.length < 20 || ts.length > 40 || !RFC3339.test(ts)) return NaN;
  // RFC 3339 §5.7: the day must exist in its month (Date.parse would roll 2025-02-31 into March).
  if (ts.charCodeAt(8) >= 50 /* '2' */ && Number(ts.slice(8, 10)) > daysInMonth(Number(ts.slice(0, 4)), Number(ts.slice(5, 7)))) return NaN;
  const ms = Date.parse(ts.length > 29 || ts.includes(' ') ? normalise(ts) : ts);
  return ms >= MIN_MS && ms < MAX_MS ? ms : NaN;
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
