import { describe, expect, it } from 'vitest';
import { DedupWindow, OrderedIntake, type Timed } from '../events/index.js';
import { HeldEvents } from './held-events.js';

/** Deterministic pseudo-random numbers in [0, 1). */
function rng(seed: number): () => number {
  let s = seed;
  return () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
}

interface Ev extends Timed {
  n: number;
}

describe('HeldEvents', () => {
  it('ok/handles come out of OrderedIntake in the order and with the drops of the events themselves, ids as bytes, as strings or absent', () => {
    const r = rng(7);
    // Few times and short ids sharing prefixes: ties on time, ids compared, duplicates.
    const ids = ['a', 'ab', 'abc', 'b', 'B', 'a~', 'é', 'ab\u0100', 'zz', '0'];
    const events: (Ev & { asBytes: boolean })[] = [];
    for (let n = 0; n < 5000; n++) {
      const k = Math.floor(r() * (ids.length + 1));
      const id = k === ids.length ? undefined : `${ids[k]}${Math.floor(r() * 40)}`;
      // Only ASCII ids can be bytes (what the scanner admits).
      const ascii = id !== undefined && /^[\x20-\x7e]*$/.test(id);
      events.push({ t: Math.floor(n / 3 + r() * 30) * 1000, n, ...(id !== undefined ? { id } : {}), asBytes: ascii && r() < 0.7 });
    }
    const want: number[] = [];
    const ref = new OrderedIntake<Ev>(10_000, 200_000, (e) => want.push(e.n));
    for (const e of events) ref.push(e);
    ref.reorder.flush();

    const held = new HeldEvents<{ data: Uint8Array }>();
    const got: number[] = [];
    const numberOf: number[] = [];
    const intake = new OrderedIntake<number>(10_000, 200_000, (h) => {
      got.push(numberOf[h] as number);
      held.release(h);
    }, held);
    for (const e of events) {
      const line = Buffer.from(`{"id":"${e.asBytes ? (e.id as string) : ''}"}`, 'latin1');
      const h = e.asBytes ? held.alloc({ data: line }, 0, 0, line.length, e.t, 0, 1, 7, (e.id as string).length, undefined) : held.alloc({ data: line }, 0, 0, line.length, e.t, 1, 1, -1, 0, e.id);
      numberOf[h] = e.n;
      if (!intake.push(h)) held.release(h);
    }
    intake.reorder.flush();
    expect(got).toEqual(want);
    expect(intake.duplicates).toBe(ref.duplicates);
    expect(intake.duplicates).toBeGreaterThan(0);
    expect(held.size).toBe(0);
  });

  it('ok/handles are reused: the store grows with the events held, not the events seen', () => {
    const held = new HeldEvents<{ data: Uint8Array }>();
    const src = { data: new Uint8Array(8) };
    for (let i = 0; i < 100_000; i++) held.release(held.alloc(src, 0, 0, 8, i, 0, 1, -1, 0, i % 2 === 0 ? `p${i}` : undefined));
    expect(held.size).toBe(0);
    expect(held.t.length).toBe(1024);
    const d = new DedupWindow(1000);
    const h = held.alloc(src, 0, 0, 8, 5, 0, 1, -1, 0, undefined);
    expect(held.isDuplicate(d, h, 5)).toBe(false);
  });
});
