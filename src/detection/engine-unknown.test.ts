/**
 * Device records of serials not in the registry are bounded (admission publishes an event for
 * every refused check-in under the serial the client claimed, so a client without a
 * certificate chooses them): the least recently seen are evicted past a cap, registered
 * serials keep theirs, and the rules still behave when an evicted serial comes back.
 */
import { describe, expect, it } from 'vitest';
import type { Alert } from './alerts.js';
import { detectionConfigSchema } from './config.js';
import { createEngine, UNKNOWN_DEVICE_CAP, type EngineOptions } from './engine.js';
import { RegistryView } from './state.js';
import { device, ev, iso, rng } from './test-kit.js';

const KTF1 = device('KTF1', { cellIds: ['45008-200000001'], ipPrefixes: ['175.198.195.0/24'] });

function engineWith(extra: Partial<EngineOptions> = {}, seen: { alert: Alert; isNew: boolean }[] = []) {
  return createEngine({ registry: RegistryView.from([KTF1]), config: detectionConfigSchema.parse({}), onAlert: (alert, isNew) => seen.push({ alert: { ...alert }, isNew }), ...extra });
}

describe('engine: records of unknown serials are bounded', () => {
  it('fail/a flood of 300,000 distinct unknown serials (reports with 3 neighbours) keeps the records at the cap', () => {
    const engine = engineWith();
    const rand = rng(5);
    engine.push(ev.report(0, { serial: 'KTF1', sourceIp: '175.198.195.7', neighbors: ['45008-9001', '45008-9002'] }));
    let peak = 0;
    for (let i = 0; i < 300_000; i++) {
      const neighbors = [0, 1, 2].map(() => `45008-${Math.floor(rand() * 1e12)}`);
      engine.push(ev.report(1 + i / 1000, { serial: `FLOOD${i}`, sourceIp: `203.0.${(i >> 8) & 255}.${i & 255}`, neighbors }));
      if (i % 10_000 === 0) peak = Math.max(peak, engine.sizes().unknownDevices);
    }
    engine.push(ev.report(400, { serial: 'KTF1', sourceIp: '175.198.195.7', neighbors: ['45008-9001', '45008-9002'] }));
    engine.finish();
    const s = engine.sizes();
    expect(UNKNOWN_DEVICE_CAP).toBe(100_000);
    expect(peak).toBeLessThanOrEqual(UNKNOWN_DEVICE_CAP);
    expect(s.unknownDevices).toBe(UNKNOWN_DEVICE_CAP);
    expect(s.evictedDevices).toBe(200_000);
    // the registered device kept its record through the flood
    expect(s.devices).toBe(UNKNOWN_DEVICE_CAP + 1);
    // 900,000 distinct neighbour ids went by; the records hold at most 3 per kept serial, so
    // the dictionary stays within about twice that (plus the records and the sweep floor).
    expect(s.cellNos).toBeLessThanOrEqual(2 * (3 * UNKNOWN_DEVICE_CAP + UNKNOWN_DEVICE_CAP + 2) + 4096 + 3);
    expect(s.cellSweeps).toBeGreaterThan(0);
  }, 120_000);

  it('fail/the neighbour ids of evicted records are released (swept) like any id nothing holds', () => {
    const engine = engineWith({ unknownDeviceCap: 100, cellSweepMin: 64 });
    const rand = rng(9);
    for (let i = 0; i < 20_000; i++) {
      const neighbors = [0, 1, 2].map(() => `45008-${Math.floor(rand() * 1e12)}`);
      engine.push(ev.report(i / 100, { serial: `FLOOD${i}`, neighbors }));
    }
    engine.finish();
    const s = engine.sizes();
    expect(s.unknownDevices).toBe(100);
    // 60,000 ids sent; 100 records hold 300 of them.
    expect(s.cellNos).toBeLessThanOrEqual(2 * (300 + 100 + 1) + 64 + 3);
    expect(s.cellNoSlots).toBeLessThanOrEqual(2 * (300 + 100 + 1) + 64 + 3);
  });

  it('ok/an unknown serial seen again after its record was evicted raises unregistered-device again, folded into its alert', () => {
    const seen: { alert: Alert; isNew: boolean }[] = [];
    const engine = engineWith({ unknownDeviceCap: 10 }, seen);
    engine.push(ev.session(1, { serial: 'ROGUE1', sourceIp: '211.36.1.9', id: 'r1' }));
    for (let i = 0; i < 50; i++) engine.push(ev.report(2 + i / 10, { serial: `FLOOD${i}`, sourceIp: '198.51.100.1' }));
    engine.push(ev.report(30, { serial: 'ROGUE1', sourceIp: '211.36.1.9', id: 'r2' }));
    engine.finish();
    expect(engine.sizes().unknownDevices).toBe(10);
    // 51 serials through a cap of 10 (41 evictions, ROGUE1 among them), then ROGUE1's new record evicts one more
    expect(engine.sizes().evictedDevices).toBe(42);
    const rogue = seen.filter((x) => x.alert.serial === 'ROGUE1');
    expect(rogue.map((x) => [x.alert.rule, x.isNew])).toEqual([
      ['unregistered-device', true],
      ['unregistered-device', false],
    ]);
    const a = engine.alerts().find((x) => x.serial === 'ROGUE1');
    expect(a).toMatchObject({ rule: 'unregistered-device', count: 2, firstSeen: iso(1), lastSeen: iso(30) });
    // every flood serial raised too, once each
    expect(engine.alerts().filter((x) => x.rule === 'unregistered-device')).toHaveLength(51);
  });

  it('ok/a recently seen unknown serial keeps its state: credential-shared still sees its live session under a flood below the cap', () => {
    const engine = engineWith({ unknownDeviceCap: 10 });
    engine.push(ev.session(1, { serial: 'ROGUE1', sourceIp: '211.36.1.9', sessionId: 'a' }));
    // 9 other unknown serials, ROGUE1 touched in between: it stays among the 10 most recent
    for (let i = 0; i < 9; i++) engine.push(ev.report(2 + i / 10, { serial: `FLOOD${i}` }));
    engine.push(ev.session(3, { serial: 'ROGUE1', sourceIp: '211.36.2.2', sessionId: 'b' }));
    engine.finish();
    expect(engine.sizes().evictedDevices).toBe(0);
    expect(engine.alerts().find((x) => x.rule === 'credential-shared')).toMatchObject({ serial: 'ROGUE1', evidence: { otherSourceIp: '211.36.1.9' } });
  });

  it('ok/a serial registered while its record is among the unknown keeps it and is no longer evicted', () => {
    const engine = engineWith({ unknownDeviceCap: 5 });
    engine.push(ev.report(1, { serial: 'LATE1', sourceIp: '10.0.0.1' }));
    engine.push(ev.report(1.5, { serial: 'LATE2', sourceIp: '10.0.0.2' }));
    engine.drain();
    // one registered by the live registry poll, one by a registry.update event
    engine.registryChange(device('LATE1', { status: 'active' }), NaN);
    engine.push(ev.update(2, { serial: 'LATE2', status: 'active' }));
    for (let i = 0; i < 20; i++) engine.push(ev.report(3 + i / 10, { serial: `FLOOD${i}` }));
    engine.finish();
    const s = engine.sizes();
    expect(s.unknownDevices).toBe(5);
    // 20 unknown serials through a cap of 5: 15 evicted, LATE1 and LATE2 (now registered) kept
    expect(s.evictedDevices).toBe(15);
    expect(s.devices).toBe(5 + 2);
  });
});

describe('engine: device records by the serial\'s bytes (deviceRecords, for replayed reports)', () => {
  it('ok/a registered device\'s record is found from its bytes once a report gave its hash; fail/other bytes under the same hash and unregistered serials are not', () => {
    const engine = engineWith();
    const bytes = (s: string): Uint8Array => Buffer.from(`"${s}"`, 'latin1');
    const { deviceRecords } = engine;
    expect(deviceRecords.ofSerialBytes(bytes('KTF1'), 1, 4, 1234)).toBeUndefined();
    // plain events (live detection's) fill nothing
    engine.push(ev.report(0, { serial: 'KTF1', sourceIp: '175.198.195.7' }));
    expect(deviceRecords.ofSerialBytes(bytes('KTF1'), 1, 4, 1234)).toBeUndefined();
    // a replayed report carries the scanner's hash of its serial (ScannedReport.serialHash)
    engine.push({ ...ev.report(1, { serial: 'KTF1', sourceIp: '175.198.195.7' }), serialHash: 1234 } as unknown as Parameters<typeof engine.push>[0]);
    engine.push({ ...ev.report(2, { serial: 'STRANGER', sourceIp: '203.0.113.9' }), serialHash: 99 } as unknown as Parameters<typeof engine.push>[0]);
    engine.drain();
    const rt = deviceRecords.ofSerialBytes(bytes('KTF1'), 1, 4, 1234);
    expect(rt?.serial).toBe('KTF1');
    // a hint only: warming a held slot or an empty one changes nothing that is found or kept
    const before = engine.sizes();
    deviceRecords.warm(1234);
    deviceRecords.warm(4321);
    expect(deviceRecords.ofSerialBytes(bytes('KTF1'), 1, 4, 1234)).toBe(rt);
    expect(deviceRecords.ofSerialBytes(bytes('KTF1'), 1, 4, 4321)).toBeUndefined();
    expect(engine.sizes()).toEqual(before);
    // a collision of the hash with other bytes (the serial is the sender's choice) is a miss
    expect(deviceRecords.ofSerialBytes(bytes('KTF2'), 1, 4, 1234)).toBeUndefined();
    expect(deviceRecords.ofSerialBytes(bytes('KTF11'), 1, 5, 1234)).toBeUndefined();
    expect(deviceRecords.ofSerialBytes(bytes('STRANGER'), 1, 8, 99)).toBeUndefined();
    // the record handed back with a report (ScannedReport.device) is the one runtimeOf keeps
    engine.push({ ...ev.report(3, { serial: 'KTF1', sourceIp: '175.198.195.8' }), device: rt } as unknown as Parameters<typeof engine.push>[0]);
    engine.finish();
    expect(rt?.lastSeen).toBe(ev.report(3, { serial: 'KTF1' }).t);
    expect(engine.sizes()).toMatchObject({ devices: 2, unknownDevices: 1 });
  });
});

