import { describe, expect, it } from 'vitest';
import { HotIndex } from './hot-index.js';

const T = Date.parse('2025-08-05T10:00:00Z');
const MIN = 60_000;
const policy = { highWithinMs: 120 * MIN, mediumWithinMs: 24 * 60 * MIN };
/** detection's default flagRetentionMs (7 days) */
const FLAG_RETENTION = 7 * 24 * 60 * MIN;
const A = '450080000000001';
const B = '450080000000002';

describe('HotIndex', () => {
  it('ok/finds a subscriber by MSISDN with the time and cell of the latest observation', () => {
    const h = new HotIndex(FLAG_RETENTION);
    h.observe(A, T, 'C1', '+821011112222');
    h.observe(A, T - MIN, 'C0', undefined);
    expect(h.imsiOfMsisdn('+821011112222')).toBe(A);
    expect(h.lastObservation(A)).toEqual({ t: T, cellId: 'C1', msisdn: '+821011112222' });
    expect(h.size).toBe(1);
  });

  it('ok/a number moved to another SIM follows the latest observation', () => {
    const h = new HotIndex(FLAG_RETENTION);
    h.observe(A, T, 'C1', '+821011112222');
    h.observe(B, T + MIN, 'C1', '+821011112222');
    expect(h.imsiOfMsisdn('+821011112222')).toBe(B);
    h.observe(A, T + 2 * MIN, 'C1', '+821033334444');
    expect(h.imsiOfMsisdn('+821011112222')).toBe(B);
    expect(h.imsiOfMsisdn('+821033334444')).toBe(A);
  });

  it('ok/exposures are kept for flagged cells only; a flag after the observation is backfilled by addExposure', () => {
    const h = new HotIndex(FLAG_RETENTION);
    h.flags.flag('ROGUE', T - 60 * MIN, 'unregistered-cell');
    h.observe(A, T - 10 * MIN, 'ROGUE', '+821011112222');
    h.observe(A, T - 5 * MIN, 'HOME', undefined);
    h.observe(B, T - 10 * MIN, 'CAFE', '+821055556666');
    expect(h.exposedCount).toBe(1);
    expect(h.score(A, T, 7 * 24 * 60 * MIN, policy)).toMatchObject({ exposed: true, riskLevel: 'high', cells: [{ cellId: 'ROGUE', lastOn: T - 10 * MIN }] });
    expect(h.score(B, T, 7 * 24 * 60 * MIN, policy).riskLevel).toBe('none');
    h.flags.flag('CAFE', T - MIN, 'subscriber-surge');
    h.addExposure(B, 'CAFE', T - 10 * MIN);
    expect(h.score(B, T, 7 * 24 * 60 * MIN, policy).riskLevel).toBe('high');
  });

  it('ok/expire forgets exposures older than the retention', () => {
    const h = new HotIndex(FLAG_RETENTION);
    h.flags.flag('ROGUE', T - 600 * MIN, 'unregistered-cell');
    h.observe(A, T - 500 * MIN, 'ROGUE', undefined);
    h.expire(T - 100 * MIN);
    expect(h.exposedCount).toBe(0);
  });

  it('ok/grows past its initial capacity', () => {
    const h = new HotIndex(FLAG_RETENTION);
    for (let i = 0; i < 5000; i++) h.observe(String(450080000000000 + i), T + i, 'C1', `+8210${String(i).padStart(8, '0')}`);
    expect(h.size).toBe(5000);
    expect(h.lastObservation(String(450080000004999))?.t).toBe(T + 4999);
    expect(h.imsiOfMsisdn('+821000000007')).toBe('450080000000007');
  });

  it('fail/an unknown subscriber has no observation and scores none', () => {
    const h = new HotIndex(FLAG_RETENTION);
    expect(h.lastObservation(A)).toBeUndefined();
    expect(h.imsiOfMsisdn('+821011112222')).toBeUndefined();
    expect(h.score(A, T, 60 * MIN, policy).riskLevel).toBe('none');
  });
});
