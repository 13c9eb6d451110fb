import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqlite, sqliteEventStore, type SqliteDb } from '../adapters/sqlite/index.js';
import { sqliteExposureStore } from '../adapters/sqlite/exposure-store.js';
import { validateEvent, type FgEvent } from '../events/index.js';
import { ExposureAggregator } from './aggregate.js';
import { toCsv } from './exports.js';
import { impactFromEvents } from './impact-offline.js';
import { impactFromStore } from './impact-store.js';
import { maskImpact, type ImpactResult } from './impact.js';
import type { ExposureStore } from './types.js';

const D0 = Date.parse('2025-08-02T00:00:00Z');
const MIN = 60_000;
const HOUR = 60 * MIN;
const policy = { highWithinMs: 2 * HOUR, mediumWithinMs: 24 * HOUR };
const at = (h: number): number => D0 + Math.round(h * HOUR);
const imsi = (n: number): string => `45008${String(n).padStart(10, '0')}`;
const msisdn = (n: number): string => `+8210${String(n).padStart(8, '0')}`;
const attach = (h: number, cellId: string, n: number, extra: Record<string, unknown> = {}) => ({ type: 'ue.attach', ts: new Date(at(h)).toISOString(), cellId, imsi: imsi(n), msisdn: msisdn(n), ...extra });
const pay = (h: number, n: number, txId: string, amountMinor = 50_000) => ({ type: 'payment.auth', ts: at(h), txId, msisdn: msisdn(n), amountMinor, currency: 'KRW', method: 'sms-otp', merchant: '=cmd|calc' });

/**
 * Subscriber 1: on ROGUE at 15:30 and 16:00 (day 0), pays 16:20 (at risk) and the next day (not).
 * 2: on ROGUE at 03:00, 12:00 and 22:00 (straddles a window of 10:00-14:00: resolved from the log).
 * 3: on ROGUE only at 23:30. 4: on HOME only, pays (not exposed). 5: pays before its exposure.
 * 6: IMS without IPsec on ROGUE and an attach on ROGUE2.
 */
const RAW = [
  attach(3, 'ROGUE', 2),
  attach(12, 'ROGUE', 2),
  attach(15.5, 'ROGUE', 1, { imei: '351111111111111' }),
  attach(16, 'ROGUE', 1, { id: 'dup-1' }),
  attach(16, 'ROGUE', 1, { id: 'dup-1' }),
  pay(16.3333, 1, 'tx-risk'),
  attach(10, 'HOME', 4),
  pay(11, 4, 'tx-home'),
  pay(17, 5, 'tx-before'),
  attach(18, 'ROGUE', 5),
  attach(22, 'ROGUE', 2),
  { type: 'ims.register', ts: at(20), imsi: imsi(6), cellId: 'ROGUE', ipsec: false },
  attach(20.5, 'ROGUE2', 6),
  attach(23.5, 'ROGUE', 3),
  pay(30, 1, 'tx-next-day', 9000),
];
const EVENTS: FgEvent[] = RAW.map((o) => {
  const v = validateEvent(o);
  if (!v.ok) throw new Error(JSON.stringify(v));
  return v.event;
});
const NDJSON = RAW.map((o) => JSON.stringify(o)).join('\n') + '\n{broken\n';
const CELLS = ['ROGUE', 'ROGUE2', 'NEVER'];

const offline = async (from = -Infinity, to = Infinity): Promise<ImpactResult> =>
  (await impactFromEvents({ events: [Buffer.from(NDJSON)], cells: CELLS, from, to, policy })).result;
const ids = (r: ImpactResult): string[] => r.subscribers.map((s) => s.imsi.slice(-1));

let db: SqliteDb;
let store: ExposureStore;
beforeEach(async () => {
  db = openSqlite(':memory:');
  store = sqliteExposureStore(db);
  await sqliteEventStore(db).append(EVENTS.filter((e, i) => i !== 4));
  const g = new ExposureAggregator();
  for (const [i, e] of EVENTS.entries()) if (i !== 4) g.add(e);
  await store.apply(g.take(null));
});
afterEach(() => db.close());

describe('impact analysis offline (femtoguard impact --events)', () => {
  it('ok/every subscriber who attached to the cells, no one else; counts, links, IMS without IPsec', async () => {
    const { result: r, stats } = await impactFromEvents({ events: [Buffer.from(NDJSON)], cells: CELLS, from: -Infinity, to: Infinity, policy });
    expect(stats).toMatchObject({ accepted: RAW.length, duplicates: 1, rejectedCount: 1 });
    expect(ids(r)).toEqual(['1', '2', '3', '5', '6']);
    expect(r.subscribers[0]).toEqual({ imsi: imsi(1), imei: '351111111111111', msisdn: msisdn(1), cellIds: ['ROGUE'], firstSeen: at(15.5), lastSeen: at(16), attachCount: 2, imsWithoutIpsec: 0, paymentsAtRisk: 1, amountAtRisk: { KRW: 50_000 } });
    expect(r.subscribers.find((s) => s.imsi === imsi(6))).toMatchObject({ cellIds: ['ROGUE2'], imsWithoutIpsec: 1 });
  });

  it('ok/payments after exposure with the time since it; at risk within the look-back; before exposure left out', async () => {
    const r = await offline();
    expect(r.payments.map((p) => [p.txId, p.secondsSinceExposure, p.riskLevel, p.atRisk])).toEqual([
      ['tx-risk', 1200, 'high', true],
      ['tx-next-day', 14 * 3600, 'medium', false],
    ]);
    expect(r.summary.payments).toEqual({ total: 2, atRisk: 1, amountAtRisk: { KRW: 50_000 }, amountTotal: { KRW: 59_000 } });
  });

  it('ok/summary per cell and per day', async () => {
    const s = (await offline()).summary;
    expect(s.perCell.map((c) => [c.cellId, c.subscribers, c.attaches])).toEqual([['NEVER', 0, 0], ['ROGUE', 4, 7], ['ROGUE2', 1, 1]]);
    expect(s.perDay).toEqual([{ day: '2025-08-02', subscribers: 5, attaches: 8 }]);
    expect(s).toMatchObject({ subscribers: 5, attaches: 8, imsWithoutIpsec: 1, uncertain: 0 });
  });

  it('ok/the window is [from, to)', async () => {
    expect(ids(await offline(at(16), at(23.5)))).toEqual(['1', '2', '5', '6']);
    expect(ids(await offline(at(10), at(14)))).toEqual(['2']);
    expect(ids(await offline(at(12.0001), at(14)))).toEqual([]);
  });
});

describe('impact analysis from the exposure index', () => {
  const cases: [string, number, number][] = [
    ['whole days', at(0), at(48)],
    ['cut inside a day', at(16), at(23.5)],
    ['straddled by a bucket (resolved from the event log)', at(10), at(14)],
    ['between attaches of a straddling bucket', at(12.0001), at(14)],
    ['across midnight', at(20), at(31)],
  ];
  for (const [what, from, to] of cases) {
    it(`ok/the same subscribers as offline: ${what}`, async () => {
      const r = await impactFromStore(store, { cells: CELLS, from, to }, policy);
      expect(ids(r)).toEqual(ids(await offline(from, to)));
      expect(r.summary.uncertain).toBe(0);
    });
  }

  it('ok/payments at risk and identifiers as offline for whole days', async () => {
    const r = await impactFromStore(store, { cells: CELLS, from: at(0), to: at(48) }, policy);
    const o = await offline(at(0), at(48));
    expect(r.subscribers).toEqual(o.subscribers);
    expect(r.payments.map((p) => [p.txId, p.atRisk])).toEqual(o.payments.map((p) => [p.txId, p.atRisk]));
  });

  it('ok/a straddling bucket the event log no longer covers is included and counted as uncertain', async () => {
    db.prepare('DELETE FROM events').run();
    const r = await impactFromStore(store, { cells: CELLS, from: at(10), to: at(14) }, policy);
    expect(ids(r)).toEqual(['2']);
    expect(r.summary.uncertain).toBe(1);
  });

  it('fail/no cells, or an empty window: nobody', async () => {
    expect((await impactFromStore(store, { cells: [], from: at(0), to: at(48) }, policy)).subscribers).toEqual([]);
    expect((await impactFromStore(store, { cells: CELLS, from: at(5), to: at(5) }, policy)).subscribers).toEqual([]);
  });
});

describe('exports', () => {
  it('ok/SUBSCRIBERS.csv has the contract header and one row per subscriber', async () => {
    const csv = toCsv(await offline(), 'subscribers').split('\n');
    expect(csv[0]).toBe('imsi,imei,msisdn,cell_ids,first_seen,last_seen,attach_count,ims_without_ipsec,payments_at_risk');
    expect(csv[1]).toBe(`${imsi(1)},351111111111111,${msisdn(1)},ROGUE,2025-08-02T15:30:00.000Z,2025-08-02T16:00:00.000Z,2,0,1`);
    expect(csv).toHaveLength(7);
  });

  it('ok/PAYMENTS.csv: free text that a spreadsheet would run is defused, identifiers untouched', async () => {
    const csv = toCsv(await offline(), 'payments').split('\n');
    expect(csv[1]).toBe(`tx-risk,${msisdn(1)},${imsi(1)},2025-08-02T16:19:59.880Z,50000,KRW,sms-otp,'=cmd|calc,ROGUE,2025-08-02T16:00:00.000Z,1200,high,true`);
  });

  it('ok/the notification export lists urgent cases first', async () => {
    const csv = toCsv(await offline(), 'notification').split('\n');
    expect(csv[0]).toBe('msisdn,imsi,imei,first_exposed,last_exposed,cell_ids,payments_at_risk,amount_at_risk,priority');
    expect(csv[1]).toMatch(/^\+821000000001,.*,1,KRW:50000,urgent$/);
    expect(csv.slice(2, -1).every((l) => l.endsWith(',normal'))).toBe(true);
  });

  it('ok/masked: IMSI, MSISDN and IMEI masked everywhere, counts kept', async () => {
    const m = maskImpact(await offline());
    expect(m.subscribers[0]).toMatchObject({ imsi: '45008********01', msisdn: '+82********01', imei: '35111111*******', attachCount: 2 });
    expect(m.payments[0]?.msisdn).toMatch(/^\+82\*+01$/);
    expect(JSON.stringify(m)).not.toContain(imsi(1));
  });
});
