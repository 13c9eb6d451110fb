import { describe, expect, it } from 'vitest';
import { admissionConfigSchema } from './config.js';
import { RefusalEventLimiter, SUMMARY_INTERVAL_MS, UNKNOWN_SOURCE, sourcePrefixOf, type RefusalEventLimits } from './refusal-limiter.js';

const T0 = Date.parse('2026-03-01T00:00:00Z');
const defaults = (): RefusalEventLimits => admissionConfigSchema.parse({}).refusalEvents;
const limiter = (over: Partial<RefusalEventLimits> = {}): RefusalEventLimiter => new RefusalEventLimiter({ ...defaults(), ...over });

/** Takes `n` tokens for `ip` at `now`; returns how many were allowed. */
function takeN(l: RefusalEventLimiter, ip: string, n: number, now: number): number {
  let allowed = 0;
  for (let i = 0; i < n; i++) if (l.take(ip, now).allowed) allowed++;
  return allowed;
}

describe('sourcePrefixOf', () => {
  it('ok/IPv4 sources are grouped by /24, IPv6 by /56 (the defaults)', () => {
    expect(sourcePrefixOf('203.0.113.77', 24, 56)).toBe('203.0.113.0/24');
    expect(sourcePrefixOf('203.0.113.1', 24, 56)).toBe(sourcePrefixOf('203.0.113.254', 24, 56));
    expect(sourcePrefixOf('203.0.114.1', 24, 56)).not.toBe(sourcePrefixOf('203.0.113.1', 24, 56));
    expect(sourcePrefixOf('2001:db8:1234:56ff:1::9', 24, 56)).toBe('2001:db8:1234:5600::/56');
    expect(sourcePrefixOf('2001:db8:1234:5601::1', 24, 56)).toBe('2001:db8:1234:5600::/56');
    expect(sourcePrefixOf('2001:db8:1234:5701::1', 24, 56)).toBe('2001:db8:1234:5700::/56');
  });

  it('ok/per address when the lengths say so; a mapped IPv4 address and a zone index are read as the address', () => {
    expect(sourcePrefixOf('198.51.100.7', 32, 128)).toBe('198.51.100.7/32');
    expect(sourcePrefixOf('2001:db8::1', 32, 128)).toBe('2001:db8::1/128');
    expect(sourcePrefixOf('::ffff:198.51.100.7', 24, 56)).toBe('198.51.100.0/24');
    expect(sourcePrefixOf('fe80::1:2:3:4%eth0', 24, 56)).toBe('fe80::/56');
  });

  it('fail/anything that is not one address shares the one "unknown" bucket', () => {
    for (const bad of ['', 'not-an-ip', '10.0.0.0/8', '999.1.1.1', '1.2.3.4; drop']) expect(sourcePrefixOf(bad, 24, 56)).toBe(UNKNOWN_SOURCE);
  });
});

describe('RefusalEventLimiter', () => {
  it('ok/a burst is allowed, then refusals are suppressed until the bucket refills at perMinute', () => {
    const l = limiter({ perMinute: 20, burst: 20 });
    expect(takeN(l, '203.0.113.5', 25, T0)).toBe(20);
    // 3 s refill one token at 20 a minute
    expect(takeN(l, '203.0.113.5', 5, T0 + 2_999)).toBe(0);
    expect(takeN(l, '203.0.113.5', 5, T0 + 3_000)).toBe(1);
    // a long pause refills to the burst, never beyond
    expect(takeN(l, '203.0.113.5', 50, T0 + 3_600_000)).toBe(20);
  });

  it('fail/another address of the same /24 draws on the same bucket; another /24 and another /56 have their own', () => {
    const l = limiter({ perMinute: 20, burst: 20 });
    expect(takeN(l, '203.0.113.5', 20, T0)).toBe(20);
    expect(takeN(l, '203.0.113.200', 5, T0)).toBe(0);
    expect(takeN(l, '203.0.114.5', 25, T0)).toBe(20);
    expect(takeN(l, '2001:db8:0:100::1', 20, T0)).toBe(20);
    expect(takeN(l, '2001:db8:0:1ff::2', 5, T0)).toBe(0);
    expect(takeN(l, '2001:db8:0:200::1', 5, T0)).toBe(5);
  });

  it('fail/a clock that steps back refills nothing', () => {
    const l = limiter({ perMinute: 60, burst: 1 });
    expect(l.take('203.0.113.5', T0).allowed).toBe(true);
    expect(l.take('203.0.113.5', T0 - 60_000).allowed).toBe(false);
    expect(l.take('203.0.113.5', T0 + 999).allowed).toBe(false);
    expect(l.take('203.0.113.5', T0 + 1_000).allowed).toBe(true);
  });

  it('ok/one summary per source prefix per minute, counting every suppression in between', () => {
    const l = limiter({ perMinute: 1, burst: 1 });
    expect(l.take('203.0.113.5', T0).allowed).toBe(true);
    const first = l.take('203.0.113.6', T0 + 10);
    expect(first).toMatchObject({ allowed: false, summary: { sourcePrefix: '203.0.113.0/24', suppressed: 1, firstAt: T0 + 10, lastAt: T0 + 10 } });
    for (let i = 0; i < 30; i++) expect(l.take('203.0.113.7', T0 + 20 + i).summary).toBeNull();
    expect(l.flush(T0 + SUMMARY_INTERVAL_MS)).toEqual([]); // a minute after T0+10 is not over yet
    expect(l.flush(T0 + 10 + SUMMARY_INTERVAL_MS)).toEqual([{ sourcePrefix: '203.0.113.0/24', suppressed: 30, firstAt: T0 + 20, lastAt: T0 + 49 }]);
    expect(l.flush(T0 + 10 + 2 * SUMMARY_INTERVAL_MS)).toEqual([]);
  });

  it('ok/at shutdown every pending count is reported, due or not', () => {
    const l = limiter({ perMinute: 1, burst: 1 });
    takeN(l, '203.0.113.5', 3, T0); // 1 allowed, the first suppression reported at once, 1 pending
    expect(l.flush(T0 + 1)).toEqual([]);
    expect(l.flush(T0 + 1, true)).toEqual([{ sourcePrefix: '203.0.113.0/24', suppressed: 1, firstAt: T0, lastAt: T0 }]);
  });

  it('fail/a flood of fresh prefixes keeps at most maxSources, evicting the least recently seen (with its pending count)', () => {
    const l = limiter({ perMinute: 1, burst: 1, maxSources: 16, totalPerMinute: 1_000_000 });
    takeN(l, '198.51.100.1', 3, T0); // allowed, reported, then one pending
    const evicted = [];
    for (let i = 0; i < 1_000; i++) {
      const r = l.take(`10.${i >> 8}.${i & 255}.1`, T0 + 1);
      if (r.evicted) evicted.push(r.evicted);
      expect(l.size).toBeLessThanOrEqual(16);
    }
    expect(l.size).toBe(16);
    expect(evicted).toEqual([{ sourcePrefix: '198.51.100.0/24', suppressed: 1, firstAt: T0, lastAt: T0 }]);
  });

  it('fail/a source seen again is most recent: a flood of fresh prefixes evicts others first', () => {
    const l = limiter({ perMinute: 1, burst: 1, maxSources: 16, totalPerMinute: 1_000_000 });
    expect(l.take('198.51.100.1', T0).allowed).toBe(true);
    for (let i = 0; i < 100; i++) {
      l.take(`10.0.${i}.1`, T0);
      // the attacked source keeps checking in: it stays in the table, its bucket stays empty
      expect(l.take('198.51.100.1', T0).allowed).toBe(false);
    }
  });

  it('fail/rotating through many prefixes is bounded by totalPerMinute', () => {
    const l = limiter({ perMinute: 20, burst: 20, totalPerMinute: 100 });
    let allowed = 0;
    for (let i = 0; i < 5_000; i++) if (l.take(`2001:db8:${(i >> 8).toString(16)}:${(i & 255).toString(16)}00::1`, T0).allowed) allowed++;
    expect(allowed).toBe(100);
    expect(l.take('2001:db8:ffff:ff00::1', T0 + 600).allowed).toBe(true); // 100 a minute: one token per 600 ms
  });

  it('ok/flush forgets sources that are quiet and full again, keeping the table small', () => {
    const l = limiter({ perMinute: 60, burst: 2 });
    takeN(l, '203.0.113.5', 1, T0);
    takeN(l, '203.0.114.5', 5, T0);
    expect(l.size).toBe(2);
    expect(l.flush(T0 + 500)).toEqual([]);
    expect(l.size).toBe(2);
    // 203.0.113.0/24 is full again after 1 s; 203.0.114.0/24 has a pending count, reported a minute after its first
    expect(l.flush(T0 + SUMMARY_INTERVAL_MS)).toEqual([{ sourcePrefix: '203.0.114.0/24', suppressed: 2, firstAt: T0, lastAt: T0 }]);
    expect(l.size).toBe(1);
    expect(l.flush(T0 + 2 * SUMMARY_INTERVAL_MS)).toEqual([]);
    expect(l.size).toBe(0);
  });
});

describe('admission.refusalEvents config', () => {
  it('ok/defaults: 20 a minute, burst 20, /24 and /56, 10,000 sources, 600 a minute in all', () => {
    expect(defaults()).toEqual({ perMinute: 20, burst: 20, ipv4PrefixLength: 24, ipv6PrefixLength: 56, maxSources: 10_000, totalPerMinute: 600 });
  });

  it('fail/out-of-range and unknown keys are refused, naming the key', () => {
    for (const bad of [{ perMinute: 0 }, { burst: 1.5 }, { ipv4PrefixLength: 33 }, { ipv6PrefixLength: 8 }, { maxSources: 1 }, { totalPerMinute: -1 }, { perMinut: 5 }]) {
      const r = admissionConfigSchema.safeParse({ refusalEvents: bad });
      expect(r.success, JSON.stringify(bad)).toBe(false);
      expect(JSON.stringify(r.error?.issues), JSON.stringify(bad)).toContain(Object.keys(bad)[0] as string);
    }
  });
});
