/**
 * Live detection over the real SQLite stores (devices, events, alerts) and the in-process bus:
 * a registry change the operator makes (the registry service's PATCH path, its clock stamping
 * `updatedAt`) takes effect in event order, at its change time, as a `registry.update` event
 * does for `femtoguard detect` — not when the poll happens to read it; a unit registered
 * moments before its first session is not taken for an unregistered one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { memoryEventBus } from '../adapters/memory/bus.js';
import { sqliteCellFlagStore, sqliteStores, type SqliteStores } from '../adapters/sqlite/index.js';
import { fixedClock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import type { FgEvent } from '../events/index.js';
import { createRegistry, type Device } from '../registry/index.js';
import { detectionConfigSchema } from './config.js';
import { createLiveDetection, type LiveDetection } from './live.js';
import { at, device, ev } from './test-kit.js';

const SEC = 1000 / 60_000; // one second, in the kit's minutes
const OLD_LINE = '198.18.1.7';
const NEW_LINE = '198.18.9.7';

let stores: SqliteStores | undefined;
let live: LiveDetection | undefined;

afterEach(async () => {
  await live?.stop();
  stores?.close();
  live = stores = undefined;
});

/** A server's detection side: one device on its old line, registered an hour before `m0`. */
async function setup(m0: number) {
  stores = sqliteStores(':memory:');
  const s = stores;
  const clock = fixedClock(new Date(at(m0 - 60)));
  const registry = createRegistry({ store: s.devices, revoker: { applyStatus: () => Promise.resolve(0) }, audit: s.audit, clock });
  await registry.add(device('LV1', { ipPrefixes: ['198.18.1.0/24'], cellIds: ['45008-1'] }), 'test');
  const bus = memoryEventBus();
  live = createLiveDetection({
    config: detectionConfigSchema.parse({}),
    events: s.events,
    bus,
    alerts: s.alerts,
    flags: sqliteCellFlagStore(s.db),
    registry: {
      all: () => s.devices.list({ limit: 100_000 }),
      changedSince: (after, limit) => s.devices.changedSince(after, limit),
    },
    sinks: [],
    respond: () => Promise.resolve(),
    clock,
    logger: silentLogger(),
    // the server's live defaults; no timers fire during a test (polls and flushes are called)
    liveMaxOutOfOrderMs: 5000,
    quietFlushMs: 3_600_000,
    registryPollMs: 3_600_000,
  });
  clock.set(new Date(at(m0 - 1)));
  await live.start();
  const ingest = async (...events: FgEvent[]): Promise<void> => {
    const { stored } = await s.events.append(events);
    await bus.publish(stored);
  };
  const alerts = async (rule: string): Promise<string[]> => (await s.alerts.list({ serial: 'LV1', limit: 100 })).filter((a) => a.rule === rule).map((a) => a.ts);
  return { clock, registry, ingest, alerts, live, stores: s };
}

const report = (m: number, ip: string, id: string): FgEvent => ev.report(m, { serial: 'LV1', sourceIp: ip, cellIds: ['45008-1'], id });

describe('live detection: registry changes in event order', () => {
  it('fail/reports from the old line sent before a relocation, processed after the poll read it, raise no source-ip-mismatch; ok/one sent after it does', async () => {
    const m = 600; // the operator's PATCH, in minutes after T0
    const { clock, registry, ingest, alerts, live } = await setup(m);
    // The unit's last reports from its old line: still in the 5 s reorder horizon.
    await ingest(report(m - 4 * SEC, OLD_LINE, 'a'), report(m - 3 * SEC, OLD_LINE, 'b'));
    expect(live.stats().sizes.buffered).toBe(2);
    // The operator records the new line at `m`; the poll reads it while they wait.
    clock.set(new Date(at(m)));
    const moved = await registry.update('LV1', { ipPrefixes: ['198.18.9.0/24'] }, 'operator');
    expect(Date.parse(moved.updatedAt)).toBe(at(m));
    await live.syncRegistry();
    expect(live.stats().sizes.registryChanges).toBe(1);
    // More of its old line, sent before the change, arriving after the poll.
    await ingest(report(m - 2 * SEC, OLD_LINE, 'c'), report(m - 1 * SEC, OLD_LINE, 'd'));
    await live.flush();
    expect(await alerts('source-ip-mismatch')).toEqual([]);
    // After the change: the new line is fine, the old one is now outside the registry.
    await ingest(report(m + 1 * SEC, NEW_LINE, 'e'), report(m + 2 * SEC, OLD_LINE, 'f'));
    await live.flush();
    expect(await alerts('source-ip-mismatch')).toEqual([new Date(at(m + 2 * SEC)).toISOString()]);
    expect(live.stats().sizes.registryChanges).toBe(0);
  });

  it('fail/a unit registered moments ago whose first session comes before the next poll is not taken for an unregistered one; ok/a serial the registry does not hold still is', async () => {
    const m = 600;
    const { clock, registry, ingest, live, stores: s } = await setup(m);
    clock.set(new Date(at(m)));
    await registry.add(device('NEW1', { ipPrefixes: ['198.18.3.0/24'], cellIds: ['45008-3'] }), 'operator');
    // No poll has run (registryPollMs is an hour here): the batch itself makes live detection read the registry.
    await ingest(ev.session(m + SEC, { serial: 'NEW1', sourceIp: '198.18.3.7', cellIds: ['45008-3'], id: 'n1' }), ev.session(m + 2 * SEC, { serial: 'GHOST1', sourceIp: '198.18.4.7', cellIds: ['45008-4'], id: 'g1' }));
    await live.flush();
    const raised = (await s.alerts.list({ limit: 100 })).map((a) => `${a.rule} ${a.serial ?? a.cellId ?? ''}`).sort();
    expect(raised.filter((x) => x.includes('NEW1') || x.includes('45008-3'))).toEqual([]);
    expect(raised).toContain('unregistered-device GHOST1');
  });

  it('ok/a change older than the watermark takes effect at once; fail/a device new to the registry is registered for its backfilled history', async () => {
    const m = 600;
    const { clock, registry, ingest, alerts, live, stores } = await setup(m);
    // The stream is at m + 60 s (watermark m + 55 s) when a change made at m is polled.
    await ingest(report(m + 60 * SEC, OLD_LINE, 'a'));
    clock.set(new Date(at(m)));
    await registry.update('LV1', { ipPrefixes: ['198.18.9.0/24'] }, 'operator');
    await live.syncRegistry();
    expect(live.stats().sizes.registryChanges).toBe(0);
    await live.flush();
    expect(await alerts('source-ip-mismatch')).toEqual([new Date(at(m + 60 * SEC)).toISOString()]);
    // A unit registered now, its reports of the last minutes ingested afterwards: judged
    // against the record it has (no earlier one exists), so no unregistered-device.
    clock.set(new Date(at(m + 70 * SEC)));
    await registry.add(device('LV2', { ipPrefixes: ['198.18.2.0/24'] }), 'operator');
    await live.syncRegistry();
    await ingest(ev.report(m + 50 * SEC, { serial: 'LV2', sourceIp: '198.18.2.7', id: 'n1' }));
    await live.flush();
    const lv2 = (await stores.alerts.list({ serial: 'LV2', limit: 100 })).map((a) => a.rule);
    expect(lv2).toEqual([]);
    // Control: an unknown serial in the same stream is caught.
    await ingest(ev.report(m + 71 * SEC, { serial: 'LV9', sourceIp: '198.18.2.8', id: 'n2' }));
    await live.flush();
    expect((await stores.alerts.list({ serial: 'LV9', limit: 100 })).map((a) => a.rule)).toContain('unregistered-device');
    expect((await registry.get('LV2')) as Device).toMatchObject({ serial: 'LV2' });
  });
});

