import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { validateEvent, type FgEvent } from '../../events/index.js';
import { ExposureAggregator, dayOf, type ExposureStore } from '../../subscribers/index.js';
import { openSqlite, type SqliteDb } from './database.js';
import { sqliteEventStore } from './event-store.js';
import { DAY_RANGE_SQL, sqliteExposureStore } from './exposure-store.js';

const T = Date.parse('2025-08-05T10:00:00Z');
const DAY = 86_400_000;
const A = '450080000000001';
const B = '450080000000002';
const ev = (o: Record<string, unknown>): FgEvent => {
  const v = validateEvent(o);
  if (!v.ok) throw new Error(JSON.stringify(v));
  return v.event;
};
const attach = (t: number, cellId: string, imsi: string, extra: Record<string, unknown> = {}): FgEvent => ev({ type: 'ue.attach', ts: t, cellId, imsi, ...extra });

let db: SqliteDb;
let store: ExposureStore;
async function apply(events: FgEvent[], cursor: number | null = null): Promise<void> {
  const g = new ExposureAggregator();
  for (const e of events) g.add(e);
  await store.apply(g.take(cursor));
}

beforeEach(() => {
  db = openSqlite(':memory:');
  store = sqliteExposureStore(db);
});
afterEach(() => db.close());

describe('sqliteExposureStore', () => {
  it('ok/batches merge into buckets: counts add, first/last widen, across flushes in any order', async () => {
    await apply([attach(T + 5000, 'C1', A)]);
    await apply([attach(T, 'C1', A), attach(T + 9000, 'C1', A), ev({ type: 'ims.register', ts: T + 1, imsi: A, cellId: 'C1', ipsec: false })]);
    const [b] = await store.cellBuckets(['C1'], dayOf(T), dayOf(T));
    expect(b).toEqual({ day: dayOf(T), cellId: 'C1', imsi: A, firstAttach: T, lastAttach: T + 9000, attachCount: 3, firstSeen: T, lastSeen: T + 9000, imsCount: 1, imsWithoutIpsec: 1 });
  });

  it('ok/an IMS-only bucket merged with attaches later keeps the attach times', async () => {
    await apply([ev({ type: 'ims.register', ts: T, imsi: A, cellId: 'C1', ipsec: false })]);
    expect((await store.cellBuckets(['C1'], dayOf(T), dayOf(T)))[0]).toMatchObject({ firstAttach: null, lastAttach: null, attachCount: 0 });
    await apply([attach(T + 10, 'C1', A)]);
    expect((await store.cellBuckets(['C1'], dayOf(T), dayOf(T)))[0]).toMatchObject({ firstAttach: T + 10, lastAttach: T + 10, attachCount: 1, imsWithoutIpsec: 1 });
  });

  it('ok/both lookups: cells over days, and one subscriber over days', async () => {
    await apply([attach(T, 'C1', A), attach(T + DAY, 'C2', A), attach(T + 2 * DAY, 'C1', B), attach(T, 'C3', B)]);
    expect((await store.cellBuckets(['C1', 'C2'], dayOf(T), dayOf(T) + 2)).map((b) => `${b.cellId}/${b.day - dayOf(T)}/${b.imsi.slice(-1)}`)).toEqual(['C1/0/1', 'C1/2/2', 'C2/1/1']);
    expect((await store.cellBuckets(['C1'], dayOf(T) + 1, dayOf(T) + 1))).toEqual([]);
    expect((await store.subscriberBuckets(A, dayOf(T), dayOf(T) + 5)).map((b) => b.cellId)).toEqual(['C1', 'C2']);
  });

  it('ok/a window of every representable day (from=0 on) answers at once: only the days the index holds are read', async () => {
    await apply([attach(T, 'C1', A), attach(T + DAY, 'C1', B)]);
    // Per day this was 1e8 queries (minutes: the test's timeout fails it), not two.
    const cells = await store.cellBuckets(['C1'], 0, dayOf(8.64e15));
    const subs = await store.subscriberBuckets(A, 0, dayOf(8.64e15));
    expect(cells.map((b) => b.imsi)).toEqual([A, B]);
    expect(subs.map((b) => b.cellId)).toEqual(['C1']);
    expect(await sqliteExposureStore(openSqlite(':memory:')).cellBuckets(['C1'], 0, 1e9)).toEqual([]);
  });

  it('ok/both lookups use the indexes (no table scan)', () => {
    const plan = (sql: string): string => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((r) => r.detail).join('; ');
    expect(plan("SELECT * FROM exposure_buckets WHERE day = 1 AND cell_id = 'C'")).toMatch(/SEARCH exposure_buckets USING PRIMARY KEY \(day=\? AND cell_id=\?\)/);
    expect(plan("SELECT * FROM exposure_buckets INDEXED BY exposure_buckets_imsi WHERE day = 1 AND imsi = 'I'")).toMatch(/SEARCH exposure_buckets USING INDEX exposure_buckets_imsi \(day=\? AND imsi=\?\)/);
    expect(plan("SELECT * FROM exposure_subscribers WHERE msisdn = '+1'")).toMatch(/USING INDEX exposure_subscribers_msisdn/);
    expect(plan("SELECT * FROM subscriber_payments WHERE msisdn IN ('+1') AND t >= 0 AND t < 1")).toMatch(/USING INDEX subscriber_payments_msisdn/);
    // The days held, asked before every lookup: two seeks, never a scan of the index.
    const days = plan(DAY_RANGE_SQL);
    expect(days).not.toMatch(/SCAN exposure_buckets/);
    expect(days.match(/SEARCH exposure_buckets/g)).toHaveLength(2);
  });

  it('ok/subscriber links: the newest wins, an older batch only fills gaps; lookup by MSISDN', async () => {
    await apply([attach(T + 100, 'C1', A, { msisdn: '+821011112222' })]);
    await apply([attach(T, 'C0', A, { msisdn: '+821099990000', imei: '351111111111111' })]);
    expect(await store.subscribers([A])).toEqual([{ imsi: A, msisdn: '+821011112222', imei: '351111111111111', firstSeen: T, lastSeen: T + 100, lastCellId: 'C1' }]);
    await apply([attach(T + 200, 'C2', A, { msisdn: '+821033334444' })]);
    expect(await store.subscriberByMsisdn('+821033334444')).toMatchObject({ imsi: A, lastCellId: 'C2' });
    expect(await store.subscriberByMsisdn('+821000000000')).toBeNull();
  });

  it('ok/a recycled number: the old holder gives it up; links keep who held it from when; batches in any order', async () => {
    const N = '+821010001173';
    await apply([attach(T, 'C1', B, { msisdn: N })]);
    await apply([attach(T + 1000, 'C2', A, { msisdn: N })]);
    expect((await store.subscribers([A, B])).map((s) => `${s.imsi}:${s.msisdn}`).sort()).toEqual([`${A}:${N}`, `${B}:null`]);
    expect(await store.subscriberByMsisdn(N)).toMatchObject({ imsi: A });
    expect((await store.numberLinks([B])).map((l) => `${l.imsi}@${l.since - T}`).sort()).toEqual([`${A}@1000`, `${B}@0`]);
    // The old holder seen with the number later (B is the greater IMSI: IMSI order favoured it).
    const rebuilt: string[] = [];
    for await (const p of store.allSubscribers(10)) for (const s of p) rebuilt.push(`${s.imsi}:${s.msisdn}:${s.msisdnSince === null || s.msisdnSince === undefined ? '' : s.msisdnSince - T}`);
    expect(rebuilt).toEqual([`${A}:${N}:1000`, `${B}:null:`]);
  });

  it('ok/an older batch arriving late moves a link back: the number returns to its newest link', async () => {
    const N = '+821010001173';
    // B's only batch so far says it had the number at T+2000, after A took it at T+1000 ...
    await apply([attach(T + 1000, 'C1', A, { msisdn: N })]);
    await apply([attach(T + 2000, 'C1', B, { msisdn: N })]);
    expect(await store.subscriberByMsisdn(N)).toMatchObject({ imsi: B });
    // ... then B's older events arrive: B held it since T, so A's link (T+1000) is the newest.
    await apply([attach(T, 'C1', B, { msisdn: N })]);
    expect((await store.subscribers([A, B])).map((s) => `${s.imsi}:${s.msisdn}`).sort()).toEqual([`${A}:${N}`, `${B}:null`]);
  });

  it('ok/the cursor is saved with the batch; allSubscribers pages through everyone', async () => {
    expect(await store.cursor()).toBe(0);
    await apply(Array.from({ length: 25 }, (_, i) => attach(T, 'C1', String(450080000000100 + i))), 42);
    expect(await store.cursor()).toBe(42);
    await apply([], null);
    expect(await store.cursor()).toBe(42);
    const pages: number[] = [];
    for await (const p of store.allSubscribers(10)) pages.push(p.length);
    expect(pages).toEqual([10, 10, 5]);
  });

  it('ok/payments by MSISDN in [from, to), once per txId', async () => {
    const pay = (txId: string, t: number) => ev({ type: 'payment.auth', ts: t, txId, msisdn: '+821011112222', amountMinor: 100, currency: 'KRW' });
    await apply([pay('tx1', T), pay('tx2', T + 1000), pay('tx3', T + 2000)]);
    await apply([pay('tx1', T)]);
    expect((await store.payments(['+821011112222'], T, T + 2000)).map((p) => p.txId)).toEqual(['tx1', 'tx2']);
    expect(await store.counts()).toEqual({ buckets: 0, subscribers: 0, payments: 3 });
  });

  it('ok/attachTimes reads exact times from the event log; null when the log does not reach back', async () => {
    const events = sqliteEventStore(db);
    expect(await store.attachTimes(['C1'], T, T + 1000)).toBeNull();
    await events.append([attach(T - 1, 'C1', A), attach(T + 10, 'C1', A), attach(T + 20, 'C1', A), attach(T + 30, 'C2', B), attach(T + 5000, 'C1', B)]);
    expect(await store.attachTimes(['C1'], T, T + 1000)).toEqual(new Map([[`${A}|C1`, [T + 10, T + 20]]]));
    expect(await store.attachTimes(['C1'], T - 2, T + 1000)).toBeNull();
  });

  it('ok/prune drops what the retention no longer covers', async () => {
    await apply([attach(T - 10 * DAY, 'C1', A), attach(T, 'C1', B), ev({ type: 'payment.auth', ts: T - 10 * DAY, txId: 'old', msisdn: '+821011112222', amountMinor: 1, currency: 'KRW' })]);
    expect(await store.prune(T - DAY)).toEqual({ buckets: 1, subscribers: 1, payments: 1 });
    expect(await store.counts()).toEqual({ buckets: 1, subscribers: 1, payments: 0 });
  });
});

describe('migration 12 on a database that already holds subscribers', () => {
  it('ok/links are made from the rows; a number two rows hold stays only with the newest subscriber', async () => {
    const { default: Database } = await import('better-sqlite3');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { migrate } = await import('./database.js');
    const { MIGRATIONS } = await import('./migrations.js');
    const file = join(mkdtempSync(join(tmpdir(), 'fg-m12-')), 'db.sqlite');
    const old = new Database(file);
    old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    for (const m of MIGRATIONS.filter((x) => x.version < 12)) {
      old.exec(m.sql);
      m.after?.(old);
      old.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, '2026-01-01T00:00:00Z');
    }
    const ins = old.prepare('INSERT INTO exposure_subscribers (imsi, msisdn, imei, first_seen, last_seen, last_cell_id) VALUES (?, ?, NULL, ?, ?, NULL)');
    ins.run('450080000000001', '+821000000001', 1000, 5000);
    ins.run('450080000000002', '+821000000001', 2000, 6000);
    ins.run('450080000000003', '+821000000003', 500, 700);
    ins.run('450080000000004', null, 100, 200);
    expect(migrate(old)).toContain(12);
    const holders = old.prepare('SELECT imsi, msisdn FROM exposure_subscribers ORDER BY imsi').all();
    expect(holders).toEqual([
      { imsi: '450080000000001', msisdn: null },
      { imsi: '450080000000002', msisdn: '+821000000001' },
      { imsi: '450080000000003', msisdn: '+821000000003' },
      { imsi: '450080000000004', msisdn: null },
    ]);
    expect(old.prepare('SELECT msisdn, imsi, since FROM exposure_msisdn_links ORDER BY imsi').all()).toEqual([
      { msisdn: '+821000000001', imsi: '450080000000001', since: 1000 },
      { msisdn: '+821000000001', imsi: '450080000000002', since: 2000 },
      { msisdn: '+821000000003', imsi: '450080000000003', since: 500 },
    ]);
    old.close();
  });
});
