import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { memoryEventBus } from '../adapters/memory/bus.js';
import { openSqlite, sqliteAlertStore, sqliteEventStore, type SqliteDb } from '../adapters/sqlite/index.js';
import { sqliteExposureStore } from '../adapters/sqlite/exposure-store.js';
import { fixedClock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import type { Alert } from '../detection/index.js';
import { validateEvent, type EventBus, type FgEvent } from '../events/index.js';
import { createSubscriberService, type SubscriberService } from './service.js';

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

function service(registered: Record<string, string[]> = {}): SubscriberService {
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
  });
  running.push(s);
  return s;
}
/** What POST /v1/events does: commit, then publish. */
async function ingest(events: FgEvent[]): Promise<void> {
  const { stored } = await sqliteEventStore(db).append(events);
  await bus.publish(stored);
}
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

  it('fail/low-severity and payment alerts flag nothing', async () => {
    const s = service();
    await s.start();
    await ingest([attach(30, 'CAFE', 1)]);
    await s.onAlert(alert({ cellId: 'CAFE', severity: 'low' }));
    await s.onAlert(alert({ cellId: 'CAFE', rule: 'payment-exposure', severity: 'high' }));
    expect(level(s, 1)).toBe('none');
  });
});
