/**
 * Event timestamps (FORMATS.md §1): RFC 3339 with an offset, or integer epoch milliseconds.
 */

// RFC 3339 §5.6 date-time; the offset is required (a time without one means nothing).
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|([+-])(\d{2}):(\d{2}))$/;

/** Epoch milliseconds of an event `ts`, or null when it is not a valid timestamp. */
export function parseEventTime(v: unknown): number | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : null;
  if (typeof v !== 'string') return null;
  const m = RFC3339.exec(v);
  if (m === null) return null;
  const [y, mo, d, h, mi, s] = [1, 2, 3, 4, 5, 6].map((k) => Number(m[k]));
  if (h === undefined || mi === undefined || s === undefined || y === undefined || mo === undefined || d === undefined) return null;
  // RFC 3339 §5.7: hour 0-23, minute 0-59, second 0-60 (a leap second counts as :59).
  if (h > 23 || mi > 59 || s > 60) return null;
  const day = new Date(Date.UTC(y, mo - 1, d));
  if (day.getUTCFullYear() !== y || day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d) return null;
  let offsetMin = 0;
  if (m[9] !== undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return null;
    offsetMin = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const frac = m[7] === undefined ? 0 : Math.floor(Number(`0${m[7]}`) * 1000);
  return day.getTime() + ((h * 60 + mi) * 60 + Math.min(s, 59)) * 1000 + frac - offsetMin * 60_000;
}

/** RFC 3339 UTC text of epoch milliseconds. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** The date part of {@link isoTime}, for short notes. */
export function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export const DAY_MS = 86_400_000;
