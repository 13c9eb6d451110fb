/**
 * EST enrollment when something goes wrong after the certificate was recorded, and the
 * succession of a device's certificates: a late failure withdraws (revokes) the undelivered
 * certificate and keeps the token spent; a status change that raced the issuance revokes the
 * new certificate; a delivered certificate supersedes the earlier ones, and only the newest
 * re-enrolls. Real SQLite stores and a real CA; faults are injected around them.
 */
import { generateKeyPairSync } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { openSqlite, sqliteAuditStore, sqliteCertStore, sqliteDeviceStore, sqliteEnrollmentStore } from '../adapters/sqlite/index.js';
import type { AuditEventInput, AuditSink } from '../audit-log/index.js';
import { fixedClock } from '../core/clock.js';
import { isAppError } from '../core/errors.js';
import { buildCsr, createIssuance, createRevocation, CRL_REASONS, initCa, OID, type CertStore, type UnlockedCa } from '../pki/index.js';
import { createRegistry, deviceCreateSchema, type DeviceStatus, type Registry } from '../registry/index.js';
import { createEnrollmentAdmin } from './admin.js';
import { createEst } from './service.js';

const MINUTE = 60_000;
const caller = { sourceIp: '10.0.0.1' };

/** One CA shared by the cases (key generation and scrypt are the slow part); stores per case. */
let caDb: ReturnType<typeof openSqlite>;
let ca: UnlockedCa;
beforeAll(async () => {
  caDb = openSqlite(':memory:');
  const caClock = fixedClock(new Date('2026-01-01T00:00:00Z'));
  ca = await initCa(
    { store: sqliteCertStore(caDb), audit: sqliteAuditStore(caDb), clock: caClock },
    { keyAlgorithm: 'P-256', name: 'EST unit test', rootValidityDays: 3650, issuingValidityDays: 1825, responderValidityDays: 30 },
    'est-unit-test-passphrase',
    'test',
  );
});

/** Faults a case switches on: each throws the way a busy SQLite database does. */
interface Faults {
  markEnrolled?: boolean;
  /** audit writes of this action fail */
  auditAction?: string;
  /** revocations with this reason fail */
  revokeReason?: number;
  /** runs once inside issuance, after the first status check and before the record */
  duringIssue?: () => Promise<void>;
}

function busy(): Error {
  return Object.assign(new Error('SQLITE_BUSY: database is locked (secret-looking text that must not be audited)'), { code: 'SQLITE_BUSY' });
}

function setup(settings = { maxFailedAttempts: 1000, attemptWindowSeconds: 900 }) {
  const db = openSqlite(':memory:');
  const clock = fixedClock(new Date('2026-03-01T00:00:00Z'));
  const faults: Faults = {};
  const certs = sqliteCertStore(db);
  const auditStore = sqliteAuditStore(db);
  const audit: AuditSink = {
    record: (e: AuditEventInput) => (faults.auditAction === e.action ? Promise.reject(busy()) : auditStore.record(e)),
  };
  const revocation = createRevocation({ store: certs, audit, clock });
  const registry = createRegistry({ store: sqliteDeviceStore(db), revoker: revocation, audit, clock });
  const issuanceCerts: CertStore = {
    ...certs,
    async keyOwner(spkiSha256) {
      const hook = faults.duringIssue;
      faults.duringIssue = undefined;
      if (hook) await hook();
      return certs.keyOwner(spkiSha256);
    },
  };
  const issuance = createIssuance({ ca, store: issuanceCerts, audit, clock }, { deviceValidityDays: 30, ocspUrl: 'http://fg.test/ocsp', crlUrl: 'http://fg.test/crl' });
  const faultyRegistry: Registry = {
    ...registry,
    markEnrolled: (serial, actor) => (faults.markEnrolled ? Promise.reject(busy()) : registry.markEnrolled(serial, actor)),
  };
  const enrollment = sqliteEnrollmentStore(db);
  const admin = createEnrollmentAdmin({ registry, store: enrollment, audit, clock });
  const est = createEst({
    ca,
    issuance,
    certs,
    registry: faultyRegistry,
    store: enrollment,
    audit,
    clock,
    settings,
    revocation: {
      revokeCertificate: (serialHex, reason, actor) => (faults.revokeReason === reason ? Promise.reject(busy()) : revocation.revokeCertificate(serialHex, reason, actor)),
    },
  });

  const csr = (serial: string): Buffer => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    return buildCsr({ privateKey, subject: [{ type: OID.serialNumber, value: serial }, { type: OID.commonName, value: serial }] });
  };
  return {
    clock,
    faults,
    certs,
    registry,
    admin,
    est,
    auditOf: (action: string, subject?: string) => auditStore.list({ action, subject }),
    /** serial:status:reason of the device's certificates, in issuance order */
    certsOf: async (serial: string) =>
      (await certs.list({ deviceSerial: serial })).sort((a, b) => (a.issuedAt < b.issuedAt ? -1 : 1)).map((c) => ({ serialHex: c.serialHex, status: c.status, reason: c.reason })),
    async device(serial: string, status: DeviceStatus = 'provisioned'): Promise<string> {
      await registry.add(deviceCreateSchema.parse({ serial, status }), 'test');
      return (await admin.createToken(serial, 3600, 'test')).token;
    },
    enroll: (serial: string, token: string) => est.simpleenroll(csr(serial), { ...caller, basic: { user: serial, password: token } }),
    reenroll: (serial: string, cert: Buffer, sourceIp = caller.sourceIp) => est.simplereenroll(csr(serial), { sourceIp, clientChain: [cert] }),
    csrOf: csr,
    /** a re-enrollment with no client certificate, naming `serial` */
    forge: (serial: string, sourceIp: string) => est.simplereenroll(csr(serial), { sourceIp }),
  };
}

async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  if (e === null) throw new Error('expected the request to be refused');
  return { code: isAppError(e) ? e.code : ((e as { code?: string }).code ?? 'no-code'), message: (e as Error).message };
}

describe('simpleenroll: a failure after the certificate was recorded', () => {
  it('fail/markEnrolled fails: the certificate is revoked, the token stays used, and is refused the second time', async () => {
    const h = setup();
    const token = await h.device('LATE-1');
    h.faults.markEnrolled = true;
    expect((await refusal(h.enroll('LATE-1', token))).code).toBe('SQLITE_BUSY');
    h.faults.markEnrolled = false;

    const certs = await h.certsOf('LATE-1');
    expect(certs).toMatchObject([{ status: 'revoked', reason: CRL_REASONS.cessationOfOperation }]);
    expect((await h.admin.listTokens('LATE-1'))[0]?.usedAt).not.toBeNull();
    expect((await h.registry.get('LATE-1'))?.status).toBe('provisioned');
    expect(await h.auditOf('est.certificate_withdrawn', 'LATE-1')).toMatchObject([
      { outcome: 'success', details: { certificate: certs[0]?.serialHex, reason: 'cessationOfOperation', why: 'SQLITE_BUSY' } },
    ]);
    expect(await h.auditOf('cert.revoked', certs[0]?.serialHex)).toHaveLength(1);
    // The failure is audited by its code, never by its message.
    const failure = await h.auditOf('est.enroll', 'LATE-1');
    expect(failure).toMatchObject([{ outcome: 'failure', details: { code: 'SQLITE_BUSY', method: 'token', withdrawn: [certs[0]?.serialHex] } }]);
    expect(JSON.stringify(failure)).not.toContain('secret-looking');

    expect((await refusal(h.enroll('LATE-1', token))).code).toBe('est.token_used');
    expect(await h.certsOf('LATE-1')).toHaveLength(1);
  });

  it('fail/the success audit write fails: same outcome, no valid certificate left', async () => {
    const h = setup();
    const token = await h.device('LATE-2');
    h.faults.auditAction = 'est.enroll';
    await refusal(h.enroll('LATE-2', token));
    h.faults.auditAction = undefined;
    expect(await h.certsOf('LATE-2')).toMatchObject([{ status: 'revoked', reason: CRL_REASONS.cessationOfOperation }]);
    expect((await refusal(h.enroll('LATE-2', token))).code).toBe('est.token_used');
  });

  it("fail/issuance's own audit write fails after the record: the recorded certificate is found and revoked", async () => {
    const h = setup();
    const token = await h.device('LATE-3');
    h.faults.auditAction = 'pki.certificate_issued';
    await refusal(h.enroll('LATE-3', token));
    h.faults.auditAction = undefined;
    expect(await h.certsOf('LATE-3')).toMatchObject([{ status: 'revoked', reason: CRL_REASONS.cessationOfOperation }]);
    expect((await refusal(h.enroll('LATE-3', token))).code).toBe('est.token_used');
  });

  it('fail/the withdrawal itself fails: audited as a failure, and the token is still not released', async () => {
    const h = setup();
    const token = await h.device('LATE-4');
    h.faults.markEnrolled = true;
    h.faults.revokeReason = CRL_REASONS.cessationOfOperation;
    await refusal(h.enroll('LATE-4', token));
    Object.assign(h.faults, { markEnrolled: false, revokeReason: undefined });
    const [cert] = await h.certsOf('LATE-4');
    expect(await h.auditOf('est.certificate_withdrawn', 'LATE-4')).toMatchObject([{ outcome: 'failure', details: { certificate: cert?.serialHex, code: 'SQLITE_BUSY' } }]);
    expect((await refusal(h.enroll('LATE-4', token))).code).toBe('est.token_used');
  });

  it('ok/a refusal before anything was recorded still releases the token (the device may retry)', async () => {
    const h = setup();
    const token = await h.device('EARLY-1');
    h.faults.duringIssue = async () => {
      throw Object.assign(new Error('store unavailable'), { code: 'SQLITE_IOERR' });
    };
    expect((await refusal(h.enroll('EARLY-1', token))).code).toBe('SQLITE_IOERR');
    expect(await h.certsOf('EARLY-1')).toEqual([]);
    expect((await h.admin.listTokens('EARLY-1'))[0]?.usedAt).toBeNull();
    await h.enroll('EARLY-1', token);
    expect(await h.certsOf('EARLY-1')).toMatchObject([{ status: 'valid' }]);
  });
});

describe('a status change that races the issuance', () => {
  it('fail/a device set lost mid-enrollment: the new certificate is revoked keyCompromise and the request refused', async () => {
    const h = setup();
    const token = await h.device('RACE-LOST');
    h.faults.duringIssue = async () => {
      await h.registry.setStatus('RACE-LOST', 'lost', 'operator', 'stolen');
    };
    const r = await refusal(h.enroll('RACE-LOST', token));
    expect(r.code).toBe('est.device_status_changed');
    expect(r.message).toMatch(/RACE-LOST became lost while its certificate was being issued/);
    const certs = await h.certsOf('RACE-LOST');
    expect(certs).toMatchObject([{ status: 'revoked', reason: CRL_REASONS.keyCompromise }]);
    expect((await h.certs.revokedUnexpired(h.clock.now().toISOString())).map((c) => c.serialHex)).toContain(certs[0]?.serialHex);
    expect(await h.auditOf('est.enroll', 'RACE-LOST')).toMatchObject([{ outcome: 'denied', details: { code: 'est.device_status_changed', withdrawn: [certs[0]?.serialHex] } }]);
    expect((await h.admin.listTokens('RACE-LOST'))[0]?.usedAt).not.toBeNull();
  });

  it('fail/a device suspended mid-re-enrollment: the new certificate is revoked for good, not held, so reactivation does not revive it', async () => {
    const h = setup();
    const token = await h.device('RACE-SUSP');
    const a = await h.enroll('RACE-SUSP', token);
    h.clock.advance(MINUTE);
    h.faults.duringIssue = async () => {
      await h.registry.setStatus('RACE-SUSP', 'suspended', 'operator', 'investigation');
    };
    expect((await refusal(h.reenroll('RACE-SUSP', a))).code).toBe('est.device_status_changed');
    const [first, second] = await h.certsOf('RACE-SUSP');
    expect(first).toMatchObject({ status: 'revoked', reason: CRL_REASONS.certificateHold });
    expect(second).toMatchObject({ status: 'revoked', reason: CRL_REASONS.privilegeWithdrawn });

    await h.registry.setStatus('RACE-SUSP', 'active', 'operator', 'cleared');
    expect((await h.certsOf('RACE-SUSP')).map((c) => c.status)).toEqual(['valid', 'revoked']);
    // The device's own certificate is its current one again and renews.
    h.clock.advance(MINUTE);
    await h.reenroll('RACE-SUSP', a);
  });
});

describe('simplereenroll: only the current certificate renews', () => {
  it('ok/the successor supersedes the presented certificate through the revocation core; the successor renews', async () => {
    const h = setup();
    const a = await h.enroll('SUCC-1', await h.device('SUCC-1'));
    h.clock.advance(MINUTE);
    const b = await h.reenroll('SUCC-1', a);
    const [ca1, cb] = await h.certsOf('SUCC-1');
    expect(ca1).toMatchObject({ status: 'revoked', reason: CRL_REASONS.superseded });
    expect(cb).toMatchObject({ status: 'valid' });
    expect(await h.auditOf('cert.revoked', ca1?.serialHex)).toMatchObject([{ actor: 'system:est', details: { reason: 'superseded', device: 'SUCC-1' } }]);
    h.clock.advance(MINUTE);
    await h.reenroll('SUCC-1', b);
    expect((await h.certsOf('SUCC-1')).map((c) => c.status)).toEqual(['revoked', 'revoked', 'valid']);
  });

  it('fail/a superseded certificate re-enrolling again (A→B, then A) is 403 and audited with its fingerprint', async () => {
    const h = setup();
    const a = await h.enroll('CLONE-1', await h.device('CLONE-1'));
    h.clock.advance(MINUTE);
    await h.reenroll('CLONE-1', a);
    h.clock.advance(MINUTE);
    const before = await h.certsOf('CLONE-1');
    const r = await refusal(h.reenroll('CLONE-1', a));
    expect(r.code).toBe('est.client_cert_superseded');
    expect(r.message).toMatch(/superseded by a newer one; only the device's current certificate re-enrolls.*enrollment token/);
    expect(await h.certsOf('CLONE-1')).toEqual(before);
    const ev = await h.auditOf('est.reenroll_superseded_cert', 'CLONE-1');
    expect(ev).toMatchObject([{ outcome: 'denied', details: { code: 'est.client_cert_superseded', certificate: before[0]?.serialHex } }]);
    expect(ev[0]?.details?.['fingerprint']).toMatch(/^[0-9a-f]{64}$/);
  });

  it('fail/an older certificate still valid beside a newer one (its supersession failed) is refused too; the next renewal revokes it', async () => {
    const h = setup();
    const a = await h.enroll('CLONE-2', await h.device('CLONE-2'));
    h.clock.advance(MINUTE);
    h.faults.revokeReason = CRL_REASONS.superseded;
    const b = await h.reenroll('CLONE-2', a);
    h.faults.revokeReason = undefined;
    expect((await h.certsOf('CLONE-2')).map((c) => c.status)).toEqual(['valid', 'valid']);
    expect(await h.auditOf('est.supersede_failed', 'CLONE-2')).toHaveLength(1);

    h.clock.advance(MINUTE);
    const r = await refusal(h.reenroll('CLONE-2', a));
    expect(r.code).toBe('est.client_cert_superseded');
    const [certA, certB] = await h.certsOf('CLONE-2');
    expect(await h.auditOf('est.reenroll_superseded_cert', 'CLONE-2')).toMatchObject([{ details: { certificate: certA?.serialHex, current: certB?.serialHex } }]);

    await h.reenroll('CLONE-2', b);
    expect((await h.certsOf('CLONE-2')).map((c) => `${c.status}:${c.reason}`)).toEqual([`revoked:${CRL_REASONS.superseded}`, `revoked:${CRL_REASONS.superseded}`, 'valid:null']);
  });

  it('fail/a late failure in re-enrollment withdraws the new certificate; the presented one stays current and retries', async () => {
    const h = setup();
    const a = await h.enroll('RE-LATE', await h.device('RE-LATE'));
    h.clock.advance(MINUTE);
    h.faults.auditAction = 'est.reenroll';
    await refusal(h.reenroll('RE-LATE', a));
    h.faults.auditAction = undefined;
    expect((await h.certsOf('RE-LATE')).map((c) => `${c.status}:${c.reason}`)).toEqual(['valid:null', `revoked:${CRL_REASONS.cessationOfOperation}`]);
    h.clock.advance(MINUTE);
    await h.reenroll('RE-LATE', a);
    expect((await h.certsOf('RE-LATE')).map((c) => c.status)).toEqual(['revoked', 'revoked', 'valid']);
  });

  it('ok/re-provisioning with an enrollment token supersedes the certificates the device had', async () => {
    const h = setup();
    const a = await h.enroll('REPROV', await h.device('REPROV'));
    h.clock.advance(MINUTE);
    await h.reenroll('REPROV', a); // B: its answer "lost" on the way to the unit
    h.clock.advance(MINUTE);
    const token = (await h.admin.createToken('REPROV', 3600, 'operator')).token;
    const c = await h.enroll('REPROV', token);
    expect((await h.certsOf('REPROV')).map((x) => `${x.status}:${x.reason}`)).toEqual([
      `revoked:${CRL_REASONS.superseded}`,
      `revoked:${CRL_REASONS.superseded}`,
      'valid:null',
    ]);
    h.clock.advance(MINUTE);
    await h.reenroll('REPROV', c);
  });
});

describe('failure limiting cannot be turned against a device', () => {
  const limits = { maxFailedAttempts: 3, attemptWindowSeconds: 900 };

  it('fail/a cloned (superseded) certificate is limited to 429 under the device it proves; the current certificate still renews from the same address', async () => {
    const h = setup(limits);
    const a = await h.enroll('LIM-CLONE', await h.device('LIM-CLONE'));
    h.clock.advance(MINUTE);
    let current = await h.reenroll('LIM-CLONE', a);
    const clone = '198.51.100.7';
    for (let i = 0; i < 3; i++) expect((await refusal(h.reenroll('LIM-CLONE', a, clone))).code).toBe('est.client_cert_superseded');
    expect((await refusal(h.reenroll('LIM-CLONE', a, clone))).code).toBe('est.rate_limited');
    expect((await refusal(h.reenroll('LIM-CLONE', a, '203.0.113.9'))).code).toBe('est.rate_limited');
    // The clone's refusals were audited as the device's certificate: it proved that much.
    expect((await h.auditOf('est.reenroll_superseded_cert', 'LIM-CLONE')).map((e) => e.actor)).toEqual(['device:LIM-CLONE', 'device:LIM-CLONE', 'device:LIM-CLONE']);
    h.clock.advance(MINUTE);
    current = await h.reenroll('LIM-CLONE', current, clone);
    expect((await h.certsOf('LIM-CLONE')).at(-1)).toMatchObject({ status: 'valid' });
    expect(current.length).toBeGreaterThan(0);
  });

  it('fail/refusals with no certificate count against the address only: the serial they name, from elsewhere, is still answered on its merits', async () => {
    const h = setup(limits);
    const a = await h.enroll('LIM-NOCERT', await h.device('LIM-NOCERT'));
    for (let i = 0; i < 3; i++) expect((await refusal(h.forge('LIM-NOCERT', '198.51.100.8'))).code).toBe('est.client_cert_required');
    expect((await refusal(h.forge('LIM-NOCERT', '198.51.100.8'))).code).toBe('est.rate_limited');
    // Another address naming the same serial without a certificate: its own 401, not 429.
    expect((await refusal(h.forge('LIM-NOCERT', '198.51.100.9'))).code).toBe('est.client_cert_required');
    h.clock.advance(MINUTE);
    await h.reenroll('LIM-NOCERT', a, '198.51.100.8');
  });

  it('fail/a flood from an address does not hide a shared credential: device A\'s token for B, answered 429, is still audited as credential-shared, and counted apart', async () => {
    const h = setup(limits);
    const tokenA = await h.device('LIM-A');
    await h.device('LIM-B');
    const ip = '198.51.100.11';
    const junk = (): Promise<unknown> => h.est.simpleenroll(h.csrOf('LIM-B'), { sourceIp: ip });
    for (let i = 0; i < 4; i++) await refusal(junk());
    expect((await refusal(h.est.simpleenroll(h.csrOf('LIM-B'), { sourceIp: ip, basic: { user: 'LIM-B', password: tokenA } }))).code).toBe('est.rate_limited');
    expect(await h.auditOf('credential-shared')).toHaveLength(1);
    const limited = (await h.auditOf('est.rate_limited', 'LIM-B')).map((e) => e.details?.['refusal']).sort();
    expect(limited).toEqual(['est.auth_required', 'est.token_wrong_serial']);
    await h.est.close();
  });

  it('fail/429s are audited once per key and window with the count; the next window writes what was pending', async () => {
    const h = setup(limits);
    for (let i = 0; i < 3; i++) await refusal(h.forge('LIM-AUD', '198.51.100.10'));
    for (let i = 0; i < 5; i++) expect((await refusal(h.forge('LIM-AUD', '198.51.100.10'))).code).toBe('est.rate_limited');
    expect(await h.auditOf('est.rate_limited', 'LIM-AUD')).toMatchObject([{ actor: 'anonymous', details: { limit: 'ip:198.51.100.10', count: 1, refusal: 'est.client_cert_required' } }]);
    h.clock.advance(MINUTE);
    expect((await refusal(h.forge('LIM-AUD', '198.51.100.10'))).code).toBe('est.rate_limited');
    const counts = (await h.auditOf('est.rate_limited', 'LIM-AUD')).map((e) => e.details?.['count']).sort();
    // the four pending from the first window and this one, in one event
    expect(counts).toEqual([1, 5]);
    await h.est.close();
  });
});
