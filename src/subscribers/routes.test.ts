import { describe, expect, it } from 'vitest';
import { parseWindowTime } from './routes.js';

const fails = (text: string, what = 'from'): unknown => {
  try {
    parseWindowTime(text, what);
  } catch (e) {
    return e;
  }
  throw new Error(`${text} was accepted`);
};

describe('parseWindowTime (impact window bounds: from, to, --from, --to)', () => {
  const good: [string, number][] = [
    // epoch milliseconds: any non-negative integer, not only the years events may carry
    ['0', 0],
    ['1', 1],
    ['946684799999', 946_684_799_999],
    ['1754006400000', 1_754_006_400_000],
    ['8640000000000000', 8.64e15],
    // YYYY-MM-DD: midnight UTC
    ['2025-08-01', Date.UTC(2025, 7, 1)],
    ['1999-12-31', Date.UTC(1999, 11, 31)],
    ['2100-01-01', Date.UTC(2100, 0, 1)],
    ['1970-01-01', 0],
    ['2024-02-29', Date.UTC(2024, 1, 29)],
    // RFC 3339 with an offset
    ['2025-08-05T02:14:09Z', Date.UTC(2025, 7, 5, 2, 14, 9)],
    ['2025-08-05T11:14:09.123+09:00', Date.UTC(2025, 7, 5, 2, 14, 9, 123)],
    ['2025-08-04 20:44:09.1239-05:30', Date.UTC(2025, 7, 5, 2, 14, 9, 123)],
    ['1969-12-31T23:59:59Z', -1000],
    ['2150-06-01T00:00:00z', Date.UTC(2150, 5, 1)],
    // years before 100 are literal (Date.UTC would read 50 as 1950)
    ['0050-01-01T00:00:00Z', Date.parse('0050-01-01T00:00:00Z')],
    // a leap second rolls over to the next minute
    ['2016-12-31T23:59:60Z', Date.UTC(2017, 0, 1)],
  ];
  for (const [text, ms] of good) {
    it(`ok/${text}`, () => {
      expect(parseWindowTime(text, 'from')).toBe(ms);
    });
  }

  const bad: [string, string][] = [
    ['-1', 'negative epoch ms'],
    ['1.5', 'fractional epoch ms'],
    ['8640000000000001', 'beyond what a Date holds'],
    ['99999999999999999', 'seventeen digits'],
    ['1e12', 'exponent notation'],
    ['yesterday', 'words'],
    ['', 'empty'],
    ['2025-02-29', 'February 29 in a common year'],
    ['2025-13-01', 'month 13'],
    ['2025-08-05T02:14:09', 'no offset'],
    ['2025-08-05T24:00:00Z', 'hour 24'],
    ['2025-04-31T00:00:00Z', 'April 31'],
    ['2025-08-05T02:14:09+0900', 'offset without a colon'],
    [' 2025-08-05', 'leading space'],
  ];
  for (const [text, why] of bad) {
    it(`fail/${why}: ${JSON.stringify(text)} is a clear invalid error naming the parameter`, () => {
      const e = fails(text, 'to') as { kind: string; code: string; message: string; details: unknown };
      expect(e).toMatchObject({ kind: 'invalid', code: 'impact.bad_time', details: { parameter: 'to' } });
      expect(e.message).toMatch(/^to must be YYYY-MM-DD, RFC 3339 with an offset, or non-negative integer epoch milliseconds$/);
    });
  }
});
