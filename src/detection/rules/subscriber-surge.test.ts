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
    // Level: 3 after warm-up; hour 3's 4 lifts it by at most 3^(1/24) an hour: 3.139, faded
    // an hour (half-life a week): 3.126; threshold max(12, 4 x 3.126).
    expect(a.evidence).toMatchObject({ distinctSubscribers: 13, registered: true, baselineWindows: 4, baseline: 3.13, recentLevel: 3.13, sameHourOfWeek: 0, threshold: 12.51 });
  });

  it('ok/a registered cell quiet for a day keeps its learned level, faded (the engine folded its last window in as the next attach would)', () => {
    // As above, with a day of silence before the strangers: the engine's expiry folds hour 3's
    // window (4 subscribers) into the level while the cell is quiet, and the surge sees it once.
    const events = [...crowd(HOME, 0, 1, 3), ...crowd(HOME, 1, 1, 3), ...crowd(HOME, 2, 2, 3), ...crowd(HOME, 3, 1, 4), ...crowd(HOME, 28, 1000, 40)];
    const r = detect(fleet, events);
    // 3.139 faded 25 hours: 2.83.
    expect(r.one('subscriber-surge').evidence).toMatchObject({ distinctSubscribers: 13, registered: true, baselineWindows: 4, baseline: 2.83, threshold: 12 });
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
    // Level 3.126 (as above: hour 3's 5 is capped at 3.139): 15 strangers pass 4 x 3.126 = 12.51 (at the 13th), not 5 x 3.126 = 15.63.
    const events = [...crowd(HOME, 0, 1, 3), ...crowd(HOME, 1, 1, 3), ...crowd(HOME, 2, 1, 3), ...crowd(HOME, 3, 1, 5), ...crowd(HOME, 4, 1000, 15)];
    expect(detect(fleet, events).one('subscriber-surge').evidence).toMatchObject({ distinctSubscribers: 13, baseline: 3.13, threshold: 12.51 });
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

  // Streams after the reviewer's scenarios (/tmp/review8/e gen.py, gen2.py): hour h of day d is `d * 24 + h`.

  /** `count` subscribers numbered from `first` attaching to `cellId` within the hour `hour`, a minute apart from minute 1 (as the office stream). */
  function staff(cellId: string, hour: number, first: number, count: number): FgEvent[] {
    return Array.from({ length: count }, (_, i) => ev.attach(hour * 60 + 1 + (i * 59) / Math.max(count, 60), { cellId, imsi: imsi(first + i) }));
  }

  /** The minute of the k-th (0-based) attach of `staff(_, hour, _, count <= 60)`. */
  const nthStaff = (hour: number, k: number) => hour * 60 + 1 + (k * 59) / 60;

  /**
   * An office (s2b_office_weekend): on its five working days 9:00-18:00 60 staff, then two
   * weekend days with 2 phones 10:00-16:00, other hours `nights` phones; `weeks` weeks, the
   * same staff every day. Day 0 (T0) is its first working day (the calendar does not matter:
   * the hour-of-week profile is relative).
   */
  function office(cellId: string, weeks: number, nights: number): FgEvent[] {
    const events: FgEvent[] = [];
    for (let d = 0; d < weeks * 7; d++) {
      const weekday = d % 7 < 5;
      for (let h = 0; h < 24; h++) {
        const n = weekday && h >= 9 && h < 18 ? 60 : !weekday && h >= 10 && h < 16 ? 2 : nights;
        events.push(...staff(cellId, d * 24 + h, 2_000_000, n));
      }
    }
    return events;
  }

  it('fail/an office from its first Monday: weekdays 60 staff, weekends 2 phones, two weeks (s2b_office_weekend)', () => {
    // Monday 9:00 of the second week is judged against the Friday before (faded over the weekend)
    // and against the first Monday 9:00, not against the weekend's two phones.
    const events = office(CAFE, 2, 0);
    expect(detect(fleet, events).of('subscriber-surge')).toEqual([]);
    // levelHalfLifeMs is read: a level that fades within an hour forgets the first day by the
    // second morning, which has no hour of the week to go by yet, so it surges.
    const r = detect(fleet, events, { rules: { 'subscriber-surge': { levelHalfLifeMs: 3_600_000 } } });
    expect(r.one('subscriber-surge').ts).toBe(iso(nthStaff(24 + 9, 12)));
  });

  it('ok/an office first seen on a quiet night surges on its first morning only; its second week is quiet (s2_office, two weeks)', () => {
    // The first night has one guard phone an hour, so the cell learns a level of 1;
    // 60 staff at 9:00 are a surge (the rule cannot tell them from a rogue on a first day). The
    // surged windows lift the level fourfold each: 9:00 (13 > 12) and 10:00 (16 > 4 x 3.97) alert, 11:00 on is quiet,
    // and so is every hour of the week after (the Friday level, faded, and the same hour of the
    // week before). The same verdict whether the engine keeps the quiet cell's window (a
    // week-long dedup window) or folds it at expiry (ten minutes).
    const events = office(CAFE, 2, 1);
    for (const dedupWindowMs of [7 * 24 * 3_600_000, 10 * 60_000]) {
      const a = detect(fleet, events, { dedupWindowMs }).one('subscriber-surge');
      expect(a).toMatchObject({ count: 2, ts: iso(nthStaff(9, 12)), lastSeen: iso(nthStaff(10, 15)) });
      expect(a.evidence).toMatchObject({ distinctSubscribers: 13, baseline: 1, registered: true });
    }
  });

  it('fail/a busy cafe: 300 new faces an hour, 8:00-22:00, four days (s1_cafe)', () => {
    const events: FgEvent[] = [];
    let k = 0;
    for (let d = 0; d < 4; d++) for (let h = 8; h < 22; h++) events.push(...crowd(CAFE, d * 24 + h, 1_000_000 + (k++ % 16) * 300, 300));
    expect(detect(fleet, events).of('subscriber-surge')).toEqual([]);
  });

  it('fail/a bar whose crowd doubles for three hours once (s5_event)', () => {
    const events = Array.from({ length: 50 }, (_, h) => crowd(CAFE, h, 5_000_000 + h * 100, h >= 40 && h < 43 ? 80 : 40)).flat();
    expect(detect(fleet, events).of('subscriber-surge')).toEqual([]);
  });

  /** s3_ramp: a home cell with 3 phones an hour for 6 h, then a rogue growing x1.55 an hour to 1,100 an hour, `hours` in all. */
  function ramp(hours: number): FgEvent[] {
    const events: FgEvent[] = [];
    let n = 3;
    let k = 0;
    for (let h = 0; h < hours; h++) {
      const count = h >= 6 ? Math.floor(n) : 3;
      for (let i = 0; i < count; i++) events.push(ev.attach(h * 60 + (i * 60) / count, { cellId: HOME, imsi: imsi(3_000_000 + (h < 6 ? i : ++k)) }));
      if (h >= 6) n = Math.min(n * 1.55, 1100);
    }
    return events;
  }

  it('ok/a rogue ramping up slowly on a registered home cell: the learned level may rise only threefold a day (s3_ramp)', () => {
    const a = detect(fleet, ramp(30)).one('subscriber-surge');
    // Hour 10 serves 14 (x1.55 an hour): the level, 3 at hour 5, may have grown to 3.43 by then.
    expect(a).toMatchObject({ cellId: HOME, ts: iso(10 * 60 + (13 * 60) / 17) });
    expect(a.evidence).toMatchObject({ distinctSubscribers: 14, baseline: 3.43, threshold: 13.71, windowStart: iso(10 * 60) });
    expect(a.count).toBeGreaterThanOrEqual(2);
    // maxDailyGrowth is read: a level allowed to grow a millionfold a day (x1.78 an hour) follows the ramp.
    expect(detect(fleet, ramp(30), { rules: { 'subscriber-surge': { maxDailyGrowth: 1e6 } } }).of('subscriber-surge')).toEqual([]);
  });

  it('ok/an abrupt rogue on a registered home cell alerts every hour until the level has risen to it (s3b_abrupt)', () => {
    const events = Array.from({ length: 10 }, (_, h) => crowd(HOME, h, 3_000_000 + h * 2000, h < 6 ? 3 : 1100)).flat();
    // Level 3: 1,100 passes 4 x 3, 4 x 12, 4 x 48 and 4 x 192 (each surged window lifts it fourfold).
    expect(detect(fleet, events).one('subscriber-surge')).toMatchObject({ count: 4, ts: iso(nth(6, 12, 1100)) });
  });

  it('ok/an office back from a two-week holiday is judged by the same hour of the week; the same crowd at an hour never seen surges', () => {
    const weeks = office(CAFE, 2, 0);
    const back = (hour: number) => [...weeks, ...staff(CAFE, 28 * 24 + hour, 2_000_000, 60)];
    // Monday 9:00, four weeks on: the Friday level has faded to a fifth (4 x 11.81 < 60), the
    // Mondays 9:00 before were 60.
    expect(detect(fleet, back(9)).of('subscriber-surge')).toEqual([]);
    const a = detect(fleet, back(3)).one('subscriber-surge');
    expect(a.evidence).toMatchObject({ distinctSubscribers: 48, baseline: 11.81, sameHourOfWeek: 0, threshold: 47.23 });
  });

  it('ok/a surged hour is not learned into its hour of the week: a rogue every Tuesday evening surges every week', () => {
    const events: FgEvent[] = [];
    for (let week = 0; week < 3; week++) {
      for (let h = 0; h < 24 * 7; h++) {
        const hour = week * 24 * 7 + h;
        events.push(...crowd(HOME, hour, 1 + (hour % 2), 3));
        if (h === 20) events.push(...crowd(HOME, hour, 10_000 + week * 1000, 200).map((e) => ({ ...e, t: e.t + 1000 })));
      }
    }
    expect(detect(fleet, events).one('subscriber-surge').count).toBe(3);
  });
});
