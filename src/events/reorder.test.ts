import { describe, expect, it } from 'vitest';
import { DedupWindow, ReorderBuffer } from './reorder.js';
import type { FgEvent } from './types.js';

const MIN = 60_000;
const T0 = Date.parse('2025-08-05T00:00:00Z');
const e = (minutes: number, id?: string): FgEvent => ({ type: 'femto.report', serial: 'KTF1', ts: T0 + minutes * MIN, t: T0 + minutes * MIN, ...(id !== undefined ? { id } : {}) });
const label = (x: FgEvent): string => `${(x.t - T0) / MIN}${x.id ?? ''}`;

/** Deterministic pseudo-random numbers in [0, 1). */
function rng(seed: number): () => number {
  let s = seed;
  return () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
}

function collect(delayMin: number): { buf: ReorderBuffer<FgEvent>; out: FgEvent[] } {
  const out: FgEvent[] = [];
  return { buf: new ReorderBuffer<FgEvent>(delayMin * MIN, (x) => out.push(x)), out };
}

describe('ReorderBuffer', () => {
  it('ok/puts a stream out of order by up to the delay back in time order', () => {
    for (const seed of [1, 2, 3]) {
      const rand = rng(seed);
      const events = Array.from({ length: 2000 }, (_, i) => e(i * 0.25 + rand() * 0.1, `i${i}`));
      const arrival = events.map((x) => ({ x, a: x.t + rand() * 10 * MIN })).sort((p, q) => p.a - q.a).map((p) => p.x);
      const { buf, out } = collect(10);
      for (const x of arrival) buf.push(x);
      expect(buf.size).toBeLessThanOrEqual(10 * 4 + 5);
      buf.flush();
      expect(buf.late).toBe(0);
      expect(out.map(label)).toEqual([...events].sort((p, q) => p.t - q.t).map(label));
    }
  });

  it('ok/equal times are ordered by id whatever the arrival order; without ids by arrival', () => {
    const a = collect(10);
    for (const x of [e(1, 'b'), e(1, 'c'), e(1, 'a'), e(0)]) a.buf.push(x);
    a.buf.flush();
    expect(a.out.map(label)).toEqual(['0', '1a', '1b', '1c']);
    const b = collect(10);
    const first = e(1);
    const second = e(1);
    for (const x of [first, second]) b.buf.push(x);
    b.buf.flush();
    expect(b.out[0]).toBe(first);
    expect(b.out[1]).toBe(second);
  });

  it('ok/holds events until the watermark (newest minus delay) passes them', () => {
    const { buf, out } = collect(10);
    buf.push(e(0, 'a'));
    buf.push(e(5, 'b'));
    expect(out).toEqual([]);
    expect(buf.watermark).toBe(T0 - 5 * MIN);
    buf.push(e(10.5, 'c'));
    expect(out.map(label)).toEqual(['0a']);
    buf.push(e(21, 'd'));
    expect(out.map(label)).toEqual(['0a', '5b', '10.5c']);
    expect(buf.size).toBe(1);
  });

  it('fail/an event older than the watermark is late: emitted at once (never dropped) and counted', () => {
    const { buf, out } = collect(10);
    buf.push(e(0, 'a'));
    buf.push(e(30, 'b'));
    buf.push(e(5, 'late'));
    expect(buf.late).toBe(1);
    expect(out.map(label)).toEqual(['0a', '5late']);
    buf.flush();
    expect(out.map(label)).toEqual(['0a', '5late', '30b']);
  });
});

describe('DedupWindow', () => {
  it('ok/the same id within the window is a duplicate; other ids are not', () => {
    const d = new DedupWindow(60 * MIN);
    expect(d.isDuplicate('a', T0, T0)).toBe(false);
    expect(d.isDuplicate('b', T0, T0)).toBe(false);
    expect(d.isDuplicate('a', T0, T0 + 30 * MIN)).toBe(true);
    expect(d.duplicates).toBe(1);
  });

  it('ok/ids are forgotten once event time passes the window, so memory stays bounded', () => {
    const d = new DedupWindow(60 * MIN);
    let maxSize = 0;
    for (let i = 0; i < 50_000; i++) {
      const t = T0 + i * 1000;
      expect(d.isDuplicate(`id${i}`, t, t)).toBe(false);
      maxSize = Math.max(maxSize, d.size);
    }
    // One event a second, a one-hour window: about 3600 ids held at any time.
    expect(maxSize).toBeLessThanOrEqual(3602);
    expect(d.size).toBeLessThanOrEqual(3602);
    // An id older than the window is no longer remembered.
    expect(d.isDuplicate('id0', T0, T0 + 50_000 * 1000)).toBe(false);
    expect(d.isDuplicate('id49999', T0 + 49_999 * 1000, T0 + 50_000 * 1000)).toBe(true);
  });
});
