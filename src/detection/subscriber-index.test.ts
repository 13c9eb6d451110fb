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
});
