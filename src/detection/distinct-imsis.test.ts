import { describe, expect, it } from 'vitest';
import { DistinctImsis } from './distinct-imsis.js';

describe('DistinctImsis', () => {
  it('ok/counts distinct IMSIs by value, digits or not, as a Set of strings does (random walk, windows cleared)', () => {
    let seed = 11;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const ids = (n: number): string => (n % 5 === 0 ? `x${n}` : n % 5 === 1 ? `0${n}` : n % 5 === 2 ? `+${n}` : `${450080000000000 + n}`);
    const d = new DistinctImsis();
    for (let w = 0; w < 40; w++) {
      const model = new Set<string>();
      // crowds of every size, the big ones then small ones (the table shrinks back)
      const crowd = w % 7 === 3 ? 5000 : rnd(60);
      for (let i = 0; i < crowd * 2; i++) {
        const s = ids(rnd(crowd + 1));
        d.addIds({ imsi: Buffer.from(s, 'latin1').toString('latin1') });
        model.add(s);
        if (i % 97 === 0) expect(d.size).toBe(model.size);
      }
      expect(d.size).toBe(model.size);
      d.clear();
      expect(d.size).toBe(0);
    }
  });

  it('fail/IMSIs that look alike as numbers are distinct (leading zeros, a plus sign, more than 15 digits)', () => {
    const d = new DistinctImsis(['7', '07', '007', '+7', '+07', '1234567890123456', '1234567890123457', '123456789012345', '']);
    expect(d.size).toBe(9);
    d.addIds({ imsi: '07' });
    d.addIds({ imsi: '1234567890123456' });
    expect(d.size).toBe(9);
  });
});
