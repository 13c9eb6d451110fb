/**
 * The issuing CA's end: nothing femtoguard issues outlives it (the OCSP responder included),
 * a certificate cut short by it says so in its audit event, and past it every issuance, the
 * responder renewal and the unlock are refused with `ca.expired` naming the end date.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { openSqlite, sqliteAuditStore, sqliteCertStore } from '../adapters/sqlite/index.js';
import { fixedClock } from '../core/clock.js';
import { isAppError } from '../core/errors.js';
import { initCa, renewOcspResponder, unlockCa, type CaSettings } from './ca.js';
import { buildCsr } from './csr-build.js';
import { parseCsr, type ParsedCsr } from './csr.js';
import { createIssuance } from './issuance.js';
import { OID } from './oids.js';

const DAY = 86_400_000;
/** The shortest issuing CA the config allows (90 days), with a responder that would outlive it. */
const s: CaSettings = { keyAlgorithm: 'P-256', name: 't', rootValidityDays: 3650, issuingValidityDays: 90, responderValidityDays: 365 };
const PASS = 'ca-expiry-test-passphrase';
const START = new Date('2026-01-01T00:00:00Z');
const URLS = { ocspUrl: 'http://fg.test/ocsp', crlUrl: 'http://fg.test/crl' };

async function setup() {
  const db = openSqlite(':memory:');
  const deps = { store: sqliteCertStore(db), audit: sqliteAuditStore(db), clock: fixedClock(START) };
  const ca = await initCa(deps, s, PASS, 'test');
  return { deps, ca };
}

function csrFor(serial: string): ParsedCsr {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return parseCsr(buildCsr({ privateKey, subject: [{ type: OID.serialNumber, value: serial }, { type: OID.commonName, value: serial }] }));
}

/** The AppError a promise rejects with (or what it resolved to, so a wrong outcome shows). */
async function errorOf(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (v) => ({ resolved: v }),
    (e: unknown) => e,
  );
}

function expectCaExpired(e: unknown, end: Date): void {
  expect(isAppError(e) ? { code: e.code, kind: e.kind, caNotAfter: e.details?.caNotAfter } : e).toEqual({ code: 'ca.expired', kind: 'unavailable', caNotAfter: end.toISOString() });
  expect((e as Error).message).toContain(end.toISOString());
}

describe('the OCSP responder never outlives the issuing CA', () => {
  it('ok/at init, a 365-day responder under a 90-day issuing CA ends with the CA', async () => {
    const { ca } = await setup();
    expect(ca.issuing.notAfter.getTime()).toBe(START.getTime() + 90 * DAY);
    expect(ca.responder.notAfter.getTime()).toBe(ca.issuing.notAfter.getTime());
  });

  it('ok/a renewal near the CA end (at unlock and while running) is capped at the CA end', async () => {
    const { deps, ca } = await setup();
    deps.clock.advance(85 * DAY);
    const renewed = await renewOcspResponder(deps, s, ca, PASS);
    expect(renewed?.responder.serialHex).not.toBe(ca.responder.serialHex);
    expect(renewed?.responder.notAfter.getTime()).toBe(ca.issuing.notAfter.getTime());
    const unlocked = await unlockCa(deps, s, PASS);
    expect(unlocked.responder.notAfter.getTime()).toBeLessThanOrEqual(ca.issuing.notAfter.getTime());
  });

  it('fail/past the CA end the responder is not renewed: ca.expired, and the stored one is left', async () => {
    const { deps, ca } = await setup();
    deps.clock.set(new Date(ca.issuing.notAfter.getTime() + DAY));
    expectCaExpired(await errorOf(renewOcspResponder(deps, s, ca, PASS)), ca.issuing.notAfter);
    const stored = (await deps.store.loadCaMaterial()).find((m) => m.name === 'ocsp');
    expect(stored?.certDer.equals(ca.responder.der)).toBe(true);
  });
});

describe('issuance as the issuing CA nears and passes its end', () => {
  it('ok/well before the end a certificate has its full validity and its audit event says nothing of the CA', async () => {
    const { deps, ca } = await setup();
    const iss = createIssuance({ ca, ...deps }, { deviceValidityDays: 30, ...URLS });
    const c = await iss.issue(csrFor('EXP-1'), 'EXP-1', { actor: 'test' });
    expect(c.notAfter.getTime()).toBe(START.getTime() + 30 * DAY);
    const [ev] = await deps.audit.list({ action: 'pki.certificate_issued', subject: 'EXP-1' });
    expect(ev?.details).not.toHaveProperty('shortenedToCaEnd');
  });

  it('ok/five days before the end a 30-day certificate ends with the CA, and its audit event records the shortening', async () => {
    const { deps, ca } = await setup();
    deps.clock.advance(85 * DAY);
    const iss = createIssuance({ ca, ...deps }, { deviceValidityDays: 30, ...URLS });
    const c = await iss.issue(csrFor('EXP-2'), 'EXP-2', { actor: 'test' });
    expect(c.notAfter.getTime()).toBe(ca.issuing.notAfter.getTime());
    const [ev] = await deps.audit.list({ action: 'pki.certificate_issued', subject: 'EXP-2' });
    expect(ev?.details).toMatchObject({ shortenedToCaEnd: true, requestedNotAfter: new Date(START.getTime() + 115 * DAY).toISOString(), notAfter: ca.issuing.notAfter.toISOString() });
  });

  it('fail/past the end issuance is ca.expired (503, naming the end), records no certificate and binds no key', async () => {
    const { deps, ca } = await setup();
    const iss = createIssuance({ ca, ...deps }, { deviceValidityDays: 30, ...URLS });
    deps.clock.set(new Date(ca.issuing.notAfter.getTime() + 10 * DAY));
    expectCaExpired(await errorOf(iss.issue(csrFor('EXP-3'), 'EXP-3', { actor: 'test' })), ca.issuing.notAfter);
    expect(await deps.store.list({ deviceSerial: 'EXP-3' })).toHaveLength(0);
    expect(await deps.audit.list({ action: 'pki.certificate_issued', subject: 'EXP-3' })).toHaveLength(0);
  });

  it('fail/at the very second the CA ends, issuance is already refused', async () => {
    const { deps, ca } = await setup();
    const iss = createIssuance({ ca, ...deps }, { deviceValidityDays: 30, ...URLS });
    deps.clock.set(ca.issuing.notAfter);
    expectCaExpired(await errorOf(iss.issue(csrFor('EXP-4'), 'EXP-4', { actor: 'test' })), ca.issuing.notAfter);
  });

  it('fail/unlocking a CA whose issuing certificate has ended is ca.expired, not a field error later', async () => {
    const { deps, ca } = await setup();
    deps.clock.set(new Date(ca.issuing.notAfter.getTime() + 1000));
    expectCaExpired(await errorOf(unlockCa(deps, s, PASS)), ca.issuing.notAfter);
  });
});
