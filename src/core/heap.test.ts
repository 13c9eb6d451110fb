import { describe, expect, it } from 'vitest';
import { SeqHeap } from './heap.js';

const byKey = (a: number, as: number, b: number, bs: number): boolean => a < b || (a === b && as < bs);

describe('SeqHeap', () => {
  it('ok/pops in key order, equal keys in insertion order, against a sort on random input', () => {
    let x = 12345;
    const rnd = (): number => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) % 50);
    const h = new SeqHeap<{ k: number; i: number }>((a, as, b, bs) => byKey(a.k, as, b.k, bs));
    const all: { k: number; i: number }[] = [];
    const out: { k: number; i: number }[] = [];
    for (let i = 0; i < 5000; i++) {
      const item = { k: rnd(), i };
      all.push(item);
      h.push(item);
      if (i % 7 === 0) out.push(h.pop()); // interleaved pops must not break the order of what remains
    }
    expect(h.peek()).toBeDefined();
    const rest: { k: number; i: number }[] = [];
    while (h.size > 0) rest.push(h.pop());
    const expected = [...all].filter((a) => !out.includes(a)).sort((a, b) => a.k - b.k || a.i - b.i);
    expect(rest).toEqual(expected);
    expect(h.peek()).toBeUndefined();
  });

  it('ok/a caller-given sequence number decides ties, whatever the push order', () => {
    const h = new SeqHeap<string>((a, as, b, bs) => byKey(0, as, 0, bs));
    h.push('third', 3);
    h.push('first', 1);
    h.push('second', 2);
    expect(h.peekSeq()).toBe(1);
    expect([h.pop(), h.pop(), h.pop()]).toEqual(['first', 'second', 'third']);
  });
});
