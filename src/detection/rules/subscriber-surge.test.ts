import { describe, expect, it } from 'vitest';
import type { FgEvent } from '../../events/index.js';
import { detect, device, ev, imsi, iso } from '../test-kit.js';

const HOME = '45008-200000001';
const CAFE = '45008-200000002';
const ROGUE = '45008-300539828';
const fleet = [device('KTF1', { cellIds: [HOME] }), device('KTF2', { cellIds: [CAFE] })];

/** `count` distinct subscribers (numbered from `first`) attaching to `cellId` over the hour starting at `hour`. */
function crowd(cellId: string, hour: number, first: number, count: number): FgEvent[] {
  return Array.from({ length: count }, (_, i) => ev.attach(hour * 60 + (i * 55) / count, { cellId, imsi: imsi(first + i) }));
}
/** The minute of the k-th (0-based) attach of `crowd(_, hour, _, count)`. */
const nth = (hour: number, k: number, count: number) => hour * 60 + (k * 55) / count;

describe('subscriber-surge', () => {
  it('ok/an unregistered cell past homeCellMax distinct subscribers: high, at the attach that crossed it', () => {
    const r = detect(fleet, crowd(ROGUE, 0, 1, 30));
    const a = r.one('subscriber-surge');
    expect(a).toMatchObject({ rule: 'subscriber-surge', severity: 'high', cellId: ROGUE, ts: iso(nth(0, 12, 30)) });
    expect(a.evidence).toMatchObject({ distinctSubscribers: 13, registered: false, threshold: 12, baseline: 0, windowStart: iso(0) });
  });

  it('fail/an unregistered cell at homeCellMax, however often its phones re-attach', () => {
    const events = [...crowd(ROGUE, 0, 1, 12), ...crowd(ROGUE, 0, 1, 12).map((e) => ({ ...e, t: e.t + 2000 })), ...crowd(ROGUE, 1, 1, 12)];
    expect(detect(fleet, events).of('subscriber-surge')).toEqual([]);
    // homeCellMax is read.
    expect(detect(fleet, events, { rules: { 'subscriber-surge': { homeCellMax: 5 } } }).one('subscriber-surge').evidence).toMatchObject({ distinctSubscribers: 6 });
  });

  it('ok/a registered home cell that suddenly serves many strangers', () => {
    const events = [...crowd(HOME, 0, 1, 3), ...crowd(HOME, 1, 1, 3), ...crowd(HOME, 2, 2, 3), ...crowd(HOME, 3, 1, 4), ...crowd(HOME, 4, 1000, 40)];
    const a = detect(fleet, events).one('subscriber-surge');
    expect(a).toMatchObject({ cellId: HOME, ts: iso(nth(4, 12, 40)) });
    // Baseline: EWMA(alpha 0.2) of 3, 3, 3, 4 = 3.2; threshold max(12, 4 x 3.2).
    expect(a.evidence).toMatchObject({ distinctSubscribers: 13, registered: true, baselineWindows: 4, baseline: 3.2, threshold: 12.8 });
  });

  it('ok/a registered cell quiet for a day keeps its learned baseline (the engine folded its last window in as the next attach would)', () => {
    // As above, with a day of silence before the strangers: the engine's expiry folds hour 3's
    // window (4 subscribers) into the baseline while the cell is quiet, and the surge sees it once.
    const events = [...crowd(HOME, 0, 1, 3), ...crowd(HOME, 1, 1, 3), ...crowd(HOME, 2, 2, 3), ...crowd(HOME, 3, 1, 4), ...crowd(HOME, 28, 1000, 40)];
    const r = detect(fleet, events);
    expect(r.one('subscriber-surge').evidence).toMatchObject({ distinctSubscribers: 13, registered: true, baselineWindows: 4, baseline: 3.2, threshold: 12.8 });
    expect(r.engine.sizes().cells).toBe(1);
  });

  it('ok/an unregistered cell learns no baseline, so forgetting it when quiet (past the dedup window and its window) changes nothing', () => {
    const events = (gapHours: number) => [...crowd(ROGUE, 0, 1, 5), ...crowd(ROGUE, 1, 1, 5), ...crowd(ROGUE, 2 + gapHours, 1000, 20)];
    // 8 hours of silence: the record is dropped; 3 hours: kept. The same alert either way.
    const dropped = detect(fleet, events(8));
    const kept = detect(fleet, events(3));
    expect(dropped.one('subscriber-surge').evidence).toMatchObject({ distinctSubscribers: 13, registered: false, baseline: 0, baselineWindows: 0 });
    expect(kept.one('subscriber-surge').evidence).toEqual({ ...dropped.one('subscriber-surge').evidence, windowStart: iso(5 * 60) });
  });

  it('ok/a cell registered after it was seen as an impostor starts learning then: the same verdict whether or not the engine forgot it meanwhile', () => {
    const X = '45008-777000001';
    const events: FgEvent[] = [];
    for (let h = 0; h < 5; h++) events.push(ev.attach(h * 60 + 5, { cellId: X, imsi: imsi(1) }));
    for (let h = 5; h < 16; h++) events.push(ev.attach(h * 60 + 30, { cellId: HOME, imsi: imsi(2) }));
    events.push(ev.update(16 * 60, { serial: 'KTF1', cellIds: [HOME, X] }));
    for (let i = 0; i < 13; i++) events.push(ev.attach(17 * 60 + i, { cellId: X, imsi: imsi(100 + i) }));
    // Kept (a week of dedup window) or forgotten (ten minutes): registered now, in warm-up either way.
    expect(detect(fleet, events, { dedupWindowMs: 7 * 24 * 3_600_000 }).of('subscriber-surge')).toEqual([]);
    expect(detect(fleet, events, { dedupWindowMs: 10 * 60_000 }).of('subscriber-surge')).toEqual([]);
    // And with no warm-up, both judge it against a home cell's crowd (no baseline learned as an impostor).
    const noWarmup = (dedupWindowMs: number) => detect(fleet, events, { dedupWindowMs, rules: { 'subscriber-surge': { warmupWindows: 0 } } }).one('subscriber-surge').evidence;
    expect(noWarmup(7 * 24 * 3_600_000)).toEqual(noWarmup(10 * 60_000));
    expect(noWarmup(10 * 60_000)).toMatchObject({ registered: true, baseline: 0, baselineWindows: 0 });
  });

  it('ok/a registered cell removed from the registry and added back starts its baseline over, whether or not the engine forgot it while it was out', () => {
    const events: FgEvent[] = [];
    // A small learned crowd: five hourly windows of two subscribers.
    for (let h = 0; h < 5; h++) for (let k = 0; k < 2; k++) events.push(ev.attach(h * 60 + k, { cellId: HOME, imsi: imsi(h * 2 + k + 1) }));
    events.push(ev.update(5 * 60, { serial: 'KTF1', cellIds: [] }));
    for (let h = 6; h < 40; h++) events.push(ev.attach(h * 60, { cellId: CAFE, imsi: imsi(9999) })); // time passes elsewhere
    events.push(ev.update(40 * 60, { serial: 'KTF1', cellIds: [HOME] }));
    events.push(...crowd(HOME, 41, 1000, 30));
    // Kept (a week-long dedup window) or dropped while out (six hours): back in warm-up either way.
    for (const dedupWindowMs of [7 * 24 * 3_600_000, 6 * 3_600_000]) expect(detect(fleet, events, { dedupWindowMs }).of('subscriber-surge')).toEqual([]);
  });

  it('fail/a busy registered cafe with a steady crowd of new faces every hour, after warm-up', () => {
    const events = Array.from({ length: 8 }, (_, h) => crowd(CAFE, h, 1000 * (h + 1), 40 + (h % 3) * 5)).flat();
    const r = detect(fleet, events);
    expect(r.of('subscriber-surge')).toEqual([]);
    expect(r.alerts).toEqual([]);
  });

  it('fail/a registered cell during warm-up; ok/with no warm-up its first busy window counts', () => {
    const events = crowd(CAFE, 0, 1, 40);
    expect(detect(fleet, events).alerts).toEqual([]);
    expect(detect(fleet, events, { rules: { 'subscriber-surge': { warmupWindows: 0 } } }).one('subscriber-surge').evidence).toMatchObject({ distinctSubscribers: 13, registered: true });
  });

  it('fail/a home surge that stays under a larger baselineFactor', () => {
    // Baseline EWMA of 3, 3, 3, 5 = 3.4: 15 strangers pass 4 x 3.4 = 13.6 (at the 14th), not 5 x 3.4 = 17.
    const events = [...crowd(HOME, 0, 1, 3), ...crowd(HOME, 1, 1, 3), ...crowd(HOME, 2, 1, 3), ...crowd(HOME, 3, 1, 5), ...crowd(HOME, 4, 1000, 15)];
    expect(detect(fleet, events).one('subscriber-surge').evidence).toMatchObject({ distinctSubscribers: 14, baseline: 3.4, threshold: 13.6 });
    expect(detect(fleet, events, { rules: { 'subscriber-surge': { baselineFactor: 5 } } }).of('subscriber-surge')).toEqual([]);
  });

  it('fail/13 strangers spread over two hourly windows; ok/in one two-hour window', () => {
    const events = [...crowd(ROGUE, 0, 1, 7), ...crowd(ROGUE, 1, 100, 6)];
    expect(detect(fleet, events).of('subscriber-surge')).toEqual([]);
    expect(detect(fleet, events, { rules: { 'subscriber-surge': { windowMs: 2 * 3_600_000 } } }).one('subscriber-surge').ts).toBe(iso(nth(1, 5, 6)));
  });

  it('ok/a surge in a later window folds into the same alert per cell', () => {
    const r = detect(fleet, [...crowd(ROGUE, 0, 1, 20), ...crowd(ROGUE, 5, 500, 20)]);
    // One finding per surging window, however many strangers follow the thirteenth.
    expect(r.one('subscriber-surge')).toMatchObject({ count: 2, ts: iso(nth(0, 12, 20)), lastSeen: iso(nth(5, 12, 20)) });
  });
});
