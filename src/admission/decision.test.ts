import { beforeAll, describe, expect, it } from 'vitest';
import { decide } from './decision.js';
import { CHECKS, type Decision } from './types.js';
import { NOW, checkin, device, makeCa, world, type TestCa, type World } from './test-kit.js';

let ca: TestCa;
let other: TestCa;
beforeAll(async () => {
  ca = await makeCa('femtoguard');
  other = await makeCa('someone else');
});

/** A world with device KTF1 active and holding a valid certificate. */
async function ready(admission: Record<string, unknown> = {}): Promise<{ w: World; der: Buffer }> {
  const w = world(ca, admission);
  w.devices.set('KTF1', device('KTF1'));
  const { der, record } = await ca.issue('KTF1');
  w.certs.set(record.fingerprint, record);
  return { w, der };
}

const failed = (d: Decision): string[] => d.reasons.filter((r) => !r.ok).map((r) => r.code);
const reason = (d: Decision, code: string) => d.reasons.find((r) => r.code === code);

describe('decide', () => {
  it('ok/an active device with its own certificate, inside its prefix, at its site, with its cells: admit, every check reported', async () => {
    const { w, der } = await ready();
    const d = await decide(checkin('KTF1', der, { cellIds: ['45008-200000001'], gps: { lat: 37.567, lon: 126.978, accuracyM: 30 }, neighbors: ['45008-100', '45008-101'] }), w.deps);
    expect(d).toMatchObject({ decision: 'admit', reason: null, serial: 'KTF1' });
    expect(d.reasons.map((r) => r.code)).toEqual([...CHECKS]);
    expect(failed(d)).toEqual([]);
  });

  it('ok/a gateway session named only by the fingerprint of a certificate femtoguard issued', async () => {
    const { w, der } = await ready();
    const fp = [...w.certs.keys()][0] as string;
    const d = await decide({ kind: 'session-up', serial: null, certFingerprint: fp, sourceIp: '175.198.195.9', now: NOW }, w.deps);
    expect(d).toMatchObject({ decision: 'admit', serial: 'KTF1', certFingerprint: fp });
    expect(der.length).toBeGreaterThan(0);
  });

  it('fail/no client certificate: cert-chain, expiry, revocation and binding all fail', async () => {
    const { w } = await ready();
    const d = await decide(checkin('KTF1', undefined), w.deps);
    expect(d).toMatchObject({ decision: 'deny', reason: 'cert-chain' });
    expect(failed(d)).toEqual(['cert-chain', 'cert-expiry', 'cert-revoked', 'cert-serial-binding']);
  });

  it('fail/a certificate from another CA for the same serial', async () => {
    const { w } = await ready();
    const foreign = await other.issue('KTF1');
    const d = await decide(checkin('KTF1', foreign.der), w.deps);
    expect(d.reason).toBe('cert-chain');
    expect(reason(d, 'cert-chain')?.detail).toMatch(/not issued by femtoguard/);
  });

  it('fail/garbage where the certificate should be', async () => {
    const { w } = await ready();
    const d = await decide(checkin('KTF1', Buffer.from('not a certificate')), w.deps);
    expect(d).toMatchObject({ decision: 'deny', reason: 'cert-chain' });
  });

  it('fail/an expired certificate and one not yet valid', async () => {
    const { w } = await ready();
    for (const [from, to, re] of [[-40, -10, /expired at/], [2, 30, /not valid before/]] as const) {
      const c = await ca.issue('KTF1', { fromDays: from, toDays: to });
      w.certs.set(c.record.fingerprint, c.record);
      const d = await decide(checkin('KTF1', c.der), w.deps);
      expect(d.reason).toBe('cert-expiry');
      expect(reason(d, 'cert-expiry')?.detail).toMatch(re);
    }
  });

  it('fail/a revoked certificate, and one the store does not know', async () => {
    const { w, der } = await ready();
    for (const r of w.certs.values()) Object.assign(r, { status: 'revoked', revokedAt: NOW.toISOString(), reason: 1 });
    expect((await decide(checkin('KTF1', der), w.deps)).reason).toBe('cert-revoked');
    const unknown = await ca.issue('KTF1');
    const d = await decide(checkin('KTF1', unknown.der), w.deps);
    expect(d.reason).toBe('cert-revoked');
    expect(reason(d, 'cert-revoked')?.detail).toMatch(/revocation status unknown/);
  });

  it("fail/another device's certificate: cert-serial-binding", async () => {
    const { w, der } = await ready();
    w.devices.set('KTF2', device('KTF2'));
    const d = await decide(checkin('KTF2', der), w.deps);
    expect(d.reason).toBe('cert-serial-binding');
    expect(reason(d, 'cert-serial-binding')?.detail).toBe('the certificate belongs to KTF1, not KTF2');
  });

  it('fail/unknown, suspended, lost, decommissioned and provisioned devices', async () => {
    const { w, der } = await ready();
    for (const status of ['suspended', 'lost', 'decommissioned', 'provisioned'] as const) {
      w.devices.set('KTF1', device('KTF1', { status }));
      const d = await decide(checkin('KTF1', der), w.deps);
      expect(d.reason).toBe('device-status');
      expect(reason(d, 'device-status')?.detail).toBe(`device is ${status}`);
    }
    w.devices.delete('KTF1');
    const d = await decide(checkin('KTF1', der), w.deps);
    expect(reason(d, 'device-status')?.detail).toBe('unknown device KTF1');
    // every check that compares with the registry fails closed without an entry
    expect(failed(d)).toEqual(['device-status', 'source-prefix']);
  });

  it('fail/a source address outside the registered prefixes (IPv4-mapped form judged as IPv4)', async () => {
    const { w, der } = await ready();
    expect((await decide(checkin('KTF1', der, { sourceIp: '::ffff:175.198.195.7' }), w.deps)).decision).toBe('admit');
    const d = await decide(checkin('KTF1', der, { sourceIp: '203.0.113.5' }), w.deps);
    expect(d.reason).toBe('source-prefix');
  });

  it('fail/a cell the device may not serve', async () => {
    const { w, der } = await ready();
    const d = await decide(checkin('KTF1', der, { cellIds: ['45008-200000001', '45008-999'] }), w.deps);
    expect(d.reason).toBe('cells-allowed');
    expect(reason(d, 'cells-allowed')?.detail).toMatch(/45008-999/);
  });

  it('fail/a second live session from another address; the same address is fine', async () => {
    const { w, der } = await ready();
    w.sessions.touch('KTF1', '175.198.195.7', 'checkin', NOW.getTime());
    expect((await decide(checkin('KTF1', der), w.deps)).decision).toBe('admit');
    const d = await decide(checkin('KTF1', der, { sourceIp: '175.198.195.8' }), w.deps);
    expect(d.reason).toBe('single-session');
    // a gateway reporting the session down is never a second session
    expect(reason(await decide(checkin('KTF1', der, { kind: 'session-down', sourceIp: '175.198.195.8' }), w.deps), 'single-session')?.ok).toBe(true);
  });

  it('fail/GPS away from the site is an alert by default and a deny when the fleet says so; accuracy widens the circle', async () => {
    const far = { lat: 37.6, lon: 126.978 }; // ~3.7 km north
    const { w, der } = await ready();
    const d = await decide(checkin('KTF1', der, { gps: far }), w.deps);
    expect(d.decision).toBe('admit');
    expect(reason(d, 'gps-in-site')).toMatchObject({ ok: false, enforce: 'alert' });
    expect(reason(await decide(checkin('KTF1', der, { gps: { ...far, accuracyM: 4000 } }), w.deps), 'gps-in-site')?.ok).toBe(true);
    const strict = await ready({ fleets: { kt: { enforce: { 'gps-in-site': 'deny' } } } });
    strict.w.devices.set('KTF1', device('KTF1', { owner: 'kt' }));
    expect((await decide(checkin('KTF1', strict.der, { gps: far }), strict.w.deps)).reason).toBe('gps-in-site');
  });

  it('fail/a neighbour scan that hears too few expected cells', async () => {
    const { w, der } = await ready({ policy: { enforce: { 'neighbors-consistent': 'deny' } } });
    const d = await decide(checkin('KTF1', der, { neighbors: ['45008-6', '45008-7', '45008-8', '45008-9', '45008-10', '45008-100'] }), w.deps);
    expect(d.reason).toBe('neighbors-consistent');
    expect(reason(d, 'neighbors-consistent')?.detail).toMatch(/1 of 6/);
  });

  it('fail/a claimed accuracy poorer than maxGpsAccuracyM cannot widen the circle: the fix counts as none', async () => {
    const far = { lat: 14.6, lon: 121.0 }; // Manila, ~2,600 km away
    const strict = { policy: { enforce: { 'gps-in-site': 'deny' } } };
    const { w, der } = await ready(strict);
    const d = await decide(checkin('KTF1', der, { gps: { ...far, accuracyM: 1e7 } }), w.deps);
    expect(d.reason).toBe('gps-in-site');
    expect(reason(d, 'gps-in-site')?.detail).toMatch(/claiming 10000000 m accuracy \(poorer than 1000 m\) counts as no fix/);
    // up to the cap the accuracy still widens the circle (~3.7 km north, 4 km allowed with a 5 km cap)
    const wide = await ready({ policy: { ...strict.policy, maxGpsAccuracyM: 5000 } });
    expect(reason(await decide(checkin('KTF1', wide.der, { gps: { lat: 37.6, lon: 126.978, accuracyM: 4000 } }), wide.w.deps), 'gps-in-site')?.ok).toBe(true);
    // enforced as alert, a poor fix is just not checked
    const lenient = await ready();
    expect(reason(await decide(checkin('KTF1', lenient.der, { gps: { ...far, accuracyM: 1e7 } }), lenient.w.deps), 'gps-in-site')).toMatchObject({ ok: true, detail: expect.stringMatching(/not checked/) as unknown });
  });

  it('fail/where a location check is enforced as deny, a check-in without a fix or a scan fails it; alert and gateway sessions are not checked', async () => {
    const { w, der } = await ready({ policy: { enforce: { 'gps-in-site': 'deny', 'neighbors-consistent': 'deny' } } });
    const d = await decide(checkin('KTF1', der), w.deps);
    expect(d.reason).toBe('gps-in-site');
    expect(failed(d)).toEqual(['gps-in-site', 'neighbors-consistent']);
    expect(reason(d, 'neighbors-consistent')?.detail).toMatch(/no neighbour scan reported; required/);
    expect((await decide(checkin('KTF1', der, { neighbors: [] , gps: { lat: 37.5665, lon: 126.978 } }), w.deps)).reason).toBe('neighbors-consistent');
    // an IKE SA a gateway reports carries no radio data: not a failure there
    expect((await decide(checkin('KTF1', der, { kind: 'session-up' }), w.deps)).decision).toBe('admit');
    // no site or no expected neighbours registered: nothing to compare with
    w.devices.set('KTF1', device('KTF1', { siteLat: null, siteLon: null, expectedNeighbors: [] }));
    expect((await decide(checkin('KTF1', der), w.deps)).decision).toBe('admit');
    const lenient = await ready();
    expect((await decide(checkin('KTF1', lenient.der), lenient.w.deps)).reasons.every((r) => r.ok)).toBe(true);
  });

  it('fail/repeating an expected neighbour does not buy overlap: each distinct cell counts once', async () => {
    const { w, der } = await ready({ policy: { enforce: { 'neighbors-consistent': 'deny' } } });
    const padded = ['45008-100', '45008-100', '45008-100', '45008-100', '45008-999', '45008-998', '45008-997', '45008-996', '45008-995', '45008-994'];
    const d = await decide(checkin('KTF1', der, { neighbors: padded }), w.deps);
    expect(d.reason).toBe('neighbors-consistent');
    expect(reason(d, 'neighbors-consistent')?.detail).toMatch(/^1 of 7 distinct reported neighbours are expected \(14%/);
    expect((await decide(checkin('KTF1', der, { neighbors: ['45008-100', '45008-101', '45008-100', '45008-999'] }), w.deps)).decision).toBe('admit');
  });

  it('ok/the identity a certificate proved is its store record device, never the claimed serial', async () => {
    const { w, der } = await ready();
    expect((await decide(checkin('KTF1', der), w.deps)).provenSerial).toBe('KTF1');
    expect((await decide(checkin('KTF9', der), w.deps)).provenSerial).toBe('KTF1');
    expect((await decide(checkin('KTF1', undefined), w.deps)).provenSerial).toBeNull();
    expect((await decide(checkin('KTF1', (await other.issue('KTF1')).der), w.deps)).provenSerial).toBeNull();
    // signed by the CA but not in the store: no device binding, nothing proven
    expect((await decide(checkin('KTF1', (await ca.issue('KTF1')).der), w.deps)).provenSerial).toBeNull();
    expect((await decide(checkin('KTF1', der), { ...w.deps, issuing: () => null })).provenSerial).toBeNull();
  });

  it('fail/a stale gateway address is told as stale-endpoint; grace and bootstrap are fine', async () => {
    const { w, der } = await ready();
    w.endpoint = { state: 'grace', retiredAt: NOW.getTime() - 1000, graceUntil: NOW.getTime() + 1000 };
    expect((await decide(checkin('KTF1', der, { endpoint: '127.0.0.2:9443' }), w.deps)).decision).toBe('admit');
    w.endpoint = { state: 'stale', retiredAt: NOW.getTime() - 7200_000, staleSince: NOW.getTime() - 3600_000 };
    const d = await decide(checkin('KTF1', der, { endpoint: '127.0.0.2:9443' }), w.deps);
    expect(d).toMatchObject({ decision: 'deny', reason: 'stale-endpoint', staleSince: new Date(NOW.getTime() - 3600_000).toISOString() });
    w.endpoint = { state: 'unannounced' };
    expect((await decide(checkin('KTF1', der, { endpoint: '127.0.0.4:9443' }), w.deps)).reason).toBe('endpoint-current');
  });

  it('fail/every failure is reported, not just the first', async () => {
    const { w } = await ready();
    w.devices.set('KTF1', device('KTF1', { status: 'lost' }));
    const foreign = await other.issue('KTF1');
    w.sessions.touch('KTF1', '175.198.195.7', 'checkin', NOW.getTime());
    const d = await decide(checkin('KTF1', foreign.der, { sourceIp: '198.51.100.1', cellIds: ['1-1'], gps: { lat: 0, lon: 0 } }), w.deps);
    expect(failed(d)).toEqual(['cert-chain', 'cert-revoked', 'cert-serial-binding', 'device-status', 'source-prefix', 'cells-allowed', 'single-session', 'gps-in-site']);
  });

  it('fail/an identity check cannot be downgraded to alert by a fleet policy', async () => {
    const { w } = await ready({ fleets: { kt: { enforce: { 'cells-allowed': 'alert' } } } });
    w.devices.set('KTF1', device('KTF1', { owner: 'kt', status: 'lost' }));
    const { der, record } = await ca.issue('KTF1');
    w.certs.set(record.fingerprint, record);
    const d = await decide(checkin('KTF1', der, { cellIds: ['1-1'] }), w.deps);
    expect(d.reason).toBe('device-status');
    expect(reason(d, 'cells-allowed')?.enforce).toBe('alert');
  });

  it('fail/closed: a store that throws is a deny with internal-error, and so is a locked CA', async () => {
    const { w, der } = await ready();
    const d = await decide(checkin('KTF1', der), { ...w.deps, devices: { get: () => Promise.reject(new Error('database is locked')) } });
    expect(d).toMatchObject({ decision: 'deny', reason: 'internal-error', reasons: [{ code: 'internal-error', ok: false, detail: expect.stringMatching(/database is locked/) as unknown }] });
    expect((await decide(checkin('KTF1', der), { ...w.deps, issuing: () => null })).reason).toBe('cert-chain');
  });
});
