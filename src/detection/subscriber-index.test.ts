import { describe, expect, it } from 'vitest';
import { SubscriberIndex } from './state.js';

/** A string equal to `s` but a different instance (as a freshly decoded event field is). */
const fresh = (s: string): string => Buffer.from(s, 'latin1').toString('latin1');

describe('SubscriberIndex', () => {
  it('ok/observe returns the IMSI (the index keeps one copy per subscriber; string identity is not observable, only the value)', () => {
    const idx = new SubscriberIndex();
    expect(idx.observe(fresh('450080000000626'), 1, 'c1')).toBe('450080000000626');
    expect(idx.observe(fresh('450080000000626'), 2, 'c1')).toBe('450080000000626');
    expect(idx.observe(fresh('450080000000627'), 3)).toBe('450080000000627');
    expect(idx.size).toBe(2);
  });

  it('ok/the latest IMEI and MSISDN win; an unchanged one is kept', () => {
    const idx = new SubscriberIndex();
    idx.observe('i1', 1, 'c1', '+8210', 'imei-a');
    idx.observe('i1', 2, 'c1', fresh('+8210'), fresh('imei-a'));
    expect(idx.identifiers('i1')).toEqual({ msisdn: '+8210', imei: 'imei-a' });
    idx.observe('i1', 3, 'c2', '+8211', 'imei-b');
    expect(idx.identifiers('i1')).toEqual({ msisdn: '+8211', imei: 'imei-b' });
    expect(idx.imsiOf('+8210')).toBeUndefined();
    expect(idx.imsiOf('+8211')).toBe('i1');
    // absent identifiers leave the known ones
    idx.observe('i1', 4, 'c2');
    expect(idx.identifiers('i1')).toEqual({ msisdn: '+8211', imei: 'imei-b' });
    expect(idx.cellsSince('i1', 0)).toEqual([
      ['c1', 2],
      ['c2', 4],
    ]);
  });

  it('ok/expire forgets exactly the cells and subscribers a full visit would, with links kept far longer than cells (random walk against a plain model)', () => {
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const idx = new SubscriberIndex();
    // the model: every subscriber visited on every expiry
    const model = new Map<string, { lastT: number; msisdn?: string; cells: Map<string, number> }>();
    const byMsisdn = new Map<string, string>();
    let t = 0;
    for (let step = 0; step < 20_000; step++) {
      t += rnd(50);
      const imsi = `i${rnd(300)}`;
      const cell = rnd(4) === 0 ? undefined : `c${rnd(20)}`;
      const msisdn = rnd(3) === 0 ? `m${rnd(300)}` : undefined;
      const et = t - rnd(30); // a little out of order
      idx.observe(imsi, et, cell, msisdn);
      let m = model.get(imsi);
      if (!m) model.set(imsi, (m = { lastT: et, cells: new Map() }));
      if (et > m.lastT) m.lastT = et;
      if (msisdn && m.msisdn !== msisdn) {
        if (m.msisdn !== undefined && byMsisdn.get(m.msisdn) === imsi) byMsisdn.delete(m.msisdn);
        const prev = byMsisdn.get(msisdn);
        if (prev !== undefined && prev !== imsi) {
          const p = model.get(prev);
          if (p && p.msisdn === msisdn) p.msisdn = undefined;
        }
        m.msisdn = msisdn;
        byMsisdn.set(msisdn, imsi);
      }
      if (cell) m.cells.set(cell, Math.max(m.cells.get(cell) ?? -Infinity, et));
      if (step % 500 === 499) {
        const before = t - 2_000;
        const linkBefore = t - (step % 2000 === 1999 ? 3_000 : 40_000);
        idx.expire(before, linkBefore);
        for (const [k, x] of model) {
          if (x.lastT < linkBefore) {
            model.delete(k);
            if (x.msisdn && byMsisdn.get(x.msisdn) === k) byMsisdn.delete(x.msisdn);
            continue;
          }
          for (const [c, ct] of x.cells) if (ct < before) x.cells.delete(c);
        }
        expect(idx.size).toBe(model.size);
        for (const [k, x] of model) {
          expect(idx.cellsSince(k, -Infinity)).toEqual([...x.cells]);
          if (x.msisdn) expect(idx.imsiOf(x.msisdn)).toBe(byMsisdn.get(x.msisdn));
        }
      }
    }
  });
});
