import { describe, expect, it } from 'vitest';
import type { FgEvent } from '../../events/index.js';
import { detect, device, ev, imsi, iso, rng } from '../test-kit.js';
import { binomialTail } from './ims-downgrade.js';

const X = '45008-200000096';
const OTHERS = Array.from({ length: 10 }, (_, i) => `45008-2000001${String(i).padStart(2, '0')}`);
const fleet = [device('KTF96', { cellIds: [X] }), ...OTHERS.map((c, i) => device(`KTF1${i}`, { cellIds: [c] }))];

/** `total` registrations spread over the other cells in minutes [from, from+40), `without` of them without IPsec. */
function network(from: number, total: number, without: number): FgEvent[] {
  return Array.from({ length: total }, (_, i) => ev.ims(from + (i * 40) / total, { imsi: imsi(5000 + i), cellId: OTHERS[i % OTHERS.length] as string, ipsec: i >= without }));
}
/** `total` registrations through cell X from minute `from`, one a minute, the first `without` without IPsec. */
function cellX(from: number, total: number, without: number): FgEvent[] {
  return Array.from({ length: total }, (_, i) => ev.ims(from + i, { imsi: imsi(100 + i), cellId: X, ipsec: i >= without }));
}

describe('ims-downgrade', () => {
  it('ok/a cell whose registrations all lack IPsec against a 5% network: high, at the registration that decided it', () => {
    const r = detect(fleet, [...network(0, 100, 5), ...cellX(45, 10, 10)]);
    const a = r.one('ims-downgrade');
    expect(a).toMatchObject({ rule: 'ims-downgrade', severity: 'high', cellId: X, ts: iso(52), count: 1 });
    expect(a.evidence).toMatchObject({ registrations: 8, withoutIpsec: 8, share: 1, networkShare: 0.05, windowStart: iso(0) });
  });

  it('fail/the network\'s normal share is high (70% without IPsec): 100% is not 40 points above it', () => {
    const events = [...network(0, 100, 70), ...cellX(45, 10, 10)];
    expect(detect(fleet, events).of('ims-downgrade')).toEqual([]);
    // excessShare is read: at 0.2 (and with the chance test off) the same cell is a downgrade.
    expect(detect(fleet, events, { rules: { 'ims-downgrade': { excessShare: 0.2, maxPValue: 1 } } }).one('ims-downgrade').evidence).toMatchObject({ networkShare: 0.7 });
    // With the chance test on, 10 of 10 at a 70% network share is not evidence (p = 0.7^10 ≈ 0.028).
    expect(detect(fleet, events, { rules: { 'ims-downgrade': { excessShare: 0.2 } } }).of('ims-downgrade')).toEqual([]);
  });

  it('fail/too few registrations to mean anything; ok/once minRegistrations is lower', () => {
    const events = [...network(0, 100, 0), ...cellX(45, 7, 7)];
    expect(detect(fleet, events).of('ims-downgrade')).toEqual([]);
    expect(detect(fleet, events, { rules: { 'ims-downgrade': { minRegistrations: 5 } } }).one('ims-downgrade')).toMatchObject({ ts: iso(49), evidence: { registrations: 5 } });
  });

  it('fail/chance alone: a busy cell with 4 of 9 without IPsec at a 3% network share is not a downgrade (p ≈ 9e-5)', () => {
    const events = [...network(0, 200, 6), ...cellX(45, 9, 4)];
    expect(detect(fleet, events).of('ims-downgrade')).toEqual([]);
    // maxPValue is read: without the chance test the 44-point excess alone fires.
    expect(detect(fleet, events, { rules: { 'ims-downgrade': { maxPValue: 1 } } }).one('ims-downgrade').evidence).toMatchObject({ registrations: 8, withoutIpsec: 4 });
  });

  it('ok/binomialTail matches the exact sum', () => {
    expect(binomialTail(9, 4, 0.03)).toBeCloseTo(9.041e-5, 7);
    expect(binomialTail(10, 10, 0.7)).toBeCloseTo(0.0282475249, 9);
    expect(binomialTail(5, 0, 0.5)).toBe(1);
    expect(binomialTail(79, 64, 0.02)).toBeLessThan(1e-80);
  });

  it('fail/a cell with a normal mix (3 of 12 without IPsec)', () => {
    expect(detect(fleet, [...network(0, 100, 5), ...cellX(45, 12, 3)]).alerts).toEqual([]);
  });

  it('ok/with no other traffic the normal share is 0: a cell with 8 stripped registrations fires', () => {
    expect(detect(fleet, cellX(0, 8, 8)).one('ims-downgrade').evidence).toMatchObject({ networkShare: 0, share: 1 });
  });

  it('ok/one finding per window; a later window folds into the same alert', () => {
    const r = detect(fleet, [...network(0, 100, 5), ...cellX(45, 15, 15), ...network(180, 100, 5), ...cellX(225, 15, 15)]);
    expect(r.one('ims-downgrade')).toMatchObject({ count: 2, ts: iso(52), lastSeen: iso(232) });
  });

  it('fail/windowMs is read: 8 stripped registrations spread over two hours are two small windows (judged alone); ok/in one two-hour window, or as a span', () => {
    const events = Array.from({ length: 8 }, (_, i) => ev.ims(i * 15, { imsi: imsi(i), cellId: X, ipsec: false }));
    expect(detect(fleet, events, { rules: { 'ims-downgrade': { evidenceWindows: 1 } } }).of('ims-downgrade')).toEqual([]);
    expect(detect(fleet, events, { rules: { 'ims-downgrade': { evidenceWindows: 1, windowMs: 2 * 3_600_000 } } }).one('ims-downgrade').evidence).not.toHaveProperty('spanWindows');
    // The span of the last 24 windows sees all eight.
    expect(detect(fleet, events).one('ims-downgrade')).toMatchObject({ ts: iso(105), evidence: { registrations: 8, spanWindows: 24, windowStart: iso(60) } });
  });

  it('fail/registrations without a cell count for the network only', () => {
    const events = Array.from({ length: 20 }, (_, i) => ev.ims(i, { imsi: imsi(i), ipsec: false }));
    expect(detect(fleet, events).alerts).toEqual([]);
  });

  // After the reviewer's streams (/tmp/review8/e gen4.py, gen6.py): `perCell` registrations an
  // hour through each of `cells`, a share `share` of them without IPsec (seeded), in time order.
  function hourly(cells: readonly string[], hours: number, perCell: number, share: number, seed: number): FgEvent[] {
    const random = rng(seed);
    const events: FgEvent[] = [];
    cells.forEach((cellId, c) => {
      for (let h = 0; h < hours; h++) for (let i = 0; i < perCell; i++) events.push(ev.ims(h * 60 + random() * 59.9, { imsi: imsi(1_000_000 * (c + 1) + h * 100 + i), cellId, ipsec: random() >= share }));
    });
    return events;
  }
  const inOrder = (events: FgEvent[]): FgEvent[] => [...events].sort((a, b) => a.t - b.t);
  /** `perHour` registrations without IPsec through `cellId`, ten minutes apart, in each of `hours`. */
  function stripped(cellId: string, hours: readonly number[], perHour: number): FgEvent[] {
    return hours.flatMap((h) => Array.from({ length: perHour }, (_, i) => ev.ims(h * 60 + i * 10 + 0.1, { imsi: imsi(9_000_000 + h * 10 + i), cellId, ipsec: false })));
  }
  const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

  it('ok/a low-volume rogue: 6 stripped registrations an hour never fill a window, a day of them is plain; once per span (i4_lowvol)', () => {
    const events = inOrder([...hourly(OTHERS, 30, 20, 0.05, 3), ...stripped(X, range(4, 30), 6)]);
    const a = detect(fleet, events).one('ims-downgrade');
    // The span reaches minRegistrations at hour 5's second registration (8 of 8, p = 0.05^8);
    // the next span finding comes 24 windows later.
    expect(a).toMatchObject({ cellId: X, ts: iso(5 * 60 + 10.1), lastSeen: iso(29 * 60 + 0.1), count: 2 });
    expect(a.evidence).toMatchObject({ registrations: 8, withoutIpsec: 8, share: 1, spanWindows: 24, windowStart: iso(5 * 60), spanStart: iso(-18 * 60) });
    expect(a.summary).toContain('over the last 24 h');
    // evidenceWindows is read: judged window by window, it is never enough.
    expect(detect(fleet, events, { rules: { 'ims-downgrade': { evidenceWindows: 1 } } }).of('ims-downgrade')).toEqual([]);
  });

  it('fail/a 5% network over two days: no cell stands out, window or span (i1_net5)', () => {
    expect(detect(fleet, inOrder(hourly([X, ...OTHERS], 48, 20, 0.05, 1))).of('ims-downgrade')).toEqual([]);
  });

  it('fail/a 20% network: a cell with a few extra registrations, 5 of 8 without IPsec, is chance (i3_small)', () => {
    const events = inOrder([...hourly([X, ...OTHERS], 30, 20, 0.2, 2), ...cellX(25 * 60, 8, 5)]);
    expect(detect(fleet, events).of('ims-downgrade')).toEqual([]);
  });

  it('ok/a rogue that fills its windows: one finding per window, the span adds none', () => {
    const events = inOrder([...hourly(OTHERS, 8, 20, 0.05, 4), ...stripped(X, range(2, 7), 6).flatMap((e) => [e, { ...e, t: e.t + 60_000 }])]);
    expect(detect(fleet, events).one('ims-downgrade')).toMatchObject({ count: 5, evidence: { registrations: 8, windowStart: iso(2 * 60) } });
  });

  it('ok/an unregistered cell with a few stripped registrations every four hours: the same verdict whether or not the engine forgot it between them; let go once its span is past', () => {
    const ROGUE = '45008-300539828';
    const events = inOrder([...stripped(ROGUE, [0, 4, 8], 3), ...range(8, 40).map((h) => ev.ims(h * 60 + 30, { imsi: imsi(77), cellId: OTHERS[0] as string, ipsec: true }))]);
    for (const dedupWindowMs of [7 * 24 * 3_600_000, 10 * 60_000]) {
      const r = detect(fleet, events, { dedupWindowMs });
      expect(r.one('ims-downgrade')).toMatchObject({ cellId: ROGUE, ts: iso(8 * 60 + 10.1), evidence: { registrations: 8, withoutIpsec: 8, spanWindows: 24 } });
      if (dedupWindowMs < 3_600_000) expect(r.engine.sizes().cells).toBe(1);
    }
  });
});
