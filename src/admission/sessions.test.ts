import { describe, expect, it } from 'vitest';
import { LiveSessions } from './sessions.js';

const s = (): LiveSessions => new LiveSessions({ checkinTtlMs: 1000, gatewayTtlMs: 10_000 });

describe('live sessions (one per identity)', () => {
  it('ok/a check-in from the same address refreshes the session', () => {
    const t = s();
    const a = t.touch('KTF1', '10.0.0.1', 'checkin', 0);
    const b = t.touch('KTF1', '10.0.0.1', 'checkin', 900);
    expect(b.id).toBe(a.id);
    expect(t.get('KTF1', 1800)?.id).toBe(a.id);
    expect(t.conflicting('KTF1', '10.0.0.1', 1800)).toBeUndefined();
  });

  it('fail/another address while the session is live is a conflict; after expiry it is free', () => {
    const t = s();
    t.touch('KTF1', '10.0.0.1', 'checkin', 0);
    expect(t.conflicting('KTF1', '10.0.0.2', 999)?.sourceIp).toBe('10.0.0.1');
    expect(t.conflicting('KTF1', '10.0.0.2', 1000)).toBeUndefined();
    expect(t.size).toBe(0);
  });

  it('ok/a gateway session lives until its down, which must name it', () => {
    const t = s();
    t.touch('KTF1', '10.0.0.1', 'gateway', 0, { gatewaySessionId: 'ike-7' });
    expect(t.end('KTF1', { sourceIp: '10.0.0.1', gatewaySessionId: 'ike-8' })).toBeUndefined();
    expect(t.end('KTF1', { sourceIp: '10.0.0.9' })).toBeUndefined();
    expect(t.conflicting('KTF1', '10.0.0.2', 9000)).toBeDefined();
    expect(t.end('KTF1', { gatewaySessionId: 'ike-7' })?.sourceIp).toBe('10.0.0.1');
    expect(t.conflicting('KTF1', '10.0.0.2', 9000)).toBeUndefined();
  });

  it('ok/sweep drops only expired sessions', () => {
    const t = s();
    t.touch('A', '10.0.0.1', 'checkin', 0);
    t.touch('B', '10.0.0.2', 'gateway', 0);
    expect(t.sweep(5000)).toBe(1);
    expect(t.size).toBe(1);
  });
});
