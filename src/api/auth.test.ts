import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AuditEventInput } from '../audit-log/index.js';
import { createDenialAudit, type Denial, type DenialAudit } from './auth.js';

const anon: Denial = { tokenId: null, route: 'POST /v1/tokens', reason: 'auth.missing_token', ip: '192.0.2.7' };
let events: AuditEventInput[];
let d: DenialAudit;

beforeEach(() => {
  vi.useFakeTimers();
  events = [];
  d = createDenialAudit({ audit: { record: async (e) => void events.push(e) }, windowMs: 60_000, maxKeys: 3 });
});
afterEach(() => {
  d.close();
  vi.useRealTimers();
});

describe('auth.denied audit events', () => {
  it('ok/the first refusal of a key is written at once, with count 1 and no secret', () => {
    d.record(anon);
    expect(events).toEqual([
      { action: 'auth.denied', actor: 'anonymous', subject: 'POST /v1/tokens', outcome: 'denied', details: expect.objectContaining({ reason: 'auth.missing_token', route: 'POST /v1/tokens', tokenId: null, ip: '192.0.2.7', count: 1 }) as unknown },
    ]);
  });

  it('fail/a flood of 10 000 refusals in a minute is two events: the first, then one with the count at the end of the window', () => {
    for (let i = 0; i < 10_000; i++) d.record(anon);
    expect(events).toHaveLength(1);
    vi.advanceTimersByTime(59_000);
    expect(events).toHaveLength(1);
    vi.advanceTimersByTime(16_000);
    expect(events).toHaveLength(2);
    expect(events[1]?.details).toMatchObject({ count: 9_999 });
    vi.advanceTimersByTime(600_000);
    expect(events).toHaveLength(2);
  });

  it('ok/keys are token, route and reason: a forbidden token is its own key, named by its id', () => {
    d.record(anon);
    d.record({ ...anon, reason: 'auth.invalid_token' });
    d.record({ tokenId: 'abc123', route: 'GET /v1/tokens', reason: 'auth.forbidden', ip: '::1' });
    d.record({ tokenId: 'abc123', route: 'GET /v1/tokens', reason: 'auth.forbidden', ip: '::1' });
    expect(events.map((e) => `${e.actor} ${e.subject} ${String(e.details?.reason)}`)).toEqual(['anonymous POST /v1/tokens auth.missing_token', 'anonymous POST /v1/tokens auth.invalid_token', 'token:abc123 GET /v1/tokens auth.forbidden']);
  });

  it('fail/past maxKeys, new keys are counted under one overflow key, not one event each', () => {
    for (let i = 0; i < 100; i++) d.record({ tokenId: `t${i}`, route: 'GET /v1/devices', reason: 'auth.forbidden', ip: '::1' });
    expect(events).toHaveLength(4);
    expect(events[3]).toMatchObject({ subject: '*', details: { reason: 'auth.denied_overflow' } });
    vi.advanceTimersByTime(75_000);
    expect(events[4]?.details).toMatchObject({ reason: 'auth.denied_overflow', count: 96 });
  });

  it('ok/a refusal after the window has ended goes out with the pending count; close writes what is pending', () => {
    d.record(anon);
    d.record(anon);
    vi.setSystemTime(Date.now() + 61_000);
    d.record(anon);
    expect(events.map((e) => e.details?.count)).toEqual([1, 2]);
    d.record(anon);
    d.close();
    expect(events.map((e) => e.details?.count)).toEqual([1, 2, 1]);
  });
});
