import { describe, expect, it } from 'vitest';
import { detect, device, ev, iso, north } from '../test-kit.js';

const SITE = { lat: 37.5665, lon: 126.978 };
const fleet = [device('KTF96', { cellIds: ['45008-200000096'] })];
const gps = (minutes: number, metres: number, accuracyM = 50) => ev.report(minutes, { serial: 'KTF96', gps: { ...north(SITE.lat, SITE.lon, metres), accuracyM } });
const cells = (...n: number[]) => n.map((k) => `45008-1000${String(k).padStart(5, '0')}`);
const scan = (minutes: number, neighbors: string[]) => ev.report(minutes, { serial: 'KTF96', neighbors });

describe('device-moving', () => {
  it('ok/three GPS jumps within the window: high, at the fix that made the third move', () => {
    const r = detect(fleet, [gps(0, 0), gps(20, 2000), gps(40, 5000), gps(60, 9000)]);
    const a = r.one('device-moving');
    expect(a).toMatchObject({ rule: 'device-moving', severity: 'high', serial: 'KTF96', ts: iso(60) });
    expect(a.evidence.moves).toEqual([iso(20), iso(40), iso(60)]);
    expect((a.evidence.latest as string[])[0]).toMatch(/^GPS moved 400\d m$/);
  });

  it('ok/neighbour scans that share nothing with the last scans, three times', () => {
    const r = detect(fleet, [scan(0, cells(1, 2, 3)), scan(15, cells(11, 12, 13)), scan(30, cells(21, 22)), scan(45, cells(31, 32, 33))]);
    expect(r.one('device-moving')).toMatchObject({ ts: iso(45), evidence: { moves: [iso(15), iso(30), iso(45)], neighbors: cells(31, 32, 33) } });
  });

  it('fail/GPS jitter within both fixes\' accuracy plus minMoveM', () => {
    const events = [0, 10, 20, 30, 40, 50].map((m, i) => gps(m, [0, 550, 20, 560, 10, 540][i] as number));
    expect(detect(fleet, events).alerts).toEqual([]);
    // minMoveM is read: with 300 m the same jitter is three moves and more.
    expect(detect(fleet, events, { rules: { 'device-moving': { minMoveM: 300 } } }).one('device-moving').ts).toBe(iso(30));
  });

  it('fail/scans that are subsets of the same few cells', () => {
    const home = [cells(1, 2), cells(3, 4), cells(5, 1), cells(2, 3, 4), cells(5), cells(1, 2, 3, 4, 5), cells(4, 5), cells(1, 3)];
    expect(detect(fleet, home.map((n, i) => scan(i * 10, n))).alerts).toEqual([]);
  });

  it('fail/moves spread wider than windowMs; ok/once the window is longer', () => {
    const events = [gps(0, 0), gps(7 * 60, 3000), gps(14 * 60, 6000), gps(21 * 60, 9000)];
    expect(detect(fleet, events).alerts).toEqual([]);
    expect(detect(fleet, events, { rules: { 'device-moving': { windowMs: 24 * 3_600_000 } } }).one('device-moving').ts).toBe(iso(21 * 60));
  });

  it('ok/the number of moves is read from config', () => {
    const events = [gps(0, 0), gps(20, 2000), gps(40, 5000)];
    expect(detect(fleet, events).alerts).toEqual([]);
    expect(detect(fleet, events, { rules: { 'device-moving': { moves: 2 } } }).one('device-moving').ts).toBe(iso(40));
  });

  it('ok/maxNeighborJaccard is read: scans sharing one cell each are moves at 0.3, not at the default 0.1', () => {
    // Jaccard with the cells of the last scans: 1/5, 1/7, 1/9.
    const events = [scan(0, cells(1, 2, 3)), scan(10, cells(3, 4, 5)), scan(20, cells(5, 6, 7)), scan(30, cells(7, 8, 9))];
    expect(detect(fleet, events).alerts).toEqual([]);
    expect(detect(fleet, events, { rules: { 'device-moving': { maxNeighborJaccard: 0.3 } } }).one('device-moving').ts).toBe(iso(30));
  });

  it('fail/a relocation announced by registry.update starts the count over', () => {
    const NEW = north(SITE.lat, SITE.lon, 9000);
    const events = [gps(0, 0), gps(20, 2000), gps(40, 5000), ev.update(50, { serial: 'KTF96', siteLat: NEW.lat, siteLon: NEW.lon }), gps(60, 9000), gps(80, 9010)];
    expect(detect(fleet, events).alerts).toEqual([]);
    // Without the update the fix at 9 km is the third move.
    expect(detect(fleet, events.filter((e) => e.type !== 'registry.update')).one('device-moving').ts).toBe(iso(60));
  });

  it('fail/neighbour cell ids a rogue reports are quoted in the summary, a long scan cut; the evidence keeps them as sent', () => {
    const odd = ['45008-1 (test drive, ignore)', ...cells(41, 42, 43, 44, 45, 46, 47, 48, 49)];
    const r = detect(fleet, [scan(0, cells(1, 2, 3)), scan(15, cells(11, 12, 13)), scan(30, cells(21, 22)), scan(45, odd)]);
    const a = r.one('device-moving');
    expect(a.summary).toContain('"KTF96" moved 3 times');
    expect(a.summary).toContain(`scan of "45008-1 (test drive, ignore)", ${cells(41, 42, 43, 44, 45, 46, 47).map((c) => `"${c}"`).join(', ')} and 2 more shares nothing with the last 3 scans`);
    expect((a.evidence.latest as string[])[0]).toBe(`scan ${odd.join(' ')} shares nothing with the last 3 scans`);
  });
});
