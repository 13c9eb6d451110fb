/**
 * The engine's cell-number dictionary (RuleContext.cellNo) is bounded by what the device
 * records hold, not by the neighbour ids devices have ever sent, and freeing numbers changes
 * no finding.
 */
import { describe, expect, it } from 'vitest';
import { createRecords, EventDecoder, scanEvent, type FgEvent } from '../events/index.js';
import { detectionConfigSchema } from './config.js';
import { createEngine } from './engine.js';
import { RegistryView } from './state.js';
import { device, ev, north, rng } from './test-kit.js';

const SITE = { lat: 37.5665, lon: 126.978 };
const cell = (k: number): string => `45008-1${String(k).padStart(8, '0')}`;
const HOME = [cell(1), cell(2), cell(3), cell(4)];

function run(devices: ReturnType<typeof device>[], events: readonly FgEvent[], cellSweepMin?: number) {
  const engine = createEngine({ registry: RegistryView.from(devices), config: detectionConfigSchema.parse({}), ...(cellSweepMin !== undefined ? { cellSweepMin } : {}) });
  let peak = 0;
  for (const e of events) {
    engine.push(e);
    peak = Math.max(peak, engine.sizes().cellNos);
  }
  engine.finish();
  return { engine, peak, alerts: engine.alerts() };
}

describe('engine: cell numbers are bounded by live state', () => {
  it('fail/2000 reports of 100 fresh random neighbour ids from one serial do not grow the dictionary', () => {
    const rand = rng(11);
    const fresh = (): string => `45008-${Math.floor(rand() * 1e12)}`;
    const events = Array.from({ length: 2000 }, (_, i) => ev.report(i * 0.5, { serial: 'KTF1', neighbors: Array.from({ length: 100 }, fresh) }));
    const { engine, peak } = run([device('KTF1', { siteLat: SITE.lat, siteLon: SITE.lon, expectedNeighbors: HOME })], events);
    const s = engine.sizes();
    // 200 000 distinct ids went by; the records hold at most the last 3 scans (300) and the 4
    // expected cells. Bound: the sweep floor (4096) + twice what is held + one report.
    expect(peak).toBeLessThanOrEqual(4096 + 2 * (300 + 4 + 1) + 100);
    expect(s.cellNoSlots).toBeLessThanOrEqual(4096 + 2 * (300 + 4 + 1) + 100);
    expect(s.cellSweeps).toBeGreaterThan(10);
    // With a small floor the dictionary tracks the held scans closely.
    const small = run([device('KTF1', { siteLat: SITE.lat, siteLon: SITE.lon, expectedNeighbors: HOME })], events, 64);
    expect(small.peak).toBeLessThanOrEqual(3 * (300 + 4 + 1) + 100);
  });

  it('ok/freeing and reusing numbers changes no finding (device-moving, location-mismatch, relocations, fresh-id noise)', () => {
    const rand = rng(5);
    const devices = [
      device('HOME1', { siteLat: SITE.lat, siteLon: SITE.lon, expectedNeighbors: HOME }),
      device('AWAY1', { siteLat: SITE.lat, siteLon: SITE.lon, expectedNeighbors: HOME }),
      device('DRIVE', { siteLat: SITE.lat, siteLon: SITE.lon, expectedNeighbors: HOME }),
      device('NOISE'),
    ];
    const events: FgEvent[] = [];
    let id = 0;
    const pick = (from: number, n: number): string[] => Array.from({ length: n }, () => cell(from + Math.floor(rand() * 8)));
    for (let m = 0; m < 600; m += 1) {
      const e = (serial: string, neighbors: string[], gpsM?: number): FgEvent =>
        ev.report(m + rand() * 0.5, { serial, neighbors, id: `e${id++}`, ...(gpsM !== undefined ? { gps: { ...north(SITE.lat, SITE.lon, gpsM), accuracyM: 30 } } : {}) });
      // A unit at home hears its expected cells; another hears a mix (sometimes too few of them).
      events.push(e('HOME1', pick(1, 3)));
      events.push(e('AWAY1', rand() < 0.5 ? pick(1, 2) : pick(500, 4)));
      // One driven around: every few minutes a new neighbourhood, sometimes a far GPS fix.
      if (m % 7 === 0) events.push(e('DRIVE', pick(1000 + m * 10, 3 + (m % 5)), m % 21 === 0 ? m * 100 : undefined));
      // Fresh ids every minute (the attack): numbers get freed and reused under the others.
      events.push(e('NOISE', Array.from({ length: 40 }, () => `45008-9${Math.floor(rand() * 1e9)}`)));
      if (m === 300) events.push(ev.update(m, { serial: 'AWAY1', siteLat: north(SITE.lat, SITE.lon, 5000).lat, expectedNeighbors: [cell(500), cell(501)] }));
      if (m === 400) events.push(ev.update(m, { serial: 'DRIVE', status: 'active' }));
    }
    const ref = run(devices, events, Number.MAX_SAFE_INTEGER);
    expect(ref.engine.sizes().cellSweeps).toBe(0);
    const swept = run(devices, events, 0);
    expect(swept.engine.sizes().cellSweeps).toBeGreaterThan(50);
    expect(swept.engine.sizes().cellNoSlots).toBeLessThan(ref.engine.sizes().cellNos / 5);
    const rules = new Set(ref.alerts.map((a) => a.rule));
    expect(rules).toEqual(new Set(['device-moving', 'location-mismatch']));
    expect(swept.alerts).toEqual(ref.alerts);
    // The replay's reports (EventDecoder.decodeForEngine) number their neighbours from the
    // line's bytes: the same findings, with the sweeps freeing and reusing numbers under them.
    const decoder = new EventDecoder();
    const scanned = events.map((e): FgEvent => {
      if (e.type !== 'femto.report') return e;
      const line = Buffer.from(JSON.stringify({ ...e, t: undefined }));
      const rec = createRecords(1);
      expect(scanEvent(line, 0, line.length, rec, 0)).toBe(true);
      return decoder.decodeForEngine(line, rec, 0);
    });
    const bytes = run(devices, scanned, 0);
    expect(bytes.engine.sizes().cellSweeps).toBe(swept.engine.sizes().cellSweeps);
    expect(bytes.alerts).toEqual(ref.alerts);
  });
});
