/**
 * Registry changes: an offline `registry.update` event and the same change from the live
 * registry poll (`registryChange`) are judged alike; and the newest record of a device wins.
 */
import { describe, expect, it } from 'vitest';
import { validateEvent, type FgEvent, type RegistryUpdateEvent } from '../events/index.js';
import type { Alert } from './alerts.js';
import { detectionConfigSchema } from './config.js';
import { createEngine } from './engine.js';
import { RegistryView } from './state.js';
import { MIN, at, detect, device, ev, fp, imsi, iso, north } from './test-kit.js';

const SITE = { lat: 37.5665, lon: 126.978 };
const cells = (from: number): string[] => [0, 1, 2].map((k) => `45008-1${String(from + k).padStart(8, '0')}`);
const HOME = [...cells(1), ...cells(11)];
const AWAY = cells(901);
const unit = device('KTF7', { cellIds: ['45008-200000007'], siteLat: SITE.lat, siteLon: SITE.lon, expectedNeighbors: HOME, ipPrefixes: ['175.198.195.0/24'] });
const summary = (alerts: Alert[]): string[] => alerts.map((a) => `${a.rule} ${a.serial ?? ''} ${a.ts} ${a.count}`);

// At home at 0 and 3 (two disjoint scans of expected cells: one device-moving move); 10 km off
// hearing strangers at 6 (a move; the first bad fix and scan), the update at 10, then 14 km off
// at 15 hearing other strangers (the third move; the second bad fix and scan in a row).
const report = (m: number, metres: number, neighbors: string[]): FgEvent => ev.report(m, { serial: 'KTF7', id: `r${m}`, gps: { ...north(SITE.lat, SITE.lon, metres), accuracyM: 30 }, neighbors });
const stream = [report(0, 0, cells(1)), report(3, 0, cells(11)), report(6, 10_000, cells(501)), report(15, 14_000, AWAY)];

describe('engine: registry.update and the live registry poll start the location rules over alike', () => {
  it('fail/a status-only registry.update no longer resets location-mismatch and device-moving', () => {
    const plain = detect([unit], stream);
    expect(plain.of('location-mismatch').map((a) => a.ts)).toEqual([iso(15)]);
    expect(plain.one('device-moving').ts).toBe(iso(15));
    const withStatus = detect([unit], [...stream, ev.update(10, { serial: 'KTF7', status: 'active' })].sort((a, b) => a.t - b.t));
    expect(summary(withStatus.alerts)).toEqual(summary(plain.alerts));
    // A certificate change is no move either.
    const withCert = detect([unit], [...stream, ev.update(10, { serial: 'KTF7', certFingerprints: ['ab'.repeat(32)] })].sort((a, b) => a.t - b.t));
    expect(summary(withCert.alerts)).toEqual(summary(plain.alerts));
  });

  it('ok/a relocation by registry.update still starts both over', () => {
    const moved = detect([unit], [...stream, ev.update(10, { serial: 'KTF7', siteLat: north(SITE.lat, SITE.lon, 14_000).lat, expectedNeighbors: AWAY })].sort((a, b) => a.t - b.t));
    expect(moved.of('location-mismatch')).toEqual([]);
    expect(moved.of('device-moving')).toEqual([]);
  });

  const cases: [string, Record<string, unknown>, Partial<Parameters<typeof device>[1]>][] = [
    ['a relocation', { siteLat: north(SITE.lat, SITE.lon, 14_000).lat, expectedNeighbors: AWAY }, { siteLat: north(SITE.lat, SITE.lon, 14_000).lat, expectedNeighbors: AWAY }],
    ['a status-only change', { status: 'active' }, {}],
    ['a status change to suspended', { status: 'suspended' }, { status: 'suspended' }],
  ];
  for (const [name, update, fields] of cases) {
    it(`ok/${name}: live registryChange and offline registry.update give identical alerts`, () => {
      const offline = detect([unit], [...stream, ev.update(10, { serial: 'KTF7', ...update })].sort((a, b) => a.t - b.t));
      const live = createEngine({ registry: RegistryView.from([unit]), config: detectionConfigSchema.parse({}) });
      for (const e of stream.slice(0, 3)) live.push(e);
      live.registryChange({ ...unit, ...fields }, at(10));
      for (const e of stream.slice(3)) live.push(e);
      live.finish();
      expect(summary(live.alerts())).toEqual(summary(offline.alerts));
      expect(offline.alerts.length).toBeGreaterThanOrEqual(name === 'a relocation' ? 0 : 2);
    });
  }
});

describe('engine: a registry change with no usable time', () => {
  const OLD = { ipPrefixes: ['175.198.195.0/24'] };
  const NEW = { ipPrefixes: ['10.9.9.0/24'] };
  const cfg = detectionConfigSchema.parse({ maxOutOfOrderMs: 2 * MIN });
  const r = (m: number, ip: string, serial = 'KTF7'): FgEvent => ev.report(m, { serial, sourceIp: ip, id: `${serial}-${m}` });

  it('fail/applied at once, it drops an older held change of the same device (the newest record wins)', () => {
    const engine = createEngine({ registry: RegistryView.from([device('KTF7', OLD), device('KTF8', OLD)]), config: cfg });
    engine.push(r(1, '175.198.195.9'));
    engine.push(r(4, '175.198.195.9')); // watermark 2
    engine.registryChange(device('KTF7', NEW), at(5)); // held until an event reaches 5
    engine.registryChange(device('KTF8', NEW), at(5)); // another device's: stays held
    expect(engine.sizes().registryChanges).toBe(2);
    // A later poll reads KTF7's record back on the old line, with a time that does not parse.
    engine.registryChange(device('KTF7', OLD), NaN);
    expect(engine.sizes().registryChanges).toBe(1);
    for (const m of [6, 7, 8]) engine.push(r(m, '175.198.195.9'));
    engine.push(r(9, '175.198.195.9', 'KTF8'));
    engine.finish();
    // KTF7 stays on the old line (no alert); KTF8's held change did take effect at 5.
    expect(summary(engine.alerts())).toEqual([`source-ip-mismatch KTF8 ${iso(9)} 1`]);
  });

  it('ok/a finite time older than the watermark also drops later held changes of the device, after applying the older ones', () => {
    const engine = createEngine({ registry: RegistryView.from([device('KTF7', OLD)]), config: cfg });
    engine.push(r(1, '175.198.195.9'));
    engine.push(r(10, '175.198.195.9')); // watermark 8
    engine.registryChange(device('KTF7', NEW), at(12));
    engine.registryChange(device('KTF7', { ipPrefixes: ['192.0.2.0/24'] }), at(9)); // applied at once
    engine.registryChange(device('KTF7', OLD), at(7)); // the newest read: the old line again
    expect(engine.sizes().registryChanges).toBe(0);
    for (const m of [11, 12, 13]) engine.push(r(m, '175.198.195.9'));
    engine.finish();
    expect(engine.alerts()).toEqual([]);
  });
});

describe('engine: registry.update values are the registry CSV values (FORMATS.md §1: same fields as a CSV row)', () => {
  const FP = fp('shared-credential');
  const written = FP.toUpperCase().match(/../g)!.join(':');

  it('fail/a fingerprint written in upper case with colons is stored as the CSV stores it, so a second device presenting it is caught', () => {
    const fleet = [device('D1', { ipPrefixes: ['10.0.0.0/8'] }), device('D2', { ipPrefixes: ['10.0.0.0/8'] })];
    const r = detect(fleet, [ev.update(1, { serial: 'D2', certFingerprints: [written] }), ev.session(2, { serial: 'D1', sourceIp: '10.9.9.9', certFingerprint: FP })]);
    expect(r.one('credential-shared')).toMatchObject({ serial: 'D1', evidence: { certFingerprint: FP, otherSerial: 'D2' } });
  });

  it('fail/cell ids are trimmed as in the CSV: the updated cell is registered', () => {
    const r = detect([device('D1')], [ev.update(1, { serial: 'D1', cellIds: [' 45008-77 '] }), ev.attach(2, { cellId: '45008-77', imsi: imsi(1) })]);
    expect(r.of('unregistered-cell')).toEqual([]);
  });

  it('fail/applyUpdate never drops a prefix it cannot read: it throws, naming the device, and changes nothing', () => {
    const view = RegistryView.from([device('D1', { ipPrefixes: ['10.0.0.0/8'] })]);
    const version = view.version;
    // Built by hand: validateEvent refuses this line, so only a bug upstream could bring it here.
    const bad = { type: 'registry.update', serial: 'D1', ts: iso(1), t: at(1), ipPrefixes: ['10.1.2.0/16'] } as unknown as RegistryUpdateEvent;
    expect(() => view.applyUpdate(bad)).toThrow(/registry\.update for D1: ipPrefixes .*10\.1\.2\.0\/16/);
    expect(view.get('D1')?.ipPrefixes).toEqual(['10.0.0.0/8']);
    expect(view.version).toBe(version);
  });

  it('ok/an update the validator refuses is no event: the device keeps its line and source-ip-mismatch still fires', () => {
    expect(validateEvent({ type: 'registry.update', serial: 'D1', ts: iso(1), ipPrefixes: ['10.1.2.0/16'] }).ok).toBe(false);
    const r = detect([device('D1', { ipPrefixes: ['10.0.0.0/8'] })], [ev.session(2, { serial: 'D1', sourceIp: '203.0.113.9' })]);
    expect(r.one('source-ip-mismatch').evidence).toMatchObject({ ipPrefixes: ['10.0.0.0/8'] });
  });
});
