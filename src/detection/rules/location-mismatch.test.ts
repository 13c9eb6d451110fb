import { describe, expect, it } from 'vitest';
import { detect, device, ev, iso, north } from '../test-kit.js';

const SITE = { lat: 37.5665, lon: 126.978 };
const NEAR = ['45008-100000001', '45008-100000002', '45008-100000003', '45008-100000004', '45008-100000005'];
const FAR = ['45008-100000901', '45008-100000902', '45008-100000903'];
const fleet = [device('KTF78', { cellIds: ['45008-200000078'], siteLat: SITE.lat, siteLon: SITE.lon, siteRadiusM: 300, expectedNeighbors: NEAR })];
const fixAt = (metres: number, accuracyM = 50) => ({ ...north(SITE.lat, SITE.lon, metres), accuracyM });
const gps = (minutes: number, metres: number, accuracyM = 50) => ev.report(minutes, { serial: 'KTF78', gps: fixAt(metres, accuracyM) });
const scan = (minutes: number, neighbors: string[]) => ev.report(minutes, { serial: 'KTF78', neighbors });

describe('location-mismatch', () => {
  it('ok/two GPS fixes in a row outside radius + accuracy + margin: high, with distance and allowance', () => {
    const r = detect(fleet, [gps(0, 10), gps(15, 2000), gps(30, 2100)]);
    const a = r.one('location-mismatch');
    expect(a).toMatchObject({ rule: 'location-mismatch', severity: 'high', serial: 'KTF78', ts: iso(30) });
    expect(a.evidence).toMatchObject({ kind: 'gps', allowedM: 550, consecutive: 2, site: { lat: SITE.lat, lon: SITE.lon, radiusM: 300 } });
    expect(a.evidence.distanceM).toBeGreaterThanOrEqual(2095);
    expect(a.evidence.distanceM).toBeLessThanOrEqual(2105);
  });

  it('ok/two neighbour scans in a row that hear none of the expected cells', () => {
    const r = detect(fleet, [scan(0, NEAR.slice(0, 3)), scan(15, FAR), scan(30, FAR)]);
    const a = r.one('location-mismatch');
    expect(a).toMatchObject({ ts: iso(30), evidence: { kind: 'neighbors', overlap: 0, consecutive: 2, neighbors: FAR } });
  });

  it('fail/GPS jitter within radius + accuracy + margin, fix after fix', () => {
    const events = [0, 10, 20, 30, 40].map((m, i) => gps(m, [520, 545, 40, 530, 300][i] as number));
    expect(detect(fleet, events).alerts).toEqual([]);
    // Without the margin the same fixes are outside: the margin is read from config.
    expect(detect(fleet, events, { rules: { 'location-mismatch': { marginM: 0 } } }).one('location-mismatch').evidence).toMatchObject({ allowedM: 350 });
  });

  it('fail/a poor fix whose accuracy covers the distance', () => {
    expect(detect(fleet, [gps(0, 1400, 1000), gps(10, 1450, 1000)]).alerts).toEqual([]);
  });

  it('fail/a single odd scan or fix between normal ones', () => {
    const r = detect(fleet, [scan(0, NEAR.slice(0, 4)), scan(10, FAR), scan(20, NEAR.slice(1, 3)), gps(30, 5000), gps(40, 20), gps(50, 5000)]);
    // (device-moving may well see those jumps; this rule must not)
    expect(r.of('location-mismatch')).toEqual([]);
    // One odd scan is enough once consecutiveScans is 1.
    expect(detect(fleet, [scan(0, FAR)], { rules: { 'location-mismatch': { consecutiveScans: 1 } } }).one('location-mismatch').ts).toBe(iso(0));
  });

  it('fail/scans that hear a subset of the expected cells, or mostly them plus a stranger', () => {
    const r = detect(fleet, [scan(0, [NEAR[0] as string]), scan(10, [NEAR[1] as string, NEAR[2] as string]), scan(20, [NEAR[3] as string, FAR[0] as string]), scan(30, [NEAR[4] as string, FAR[1] as string])]);
    expect(r.of('location-mismatch')).toEqual([]);
  });

  it('ok/minNeighborOverlap is read: one expected cell among five heard is too few at 0.5', () => {
    const mostlyFar = [NEAR[0] as string, ...FAR, '45008-100000904'];
    const events = [scan(0, mostlyFar), scan(10, mostlyFar)];
    expect(detect(fleet, events).alerts).toEqual([]);
    expect(detect(fleet, events, { rules: { 'location-mismatch': { minNeighborOverlap: 0.5 } } }).one('location-mismatch').evidence).toMatchObject({ overlap: 0.2 });
  });

  it('fail/a relocation announced by registry.update: fixes and scans at the new site', () => {
    const NEW = north(SITE.lat, SITE.lon, 8000);
    const r = detect(fleet, [
      gps(0, 8000), // moved before the registry caught up: one bad fix
      scan(1, FAR),
      ev.update(5, { serial: 'KTF78', siteLat: NEW.lat, siteLon: NEW.lon, expectedNeighbors: FAR }),
      gps(10, 8010),
      scan(11, FAR),
      gps(20, 7990),
      scan(21, FAR.slice(0, 2)),
    ]);
    expect(r.alerts).toEqual([]);
  });

  it('fail/a device without a registered site or expected neighbours, and an unregistered serial', () => {
    const r = detect([device('KTF1')], [
      ev.report(0, { serial: 'KTF1', gps: fixAt(9000), neighbors: FAR }),
      ev.report(10, { serial: 'KTF1', gps: fixAt(9000), neighbors: FAR }),
      ev.report(20, { serial: 'KTF1', gps: fixAt(9000), neighbors: FAR }),
    ]);
    expect(r.of('location-mismatch')).toEqual([]);
  });
});
