import { describe, expect, it } from 'vitest';
import { SubscriberIndex } from './state.js';
import { digitsKey } from './subscriber-table.js';

/** A string equal to `s` but a different instance (as a freshly decoded event field is). */
const fresh = (s: string): string => Buffer.from(s, 'latin1').toString('latin1');

describe('SubscriberIndex', () => {
  it('ok/the same IMSI in fresh strings is one subscriber; another IMSI is another', () => {
    const idx = new SubscriberIndex();
    idx.observeIds({ imsi: fresh('450080000000626') }, 1, 'c1');
    idx.observeIds({ imsi: fresh('450080000000626') }, 2, 'c1');
    idx.observeIds({ imsi: fresh('450080000000627') }, 3);
    expect(idx.size).toBe(2);
    expect(idx.cellsSince('450080000000626', 0)).toEqual([['c1', 2]]);
  });

  it('ok/the latest IMEI and MSISDN win; an unchanged one is kept', () => {
    const idx = new SubscriberIndex();
    idx.observeIds({ imsi: 'i1', msisdn: '+8210', imei: 'imei-a' }, 1, 'c1');
    idx.observeIds({ imsi: 'i1', msisdn: fresh('+8210'), imei: fresh('imei-a') }, 2, 'c1');
    expect(idx.identifiers('i1')).toEqual({ msisdn: '+8210', imei: 'imei-a' });
    idx.observeIds({ imsi: 'i1', msisdn: '+8211', imei: 'imei-b' }, 3, 'c2');
    expect(idx.identifiers('i1')).toEqual({ msisdn: '+8211', imei: 'imei-b' });
    expect(idx.imsiOf('+8210')).toBeUndefined();
    expect(idx.imsiOf('+8211')).toBe('i1');
    // absent identifiers leave the known ones
    idx.observeIds({ imsi: 'i1' }, 4, 'c2');
    expect(idx.identifiers('i1')).toEqual({ msisdn: '+8211', imei: 'imei-b' });
    expect(idx.cellsSince('i1', 0)).toEqual([
      ['c1', 2],
      ['c2', 4],
    ]);
  });

  it('ok/with keys from the decoder, strings are read only for a new subscriber or a changed identifier', () => {
    const idx = new SubscriberIndex();
    const reads: string[] = [];
    const ids = (imsi: string, msisdn: string, imei: string) => ({
      imsiKey: digitsKey(imsi),
      msisdnKey: digitsKey(msisdn),
      imeiKey: digitsKey(imei),
      get imsi() {
        reads.push('imsi');
        return imsi;
      },
      get msisdn() {
        reads.push('msisdn');
        return msisdn;
      },
      get imei() {
        reads.push('imei');
        return imei;
      },
    });
    idx.observeIds(ids('450080000000626', '+821010000626', '352009858454957'), 1, 'c1');
    expect(reads.sort()).toEqual(['imei', 'imsi', 'msisdn']);
    reads.length = 0;
    idx.observeIds(ids('450080000000626', '+821010000626', '352009858454957'), 2, 'c1');
    expect(reads).toEqual([]);
    idx.observeIds(ids('450080000000626', '+821010000627', '352009858454957'), 3, 'c2');
    expect(reads).toEqual(['msisdn']);
    expect(idx.identifiers('450080000000626')).toEqual({ msisdn: '+821010000627', imei: '352009858454957' });
    expect(idx.imsiOf('+821010000627')).toBe('450080000000626');
    expect(idx.cellsSince('450080000000626', 0)).toEqual([
      ['c1', 2],
      ['c2', 3],
    ]);
  });

  // IMSIs and MSISDNs as digits (the numeric table), as other strings (the string fallback), and mixed.
  const walks: [string, (n: number) => string, (n: number) => string, number][] = [
    ['other strings', (n) => `i${n}`, (n) => `m${n}`, 300],
    ['digits', (n) => `${45008_0000_000000 + n}`, (n) => `+8210${n}`, 3000],
    ['mixed, with leading zeros', (n) => (n % 3 === 0 ? `0${n}` : n % 3 === 1 ? `${n}` : `x${n}`), (n) => (n % 2 === 0 ? `0${n}` : `+${n}`), 3000],
  ];
  it.each(walks)('ok/expire forgets exactly the cells and subscribers a full visit would, with links kept far longer than cells (random walk against a plain model: %s)', (_, imsiNo, msisdnNo, subscribers) => {
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const idx = new SubscriberIndex();
    // the model: every subscriber visited on every expiry
    const model = new Map<string, { lastT: number; msisdn?: string; imei?: string; cells: Map<string, number> }>();
    const byMsisdn = new Map<string, string>();
    let t = 0;
    for (let step = 0; step < 20_000; step++) {
      t += rnd(50);
      const imsi = fresh(imsiNo(rnd(subscribers)));
      const cell = rnd(4) === 0 ? undefined : `c${rnd(20)}`;
      const msisdn = rnd(3) === 0 ? fresh(msisdnNo(rnd(subscribers))) : undefined;
      const imei = rnd(5) === 0 ? fresh(rnd(2) === 0 ? `35200${rnd(9)}` : `imei${rnd(9)}`) : undefined;
      const et = t - rnd(30); // a little out of order
      idx.observeIds({ imsi, msisdn, imei }, et, cell);
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
      if (imei) m.imei = imei;
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
        for (let n = 0; n < subscribers; n += 7) if (!model.has(imsiNo(n))) expect(idx.identifiers(imsiNo(n))).toBeUndefined();
        for (const [k, x] of model) {
          expect(idx.cellsSince(k, -Infinity)).toEqual([...x.cells]);
          if (x.msisdn) expect(idx.imsiOf(x.msisdn)).toBe(byMsisdn.get(x.msisdn));
          expect(idx.identifiers(k)).toEqual({ ...(x.msisdn ? { msisdn: x.msisdn } : {}), ...(x.imei ? { imei: x.imei } : {}) });
        }
      }
    }
  });
});

describe('digitsKey', () => {
  it('ok/digit strings of up to 15 digits, with or without one leading +, are distinct numbers', () => {
    const ids = ['', '0', '00', '7', '07', '007', '+7', '+07', '450080000094133', '999999999999999', '000000000000000', '+999999999999999'];
    const keys = ids.map(digitsKey);
    expect(new Set(keys).size).toBe(ids.length);
    for (const k of keys) expect(Number.isSafeInteger(k) && k !== 0).toBe(true);
  });

  it('fail/anything else is NaN (kept as a string)', () => {
    for (const s of ['+', '++1', '1+', '1e5', ' 1', '1.5', '-1', '0x1', '1234567890123456', '+1234567890123456', '١٢٣']) expect(digitsKey(s)).toBeNaN();
  });
});
