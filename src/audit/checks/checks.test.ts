/**
 * Check boundaries on synthetic fleets (facts built directly, no files): where each band
 * starts, what is deliberately not flagged, and how holders are counted.
 */
import { describe, expect, it } from 'vitest';
import { OID } from '../../pki/index.js';
import type { DeviceInput, DeviceStatus } from '../../registry/index.js';
import { DAY_MS } from '../event-time.js';
import { buildFleet, type Fleet } from '../fleet.js';
import type { SessionHistory } from '../sessions.js';
import { DEFAULT_POLICY, type CertFacts, type Finding } from '../types.js';
import { judgeKey, judgeSignature } from './crypto.js';
import { runChecks } from './index.js';

const NOW = Date.parse('2025-08-05T00:00:00Z');
let n = 0;

function cert(o: Partial<CertFacts> & { claimedSerial: string | null }): CertFacts {
  n += 1;
  return {
    fingerprint: n.toString(16).padStart(64, '0'),
    source: `c${n}.pem`,
    serialHex: n.toString(16),
    subject: `CN=${o.claimedSerial ?? 'x'}`,
    issuer: 'CN=Issuing',
    subjectKey: `subject-${o.claimedSerial ?? n}`,
    issuerKey: 'issuing',
    spkiKey: `spki-${n}`,
    notBefore: NOW - 10 * DAY_MS,
    notAfter: NOW + 20 * DAY_MS,
    key: { type: 'ec', curve: 'P-256', bits: 256 },
    signatureAlgorithm: OID.ecdsaWithSHA256,
    basicConstraints: { ca: false, critical: true },
    keyUsage: 1,
    extKeyUsage: [OID.kpClientAuth],
    selfIssued: false,
    ...o,
  };
}

function device(serial: string, status: DeviceStatus = 'active', certFingerprints: string[] = []): DeviceInput {
  return { serial, status, cellIds: [], siteLat: null, siteLon: null, siteRadiusM: 300, ipPrefixes: [], expectedNeighbors: [], certFingerprints, owner: null };
}

function fleet(devices: DeviceInput[], certs: CertFacts[], history: SessionHistory | null = null): Fleet {
  return buildFleet({ now: NOW, policy: DEFAULT_POLICY, devices: new Map(devices.map((d) => [d.serial, d])), certs: new Map(certs.map((c) => [c.fingerprint, c])), history });
}

const findings = (f: Fleet, id: string): Finding[] => runChecks(f).findings.filter((x) => x.id === id);
const ids = (f: Fleet): string[] => runChecks(f).findings.map((x) => `${x.severity} ${x.id}`);

describe('checks: lifetime bands', () => {
  const lifetime = (days: number): Finding[] => {
    const c = cert({ claimedSerial: 'A', notBefore: NOW - DAY_MS, notAfter: NOW - DAY_MS + days * DAY_MS });
    return findings(fleet([device('A')], [c]), 'lifetime-beyond-policy');
  };
  it('ok/exactly the policy (90 days) is within policy', () => expect(lifetime(90)).toEqual([]));
  it('fail/91 days is medium, 399 high, five years critical', () => {
    expect(lifetime(91).map((f) => f.severity)).toEqual(['medium']);
    expect(lifetime(398).map((f) => f.severity)).toEqual(['medium']);
    expect(lifetime(399).map((f) => f.severity)).toEqual(['high']);
    expect(lifetime(1824).map((f) => f.severity)).toEqual(['high']);
    expect(lifetime(1825).map((f) => f.severity)).toEqual(['critical']);
  });
  it('ok/an expired long-lived certificate is not a lifetime finding', () => {
    const c = cert({ claimedSerial: 'A', notBefore: NOW - 4000 * DAY_MS, notAfter: NOW - DAY_MS });
    expect(findings(fleet([device('A', 'decommissioned')], [c]), 'lifetime-beyond-policy')).toEqual([]);
  });
});

describe('checks: expiring soon', () => {
  it('fail/a 30-day certificate is expiring in its last third (10 days), not before', () => {
    const at = (left: number): number => findings(fleet([device('A')], [cert({ claimedSerial: 'A', notBefore: NOW - (30 - left) * DAY_MS, notAfter: NOW + left * DAY_MS })]), 'certificate-expiring').length;
    expect([at(11), at(10), at(9)]).toEqual([0, 0, 1]);
  });
  it('fail/a one-year certificate is expiring within the 30-day window', () => {
    const c = cert({ claimedSerial: 'A', notBefore: NOW - 340 * DAY_MS, notAfter: NOW + 25 * DAY_MS });
    expect(findings(fleet([device('A')], [c]), 'certificate-expiring')).toHaveLength(1);
  });
  it('ok/an expiring certificate of a lost device or an orphan is not an expiry finding', () => {
    const c = cert({ claimedSerial: 'A', notAfter: NOW + DAY_MS });
    const o = cert({ claimedSerial: 'NOBODY', notAfter: NOW + DAY_MS });
    expect(findings(fleet([device('A', 'lost')], [c, o]), 'certificate-expiring')).toEqual([]);
  });
});

describe('checks: keys and signatures', () => {
  const k = (key: CertFacts['key']): string | undefined => judgeKey(cert({ claimedSerial: 'A', key }))?.severity;
  it('fail/RSA 512 critical, 1024 high, exponent 1 critical, even exponent high, 3 medium', () => {
    expect(k({ type: 'rsa', bits: 512, rsaExponent: 65537 })).toBe('critical');
    expect(k({ type: 'rsa', bits: 1024, rsaExponent: 65537 })).toBe('high');
    expect(k({ type: 'rsa', bits: 2047, rsaExponent: 65537 })).toBe('high');
    expect(k({ type: 'rsa', bits: 2048, rsaExponent: 1 })).toBe('critical');
    expect(k({ type: 'rsa', bits: 2048, rsaExponent: 4 })).toBe('high');
    expect(k({ type: 'rsa', bits: 2048, rsaExponent: 3 })).toBe('medium');
  });
  it('ok/RSA 2048 e=65537, P-256/384/521, brainpool and Ed25519 are fine', () => {
    expect(k({ type: 'rsa', bits: 2048, rsaExponent: 65537 })).toBeUndefined();
    for (const curve of ['P-256', 'P-384', 'P-521', '1.3.36.3.3.2.8.1.1.7']) expect(k({ type: 'ec', curve })).toBeUndefined();
    expect(k({ type: 'ed25519', bits: 256 })).toBeUndefined();
  });
  it('fail/small, non-standard, unknown curves and other key types', () => {
    expect(k({ type: 'ec', curve: '1.3.132.0.33' })).toBe('high'); // P-224
    expect(k({ type: 'ec', curve: '1.3.132.0.10' })).toBe('medium'); // secp256k1
    expect(k({ type: 'ec', curve: '1.2.3.4' })).toBe('medium');
    expect(k({ type: 'other' })).toBe('high');
  });
  it('fail/MD5 critical, SHA-1 high, SHA-256 fine', () => {
    const s = (alg: string): string | undefined => judgeSignature(cert({ claimedSerial: 'A', signatureAlgorithm: alg }))?.severity;
    expect([s(OID.md5WithRSAEncryption), s(OID.sha1WithRSAEncryption), s(OID.ecdsaWithSHA1), s(OID.sha256WithRSAEncryption)]).toEqual(['critical', 'high', 'high', undefined]);
  });
  it('fail/keyCertSign without cA on a device certificate is still a CA flag', () => {
    const c = cert({ claimedSerial: 'A', keyUsage: 1 | (1 << 5) });
    expect(findings(fleet([device('A')], [c]), 'ca-flag-on-device')[0]?.deviceNotes).toEqual({ A: 'keyCertSign' });
  });
  it('ok/anyExtendedKeyUsage counts as clientAuth', () => {
    expect(findings(fleet([device('A')], [cert({ claimedSerial: 'A', extKeyUsage: ['2.5.29.37.0'] })]), 'missing-client-auth')).toEqual([]);
  });
});

describe('checks: who holds what', () => {
  it('ok/one device re-certified over its own key is not a shared key', () => {
    const a = cert({ claimedSerial: 'A', spkiKey: 'same' });
    const b = cert({ claimedSerial: 'A', spkiKey: 'same', notBefore: NOW - DAY_MS });
    expect(findings(fleet([device('A')], [a, b]), 'public-key-shared')).toEqual([]);
  });
  it('fail/two orphan certificates over one key naming nobody still share it', () => {
    const a = cert({ claimedSerial: null, spkiKey: 'same' });
    const b = cert({ claimedSerial: null, spkiKey: 'same' });
    const f = findings(fleet([], [a, b]), 'public-key-shared');
    expect(f).toHaveLength(1);
    expect(f[0]?.devices).toEqual([]);
  });
  it('fail/two inventory rows listing a fingerprint missing from the dump are a shared certificate', () => {
    const fp = 'cd'.repeat(32);
    const f = findings(fleet([device('A', 'active', [fp]), device('B', 'active', [fp])], []), 'certificate-shared');
    expect(f[0]).toMatchObject({ devices: ['A', 'B'], certificates: [fp], evidence: { inDump: false, listedBy: 2 } });
  });
  it('ok/a CA certificate listed by nobody is a CA; the same with a holder is a device certificate with a CA flag', () => {
    const ca = cert({ claimedSerial: 'Issuing', basicConstraints: { ca: true, critical: true, pathLen: 0 }, keyUsage: 1 << 5 });
    expect(fleet([], [ca]).caCerts).toHaveLength(1);
    expect(fleet([device('Issuing')], [ca]).deviceCerts).toHaveLength(1);
  });
  it('ok/provisioned, suspended and retired devices without certificates are not "without certificate"', () => {
    const f = fleet([device('P', 'provisioned'), device('S', 'suspended'), device('D', 'decommissioned'), device('L', 'lost')], []);
    expect(ids(f)).toEqual([]);
  });
});

describe('checks: usage without a history', () => {
  it('ok/session checks do not run without a history, and say so in the list of checks run', () => {
    const { checks } = runChecks(fleet([device('A')], []));
    expect(checks).not.toContain('idle-device');
    expect(checks).toContain('certificate-shared');
  });
  it('ok/a history shorter than the idle limit does not call never-seen devices idle', () => {
    const history: SessionHistory = {
      usage: new Map(), presenters: new Map(), firstTs: NOW - 30 * DAY_MS, lastTs: NOW, problems: [],
      summary: { file: 'x', lines: 0, events: 0, ignored: 0, duplicates: 0, unknownTypes: {}, malformed: 0, firstTs: null, lastTs: null },
    };
    expect(findings(fleet([device('A')], [cert({ claimedSerial: 'A' })], history), 'idle-device')).toEqual([]);
    history.firstTs = NOW - 91 * DAY_MS;
    expect(findings(fleet([device('A')], [cert({ claimedSerial: 'A' })], history), 'idle-device')[0]?.devices).toEqual(['A']);
  });
});
