import { describe, expect, it } from 'vitest';
import { CellNumbers } from './cell-numbers.js';

describe('CellNumbers', () => {
  it('ok/the same id gets the same number; names round-trip', () => {
    const c = new CellNumbers();
    expect([c.no('a'), c.no('b'), c.no('a')]).toEqual([0, 1, 0]);
    expect([c.name(0), c.name(1)]).toEqual(['a', 'b']);
    expect(c.size).toBe(2);
  });

  it('ok/a sweep keeps the held ids at their numbers, frees the rest and reuses their numbers', () => {
    const c = new CellNumbers(3);
    for (const id of ['a', 'b', 'c', 'd']) c.no(id);
    expect(c.sweepDue).toBe(true);
    c.sweep((mark) => ((mark[1] = 1), (mark[3] = 1), 2), 1);
    expect([c.size, c.slots, c.sweeps]).toEqual([2, 4, 1]);
    expect([c.no('b'), c.no('d')]).toEqual([1, 3]);
    // 'a' and 'c' are gone: new ids take their numbers, and 'a' comes back as a new id.
    const reused = [c.no('x'), c.no('a')].sort();
    expect(reused).toEqual([0, 2]);
    expect(c.name(c.no('x'))).toBe('x');
    expect(c.slots).toBe(4);
  });

  it('fail/no sweep is due until the dictionary has grown by what the last one cost', () => {
    const c = new CellNumbers(2);
    c.no('a');
    expect(c.sweepDue).toBe(false);
    c.no('b');
    expect(c.sweepDue).toBe(true);
    // Both held, 10 records visited: the next sweep waits for 2 + max(2, 2, 2 + 10) ids.
    c.sweep((mark) => ((mark[0] = 1), (mark[1] = 1), 2), 10);
    for (let i = 0; i < 11; i++) c.no(`n${i}`);
    expect([c.size, c.sweepDue]).toEqual([13, false]);
    c.no('n11');
    expect(c.sweepDue).toBe(true);
  });
});
