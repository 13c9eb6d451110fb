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

  it('ok/numberOfBytes finds an interned id from its bytes, -1 for one not held (never held, or swept)', () => {
    const c = new CellNumbers(2);
    const buf = Buffer.from('x"45008-1"45008-2"45008-12"');
    const at = (id: string): number => c.numberOfBytes(buf, buf.indexOf(`"${id}"`) + 1, id.length);
    expect(at('45008-1')).toBe(-1);
    expect([c.no('45008-1'), c.no('45008-12')]).toEqual([0, 1]);
    expect([at('45008-1'), at('45008-12'), at('45008-2')]).toEqual([0, 1, -1]);
    // one id a prefix of another: the length is compared too
    expect(c.numberOfBytes(buf, 2, 6)).toBe(-1);
    c.sweep((mark) => ((mark[1] = 1), 1), 0);
    expect([at('45008-1'), at('45008-12')]).toEqual([-1, 1]);
    // past a rebuild of the table the numbers are still found
    for (let i = 0; i < 2000; i++) c.no(`n${i}`);
    expect(at('45008-12')).toBe(1);
    expect(c.numberOfBytes(Buffer.from('n1999'), 0, 5)).toBe(c.no('n1999'));
  });

  it('ok/numberOfBytes through sweeps that free and reuse numbers (their bytes packed again); fail/ids no bytes can spell are never found from bytes', () => {
    const c = new CellNumbers(2);
    const find = (id: string): number => c.numberOfBytes(Buffer.from(id, 'latin1'), 0, id.length);
    const ids = Array.from({ length: 3000 }, (_, i) => `45008-${100000000 + i * 7}`);
    for (const id of ids) c.no(id);
    // keep every third: the rest are freed, and new ids take their numbers
    c.sweep((mark) => {
      for (let i = 0; i < ids.length; i += 3) mark[c.no(ids[i] as string)] = 1;
      return 1000;
    }, 0);
    for (let i = 0; i < 500; i++) c.no(`new-${i}`);
    for (let i = 0; i < ids.length; i++) expect(find(ids[i] as string)).toBe(i % 3 === 0 ? c.no(ids[i] as string) : -1);
    for (let i = 0; i < 500; i++) expect(find(`new-${i}`)).toBe(c.no(`new-${i}`));
    // Latin-1 characters are bytes; a character past 255 is not, nor is an id of 256 characters kept as bytes
    const long = 'x'.repeat(256);
    const [latin, wide, longNo] = [c.no('caf\u00e9'), c.no('\u20ac1'), c.no(long)];
    expect(find('caf\u00e9')).toBe(latin);
    expect(find('\u20ac1'.replace('\u20ac', '\u00ac'))).toBe(-1);
    expect(find(long)).toBe(-1);
    expect([c.no('\u20ac1'), c.no(long)]).toEqual([wide, longNo]);
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
