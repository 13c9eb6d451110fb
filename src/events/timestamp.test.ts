import { describe, expect, it } from 'vitest';
import { formatEventTime, parseEventTime } from './timestamp.js';

const UTC = Date.UTC(2025, 7, 5, 2, 14, 9);

describe('parseEventTime (FORMATS.md §1 ts)', () => {
  const good: [string | number, number][] = [
    ['2025-08-05T02:14:09Z', UTC],
    ['2025-08-05T02:14:09z', UTC],
    ['2025-08-05t02:14:09Z', UTC],
    // RFC 3339 §5.6 NOTE: a space may separate date and time.
    ['2025-08-05 02:14:09Z', UTC],
    ['2025-08-05T11:14:09+09:00', UTC],
    ['2025-08-04T20:44:09-05:30', UTC],
    ['2025-08-05T02:14:09+00:00', UTC],
    ['2025-08-05T02:14:09-00:00', UTC],
    ['2025-08-05T02:14:09.1Z', UTC + 100],
    ['2025-08-05T11:14:09.123+09:00', UTC + 123],
    // More than 3 fraction digits: truncated to the millisecond (never rounded into the next one).
    ['2025-08-05T02:14:09.1239Z', UTC + 123],
    ['2025-08-05T02:14:09.999999Z', UTC + 999],
    ['2025-08-05T02:14:09.123456789Z', UTC + 123],
    ['2025-08-05T11:14:09.123456789+09:00', UTC + 123],
    ['2025-08-05 11:14:09.123456+09:00', UTC + 123],
    // RFC 3339 §5.6 time-secfrac is "." 1*DIGIT: any number of digits, still truncated to the millisecond.
    ['2025-08-05T02:14:09.1234567891Z', UTC + 123],
    ['2025-08-05T02:14:09.000000000000Z', UTC],
    ['2025-08-05T02:14:09.9999999999999999999999Z', UTC + 999],
    ['2025-08-05T11:14:09.12345678901234+09:00', UTC + 123],
    ['2025-08-05 02:14:09.0019999999999z', UTC + 1],
    [`2025-08-05T02:14:09.${'5'.repeat(5000)}Z`, UTC + 555],
    ['2016-12-31T23:59:60.1234567891Z', Date.UTC(2016, 11, 31, 23, 59, 59, 999)],
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
    ['2000-02-29T00:00:00Z', Date.UTC(2000, 1, 29)],
    ['2025-12-31T23:59:59.999Z', Date.UTC(2025, 11, 31, 23, 59, 59, 999)],
    // RFC 3339 §5.7: a leap second, read as the last millisecond of second 59 (fraction or not, any offset).
    ['2016-12-31T23:59:60Z', Date.UTC(2016, 11, 31, 23, 59, 59, 999)],
    ['2016-12-31T23:59:60.5Z', Date.UTC(2016, 11, 31, 23, 59, 59, 999)],
    ['2017-01-01T08:59:60+09:00', Date.UTC(2016, 11, 31, 23, 59, 59, 999)],
    // Integer epoch milliseconds.
    [UTC, UTC],
    [UTC + 123, UTC + 123],
    [946_684_800_000, 946_684_800_000],
  ];
  for (const [ts, ms] of good) {
    it(`ok/${JSON.stringify(ts)}`, () => {
      expect(parseEventTime(ts)).toBe(ms);
    });
  }

  const bad: [unknown, string][] = [
    ['2025-08-05T02:14:09', 'no offset'],
    ['2025-08-05T02:14', 'no seconds, no offset'],
    ['2025-08-05', 'a date alone'],
    ['2025-08-05T02:14:09+0900', 'offset without a colon'],
    ['2025-08-05T02:14:09+24:00', 'offset hour out of range'],
    ['2025-13-05T02:14:09Z', 'month 13'],
    ['2025-00-05T02:14:09Z', 'month 0'],
    ['2025-08-32T02:14:09Z', 'day 32'],
    ['2025-02-29T02:14:09Z', 'February 29 in a common year'],
    ['2025-02-31T02:14:09Z', 'February 31'],
    ['2025-04-31T02:14:09Z', 'April 31'],
    ['1900-02-29T00:00:00Z', 'February 29 in 1900 (not a leap year)'],
    ['2025-08-05T24:00:00Z', 'hour 24'],
    ['2025-08-05T02:60:09Z', 'minute 60'],
    ['2025-08-05T02:14:61Z', 'second 61'],
    ['2016-12-31T23:59:60', 'a leap second without an offset'],
    ['2025-08-05T02:14:09.Z', 'empty fraction'],
    ['2025-08-05T02:14:09.123456789', 'many fraction digits, no offset'],
    ['2025-08-05T02:14:09.12a4Z', 'a letter among the fraction digits'],
    ['2025-08-05T02:14:09,123Z', 'a comma before the fraction'],
    ['25-08-05T02:14:09Z', 'two-digit year'],
    [' 2025-08-05T02:14:09Z', 'leading space'],
    ['2025-08-05T02:14:09Z ', 'trailing space'],
    ['Tue, 05 Aug 2025 02:14:09 GMT', 'RFC 7231 date'],
    ['1999-12-31T23:59:59Z', 'before 2000 (a unit mistake)'],
    ['2100-01-01T00:00:00Z', 'from 2100 on'],
    [1_754_360_049, 'epoch seconds (too small for milliseconds)'],
    [1_754_360_049_000_000, 'epoch microseconds (too large)'],
    [UTC + 0.5, 'fractional milliseconds'],
    [-1, 'negative'],
    [Number.NaN, 'NaN'],
    ['1754360049000', 'epoch milliseconds as a string'],
    [null, 'null'],
    [true, 'a boolean'],
    [{ ts: UTC }, 'an object'],
  ];
  for (const [ts, why] of bad) {
    it(`fail/${why}`, () => {
      expect(parseEventTime(ts)).toBeNaN();
    });
  }

  it('ok/formatEventTime writes RFC 3339 UTC that parses back', () => {
    expect(formatEventTime(UTC + 7)).toBe('2025-08-05T02:14:09.007Z');
    expect(parseEventTime(formatEventTime(UTC + 7))).toBe(UTC + 7);
  });
});

describe('parseEventTime: the fast path for the common forms agrees with the general one', () => {
  // The general path as it was before the fast path (regular expression, day check, Date.parse; a leap second read as :59.999).
  const RFC3339 = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt ]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d{1,9})?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$/;
  const dim = (y: number, m: number): number => (m === 2 ? ((y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28) : m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31);
  const general = (ts: string): number => {
    if (ts.length < 20 || ts.length > 40 || !RFC3339.test(ts)) return NaN;
    if (ts.charCodeAt(8) >= 50 && Number(ts.slice(8, 10)) > dim(Number(ts.slice(0, 4)), Number(ts.slice(5, 7)))) return NaN;
    // A leap second (second 60) is the last millisecond of second 59.
    if (ts.slice(17, 19) === '60') {
      const at59 = Date.parse(`${ts.slice(0, 17)}59${ts.slice(19)}`.replace(' ', 'T').replace(/\.\d+/, ''));
      return at59 >= 946_684_800_000 && at59 < 4_102_444_800_000 ? at59 + 999 : NaN;
    }
    const ms = Date.parse(ts.length > 29 || ts.includes(' ') ? ts.replace(' ', 'T').replace(/(\.\d{3})\d+/, '$1') : ts);
    return ms >= 946_684_800_000 && ms < 4_102_444_800_000 ? ms : NaN;
  };
  it('ok/randomized: valid and broken times of both lengths give the same answer (NaN included)', () => {
    let seed = 7;
    const rnd = (n: number): number => (seed = (seed * 16807) % 2147483647) % n;
    const two = (n: number): string => String(n).padStart(2, '0');
    let valid = 0;
    for (let i = 0; i < 100_000; i++) {
      const y = [1999, 2000, 2024, 2025, 2099, 2100][rnd(6)] as number;
      let ts = `${y}-${two(rnd(14))}-${two(rnd(33))}T${two(rnd(26))}:${two(rnd(62))}:${two(rnd(62))}.${String(rnd(1000)).padStart(3, '0')}`;
      ts += rnd(2) ? 'Z' : `${rnd(2) ? '+' : '-'}${two(rnd(26))}:${two(rnd(62))}`;
      if (rnd(20) === 0) {
        // a broken character somewhere
        const k = rnd(ts.length);
        ts = ts.slice(0, k) + 'x:-.TZ+9'.charAt(rnd(8)) + ts.slice(k + 1);
      }
      const want = general(ts);
      if (!Number.isNaN(want)) valid++;
      expect(Object.is(parseEventTime(ts), want) || `${ts}: ${parseEventTime(ts)} != ${want}`).toBe(true);
    }
    expect(valid).toBeGreaterThan(10_000);
  });
});
