import { describe, expect, it } from 'vitest';
import { readCsvText } from '../registry/index.js';
import { csvField, spreadsheetSafe, toCsv } from './exports.js';
import { impactFromEvents } from './impact-offline.js';
import { maskImpact, type ImpactResult } from './impact.js';

const D0 = Date.parse('2026-11-28T10:00:00Z');
const MIN = 60_000;
const policy = { highWithinMs: 120 * MIN, mediumWithinMs: 24 * 60 * MIN };
/** Starts a spreadsheet reads as a formula (OWASP CSV injection). */
const FORMULA = /^[=+\-@\t\r]/;
const E164 = /^\+[0-9]{6,15}$/;

describe('spreadsheetSafe / csvField (CSV injection)', () => {
  it('fail/a value starting with = + - @ TAB or CR gets a leading single quote', () => {
    for (const v of ['=2+1', '+1+1', '-2+3', '@SUM(1,2)', '\t=1', '\r=1', '=HYPERLINK("http://x","y")']) expect(spreadsheetSafe(v)).toBe(`'${v}`);
  });

  it('fail/a + that is not a well-formed E.164 number is guarded: too short, too long, spaces, masked', () => {
    for (const v of ['+12345', '+1234567890123456', '+82 10 3333 4444', '+82********16', '+8210333344A4', '+']) expect(spreadsheetSafe(v)).toBe(`'${v}`);
  });

  it('ok/well-formed E.164 numbers (6 to 15 digits after +) and ordinary text are left alone', () => {
    for (const v of ['+123456', '+821033334444', '+123456789012345', 'tx-1', '45008-200', '45008********16', 'a=b', '']) expect(spreadsheetSafe(v)).toBe(v);
  });

  it('ok/csvField guards text, then quotes by RFC 4180; numbers and booleans are written as they are', () => {
    expect(csvField('=1,2')).toBe(`"'=1,2"`);
    expect(csvField('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvField('\r=1')).toBe(`"'\r=1"`);
    expect(csvField(-5)).toBe('-5');
    expect(csvField(true)).toBe('true');
    expect(csvField(null)).toBe('');
  });
});

/**
 * The reviewer's events (release_csv.sh): a cell id, a transaction id, an MSISDN and an IMEI a
 * spreadsheet would run, and a method and merchant too; one honest subscriber beside them.
 */
const EVENTS = [
  { type: 'ue.attach', ts: D0 - 10 * MIN, cellId: '=2+26216', imsi: '450086666666216', msisdn: '@SUM(1,2)', imei: '-1+2' },
  { type: 'payment.auth', ts: D0 - MIN, txId: '@SUM(26216)', msisdn: '@SUM(1,2)', amountMinor: 5, currency: 'KRW', method: '+cmd', merchant: '\t=1' },
  { type: 'ue.attach', ts: D0 - 9 * MIN, cellId: '=2+26216', imsi: '450086666666217', msisdn: '+821000026217', imei: '351111111111111' },
  { type: 'payment.auth', ts: D0 - MIN, txId: '-tx', msisdn: '+821000026217', amountMinor: 7, currency: 'KRW' },
].map((e) => JSON.stringify(e) + '\n');

async function impact(): Promise<ImpactResult> {
  const { result } = await impactFromEvents({ events: EVENTS, cells: ['=2+26216'], from: D0 - 60 * MIN, to: D0, policy });
  return result;
}

/** Every field of every row of an export, read back as a spreadsheet would get it. */
function fields(csv: string): string[][] {
  return readCsvText(csv).map((r) => {
    if (!('fields' in r)) throw new Error(`unreadable CSV line ${r.line}: ${r.error}`);
    return r.fields;
  });
}

describe('the impact exports are safe to open in a spreadsheet', () => {
  for (const masked of [false, true]) {
    for (const view of ['subscribers', 'payments', 'notification'] as const) {
      it(`fail/${view}.csv${masked ? ' (masked)' : ''}: no field a spreadsheet would run, every planted value still there`, async () => {
        const r = await impact();
        expect(r.subscribers).toHaveLength(2);
        expect(r.payments).toHaveLength(2);
        const rows = fields(toCsv(masked ? maskImpact(r) : r, view)).slice(1);
        expect(rows.length).toBeGreaterThan(0);
        for (const f of rows.flat()) expect(FORMULA.test(f) && !E164.test(f), JSON.stringify(f)).toBe(false);
        const text = rows.flat().join('\n');
        // Guarded, not dropped: the quote in front, the value after it.
        expect(text).toContain(`'=2+26216`);
        if (view === 'payments') for (const v of [`'@SUM(26216)`, `'-tx`, `'+cmd`, `'\t=1`]) expect(text).toContain(v);
        if (!masked) expect(text).toContain(`'@SUM(1,2)`);
        if (!masked && view !== 'payments') expect(text).toContain(`'-1+2`);
        // Masking keeps the first characters: still guarded.
        if (masked) expect(text).toMatch(/'@S\*+/);
      });
    }
  }

  it('ok/a well-formed E.164 MSISDN is written as it is, its masked form guarded', async () => {
    const r = await impact();
    const plain = fields(toCsv(r, 'notification')).flat();
    expect(plain).toContain('+821000026217');
    const masked = fields(toCsv(maskImpact(r), 'notification')).flat();
    expect(masked).toContain(`'+82********17`);
  });
});
