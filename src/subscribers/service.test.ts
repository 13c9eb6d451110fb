import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { memoryEventBus } from '../adapters/memory/bus.js';
import { openSqlite, sqliteAlertStore, sqliteEventStore, type SqliteDb } from '../adapters/sqlite/index.js';
import { sqliteExposureStore } from '../adapters/sqlite/exposure-store.js';
import { fixedClock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import type { Alert } from '../detection/index.js';
import { validateEvent, type EventBus, type FgEvent } from '../events/index.js';
import { createSubscriberService, type SubscriberService, type SubscriberServiceDeps } from './service.js';
import type { ExposureBatch, ExposureStore } from './types.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const MIN = 60_000;
const ev = (o: Record<string, unknown>): FgEvent => {
  const v = validateEvent(o);
  if (!v.ok) throw new Error(JSON.stringify(v));
  return v.event;
};
const attach = (minAgo: number, cellId: string, n: number) => ev({ type: 'ue.attach', ts: NOW - minAgo * MIN, cellId, imsi: `4500800000000${String(n).padStart(2, '0')}`, msisdn: `+82100000000${String(n).padStart(2, '0')}` });
const phone = (n: number): string => `+82100000000${String(n).padStart(2, '0')}`;
const alert = (o: Partial<Alert>): Alert => ({ id: `al_${Math.random()}`, ts: new Date(NOW - 60 * MIN).toISOString(), rule: 'unregistered-cell', severity: 'critical', summary: 's', evidence: {}, count: 1, firstSeen: '', lastSeen: '', ...o });

let db: SqliteDb;
let bus: EventBus;
const running: SubscriberService[] = [];
const policy = { highWithinMs: 120 * MIN, mediumWithinMs: 1440 * MIN };

function service(registered: Record<string, string[]> = {}, over: Partial<SubscriberServiceDeps> = {}): SubscriberService {
  const s = createSubscriberService({
    store: sqliteExposureStore(db),
    events: sqliteEventStore(db),
    bus,
    alerts: sqliteAlertStore(db),
    registeredCells: async (serial) => registered[serial] ?? [],
    clock: fixedClock(new Date(NOW)),
    logger: silentLogger(),
    policy,
    limits: { defaultMaxAgeSeconds: 86_400, maxMaxAgeSeconds: 86_400 * 400 },
    retentionMs: 400 * 86_400_000,
    flushMs: 50,
    flushEvents: 1000,
    ...over,
  });
  running.push(s);
  return s;
}
/** What POST /v1/events does: commit, then publish. */
async function ingest(events: FgEvent[]): Promise<void> {
  const { stored } = await sqliteEventStore(db).append(events);
  await bus.publish(stored);
}
/**
 * The SQLite store whose next `n` writes fail as SQLite does when the database is locked, and
 * every write of a batch `failIf` picks.
 */
function flakyStore(failIf: (b: ExposureBatch) => boolean = () => false): { store: ExposureStore; failNext: (n: number) => void; attempts: () => number } {
  const real = sqliteExposureStore(db);
  let failing = 0;
  let attempts = 0;
  const store: ExposureStore = {
    ...real,
    apply: async (batch) => {
      attempts++;
      if (failing > 0 || failIf(batch)) {
        failing = Math.max(0, failing - 1);
        throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
      }
      return real.apply(batch);
    },
  };
  return { store, failNext: (n) => (failing = n), attempts: () => attempts };
}
const imsisOf = async (s: SubscriberService, cell: string): Promise<string[]> => (await s.impact({ cells: [cell], from: NOW - 86_400_000, to: NOW })).subscribers.map((x) => x.imsi).sort();
const level = (s: SubscriberService, n: number): string => s.check({ phoneNumber: phone(n), maxAgeSeconds: 86_400 }).riskLevel;

beforeEach(() => {
  db = openSqlite(':memory:');
  bus = memoryEventBus();
});
afterEach(async () => {
  for (const s of running.splice(0)) await s.stop();
  db.close();
});

describe('subscriber service (live exposure index)', () => {
  it('ok/indexes events from the bus and flags cells from live alerts, history included', async () => {
    const s = service();
    await s.start();
    expect(s.ready).toBe(true);
    await ingest([attach(30, 'ROGUE', 1), attach(20, 'HOME', 2)]);
    expect(level(s, 1)).toBe('none');
    await s.onAlert(alert({ cellId: 'ROGUE' }));
    expect(level(s, 1)).toBe('high');
    expect(level(s, 2)).toBe('none');
    await ingest([attach(5, 'ROGUE', 2)]);
    expect(level(s, 2)).toBe('high');
  });

  it('ok/a device alert flags the cells the device announced and the cells it is registered for', async () => {
    const s = service({ KTF1: ['REG'] });
    await s.start();
    await ingest([ev({ type: 'femto.session', ts: NOW - 50 * MIN, serial: 'KTF1', phase: 'up', sourceIp: '10.0.0.1', cellIds: ['ANN'] }), attach(30, 'ANN', 1), attach(30, 'REG', 2), attach(30, 'OTHER', 3)]);
    await s.onAlert(alert({ rule: 'location-mismatch', severity: 'high', serial: 'KTF1' }));
    expect([level(s, 1), level(s, 2), level(s, 3)]).toEqual(['high', 'high', 'none']);
    await s.onAlert(alert({ rule: 'idle-device', severity: 'high', serial: 'KTF9' }));
    expect(s.flaggedCells().sort()).toEqual(['ANN', 'REG']);
  });

  it('ok/after a restart: subscribers from the store, flags from the alert store, events after the cursor caught up', async () => {
    const a = service();
    await a.start();
    await ingest([attach(40, 'ROGUE', 1), attach(40, 'HOME', 2)]);
    await a.stop();
    // Written while the service was down: in the event log, never published to it.
    await sqliteEventStore(db).append([attach(10, 'ROGUE', 3)]);
    await sqliteAlertStore(db).upsert(alert({ cellId: 'ROGUE' }), new Date(NOW).toISOString());
    const b = service();
    await b.start();
    expect([level(b, 1), level(b, 2), level(b, 3)]).toEqual(['high', 'none', 'high']);
    expect(b.index.size).toBe(3);
    expect((await sqliteExposureStore(db).counts()).buckets).toBe(3);
  });

  it('ok/a recycled number answers for its new owner, live and after a restart (not for whoever sorts last by IMSI)', async () => {
    // The old owner's IMSI sorts after the new one's: a rebuild in IMSI order gave it the number.
    const OLD = '450080000001173';
    const NEW = '450080000000000';
    const number = '+821010001173';
    const seen = (minAgo: number, cellId: string, imsi: string) => ev({ type: 'ue.attach', ts: NOW - minAgo * MIN, cellId, imsi, msisdn: number });
    const a = service();
    await a.start();
    await ingest([seen(40, 'ROGUE', OLD)]);
    const flag = alert({ cellId: 'ROGUE' });
    await sqliteAlertStore(db).upsert(flag, new Date(NOW).toISOString());
    await a.onAlert(flag);
    expect(a.check({ phoneNumber: number, maxAgeSeconds: 86_400 }).riskLevel).toBe('high');
    await ingest([seen(10, 'HOME', NEW)]);
    const byNumber = (s: SubscriberService): string => s.check({ phoneNumber: number, maxAgeSeconds: 86_400 }).riskLevel;
    const oldOwner = (s: SubscriberService): string => s.check({ imsi: OLD, nai: `imsi-${OLD}@operator.example`, maxAgeSeconds: 86_400 }).riskLevel;
    expect([byNumber(a), oldOwner(a)]).toEqual(['none', 'high']);
    await a.stop();
    const b = service();
    await b.start();
    expect(b.index.imsiOfMsisdn(number)).toBe(NEW);
    expect([byNumber(b), oldOwner(b)]).toEqual(['none', 'high']);
    expect(b.index.lastObservation(OLD)?.msisdn).toBeNull();
  });

  it('ok/every event is counted once across a restart (the cursor is written with the batch)', async () => {
    const a = service();
    await a.start();
    await ingest([attach(40, 'ROGUE', 1), attach(30, 'ROGUE', 1)]);
    await a.stop();
    const b = service();
    await b.start();
    await b.flush();
    const r = await b.impact({ cells: ['ROGUE'], from: NOW - 86_400_000, to: NOW });
    expect(r.subscribers.map((x) => x.attachCount)).toEqual([2]);
  });

  it('ok/a window from 0 to a distant future reads only the days the index holds (no lookup per day of the window)', async () => {
    const a = service();
    await a.start();
    expect((await a.impact({ cells: ['ROGUE'], from: 0, to: 8.64e15 })).subscribers).toEqual([]); // nothing indexed yet
    await ingest([attach(40, 'ROGUE', 1), attach(30, 'ROGUE', 2)]);
    await a.stop();
    for (const s of [a, service()]) {
      if (s !== a) await s.start(); // after a restart: the bounds come from the stored subscribers
      const t0 = performance.now();
      const r = await s.impact({ cells: ['ROGUE'], from: 0, to: Date.parse('9999-12-31T00:00:00Z') });
      expect(performance.now() - t0).toBeLessThan(1000);
      expect(r.subscribers.map((x) => x.imsi)).toEqual(['450080000000001', '450080000000002']);
      expect(r.summary.window).toEqual({ from: '1970-01-01T00:00:00.000Z', to: '9999-12-31T00:00:00.000Z' });
    }
  });

  it('fail/low-severity and payment alerts flag nothing', async () => {
    const s = service();
    await s.start();
    await ingest([attach(30, 'CAFE', 1)]);
    await s.onAlert(alert({ cellId: 'CAFE', severity: 'low' }));
    await s.onAlert(alert({ cellId: 'CAFE', rule: 'payment-exposure', severity: 'high' }));
    expect(level(s, 1)).toBe('none');
  });

  describe('a failed index write (SQLITE_BUSY, a full disk)', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('ok/the failed batch is kept and written before the next one: impact sees every subscriber', async () => {
      const f = flakyStore();
      const s = service({}, { store: f.store });
      await s.start();
      await ingest([attach(50, 'ROGUE', 1), attach(49, 'ROGUE', 2)]);
      f.failNext(1);
      await s.flush();
      expect(s.behind).toBe(true);
      await ingest([attach(40, 'ROGUE', 3)]);
      await s.flush();
      // impact retries at once: the transient failure is over
      expect(await imsisOf(s, 'ROGUE')).toEqual(['450080000000001', '450080000000002', '450080000000003']);
      expect(s.behind).toBe(false);
    });

    it('fail/while the write keeps failing, the cursor never passes it and impact is refused as unavailable (503)', async () => {
      const f = flakyStore();
      const s = service({}, { store: f.store });
      await s.start();
      await ingest([attach(50, 'ROGUE', 1), attach(49, 'ROGUE', 2)]);
      f.failNext(1_000);
      await s.flush();
      await ingest([attach(40, 'ROGUE', 3)]);
      await s.flush();
      expect(await f.store.cursor()).toBe(0);
      await expect(s.impact({ cells: ['ROGUE'], from: NOW - 86_400_000, to: NOW })).rejects.toMatchObject({ kind: 'unavailable', code: 'subscribers.index_behind' });
      f.failNext(0);
      expect(await imsisOf(s, 'ROGUE')).toEqual(['450080000000001', '450080000000002', '450080000000003']);
      expect(await f.store.cursor()).toBeGreaterThanOrEqual(2);
    });

    it('ok/stopped while one batch keeps failing: no later batch was written, the next start indexes it all', async () => {
      // Only the first batch fails (as a full disk can refuse a large write and take a small one).
      const f = flakyStore((b) => b.buckets.some((x) => x.imsi === '450080000000001'));
      const a = service({}, { store: f.store });
      await a.start();
      await ingest([attach(50, 'ROGUE', 1), attach(49, 'ROGUE', 2)]);
      await a.flush();
      await ingest([attach(40, 'ROGUE', 3)]);
      await a.stop();
      running.splice(running.indexOf(a), 1);
      const b = service();
      await b.start();
      expect(await imsisOf(b, 'ROGUE')).toEqual(['450080000000001', '450080000000002', '450080000000003']);
    });

    it('ok/retries by themselves with a doubling backoff, up to the cap; periodic flushes do not hammer the store', async () => {
      const f = flakyStore();
      const s = service({}, { store: f.store, retry: { firstMs: 1_000, maxMs: 4_000 } });
      await s.start();
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
      await ingest([attach(50, 'ROGUE', 1)]);
      f.failNext(4);
      await s.flush();
      const at = (): number => f.attempts();
      expect(at()).toBe(1);
      for (const [wait, expected] of [[999, 1], [1, 2], [1_999, 2], [1, 3], [3_999, 3], [1, 4], [3_999, 4], [1, 5]] as const) {
        await vi.advanceTimersByTimeAsync(wait);
        expect(at(), `after ${wait} ms more`).toBe(expected);
      }
      expect(s.behind).toBe(false);
      expect(await f.store.cursor()).toBeGreaterThanOrEqual(1);
    });

    it('ok/a cell flagged while the write fails still exposes the subscribers of the unwritten batch (risk API)', async () => {
      const f = flakyStore();
      const s = service({}, { store: f.store });
      await s.start();
      await ingest([attach(30, 'ROGUE', 1)]);
      f.failNext(1_000);
      await s.flush();
      await ingest([attach(20, 'ROGUE', 2)]);
      await s.onAlert(alert({ cellId: 'ROGUE' }));
      expect([level(s, 1), level(s, 2)]).toEqual(['high', 'high']);
      f.failNext(0);
    });
  });
});
