/**
 * EST (RFC 7030) requests that must be refused, sent with curl: bad or misused tokens,
 * missing credentials, untrusted vendor roots, unusable devices, malformed and oversized
 * bodies, and online guessing. Each refusal is a clear 4xx whose text names the problem,
 * and leaves nothing behind in the stores (no certificate, no binding, no status change,
 * no consumed token).
 */
import { createHash, createPublicKey, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/core/ids.js';
import { toPem } from '../../src/pki/index.js';
import { createDeviceIssuer, randomCertSerial } from '../../src/pki/profiles.js';
import {
  addDevice,
  cli,
  enroll,
  enrollNewDevice,
  est,
  expectRefused,
  makeCsr,
  makeKey,
  newToken,
  reenroll,
  run,
  storeTrace,
  type HttpReply,
} from '../helpers/est-client.js';
import { requireTool } from '../helpers/run.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
beforeAll(async () => {
  requireTool('openssl', 'openssl');
  requireTool('curl', 'curl');
  // Every request here comes from 127.0.0.1: lift the per-address limiter so the refusals
  // below are the ones under test; the limiter has its own server further down.
  t = await startTestServer({ est: { maxFailedAttempts: 1000 } });
});
afterAll(async () => t?.stop());

const audit = (action: string, subject: string) => t.srv.base.stores.audit.list({ action, subject });

describe('EST first enrollment refused: tokens', () => {
  it('fail/a wrong token is 401 with a Basic challenge and leaves no trace', async () => {
    const serial = 'TOK-WRONG';
    await addDevice(t, serial);
    await newToken(t, serial);
    const csr = await makeCsr(t.work, serial);
    const before = await storeTrace(t, [serial]);
    const r = await enroll(t, serial, randomBytes(24).toString('base64url'), csr);
    expectRefused(r, 401, 'est.token_unknown', /enrollment token not valid/);
    expect(r.headers['www-authenticate']).toMatch(/^Basic realm=/);
    expect(await storeTrace(t, [serial])).toEqual(before);
    expect(await t.srv.base.stores.certs.keyOwner(csr.spkiSha256)).toBeNull();
    expect(await audit('est.enroll', serial)).toMatchObject([{ outcome: 'denied', details: { code: 'est.token_unknown' } }]);
  });

  it('fail/a token used once is refused the second time', async () => {
    const dev = await enrollNewDevice(t, 'TOK-REUSED');
    const before = await storeTrace(t, [dev.serial]);
    const csr = await makeCsr(t.work, dev.serial);
    const r = await enroll(t, dev.serial, dev.token, csr);
    expectRefused(r, 401, 'est.token_used', /already used/);
    expect(await storeTrace(t, [dev.serial])).toEqual(before);
    expect(await t.srv.base.stores.certs.keyOwner(csr.spkiSha256)).toBeNull();
  });

  it('fail/an expired token is refused', async () => {
    const serial = 'TOK-EXPIRED';
    await addDevice(t, serial);
    const token = randomBytes(24).toString('base64url');
    const past = new Date(Date.now() - 3_600_000).toISOString();
    await t.srv.base.stores.enrollment.insertToken({ id: 'et_expired_test', serial, createdAt: past, expiresAt: past, usedAt: null, createdBy: 'test' }, sha256Hex(token));
    const before = await storeTrace(t, [serial]);
    expectRefused(await enroll(t, serial, token, await makeCsr(t.work, serial)), 401, 'est.token_expired', /expired/);
    expect(await storeTrace(t, [serial])).toEqual(before);
  });

  it("fail/another serial's token: user A with a CSR for B, and user B with A's token; the latter is a credential-shared event", async () => {
    const [a, b] = ['TOK-SHARE-A', 'TOK-SHARE-B'];
    await addDevice(t, a);
    await addDevice(t, b);
    const tokenA = await newToken(t, a);
    await newToken(t, b);
    const before = await storeTrace(t, [a, b]);
    const csrB = await makeCsr(t.work, b);

    expectRefused(await enroll(t, a, tokenA, csrB), 403, 'est.serial_mismatch', /Basic user must be the serial named in the CSR/);
    const r = await enroll(t, b, tokenA, csrB);
    expectRefused(r, 401, 'est.token_wrong_serial', /not valid for this serial/);
    expect(r.headers['www-authenticate']).toMatch(/^Basic /);

    expect(await storeTrace(t, [a, b])).toEqual(before); // both tokens still unused
    expect(await audit('credential-shared', b)).toMatchObject([{ outcome: 'denied', details: { kind: 'enroll-token' } }]);
    // A's token still serves A.
    expect((await enroll(t, a, tokenA, await makeCsr(t.work, a))).status).toBe(200);
  });

  it('fail/no credentials at all is 401 with WWW-Authenticate', async () => {
    const serial = 'TOK-NONE';
    await addDevice(t, serial);
    const before = await storeTrace(t, [serial]);
    const r = await est(t, 'simpleenroll', { bodyPath: (await makeCsr(t.work, serial)).b64Path });
    expectRefused(r, 401, 'est.auth_required', /enrollment token .* or a vendor certificate/);
    expect(r.headers['www-authenticate']).toBe('Basic realm="femtoguard EST", charset="UTF-8"');
    expect(await storeTrace(t, [serial])).toEqual(before);
  });
});

describe('EST first enrollment refused: keys, devices, vendor roots', () => {
  it("fail/a key already certified for A in B's CSR is 409 credential-shared; B's token stays usable", async () => {
    const a = await enrollNewDevice(t, 'KEY-BOUND-A');
    const b = 'KEY-BOUND-B';
    await addDevice(t, b);
    const tokenB = await newToken(t, b);
    const before = await storeTrace(t, [a.serial, b]);
    const stolen = await makeCsr(t.work, b, { keyPath: a.keyPath });
    expectRefused(await enroll(t, b, tokenB, stolen), 409, 'pki.key_bound_elsewhere', /already certified for another device/);
    expect(await storeTrace(t, [a.serial, b])).toEqual(before);
    expect(await t.srv.base.stores.certs.keyOwner(stolen.spkiSha256)).toBe(a.serial);
    expect(await audit('credential-shared', b)).toMatchObject([{ outcome: 'denied', details: { boundTo: a.serial, spkiSha256: stolen.spkiSha256 } }]);
    // The refusal did not burn the token: B enrolls with its own key.
    const r = await enroll(t, b, tokenB, await makeCsr(t.work, b));
    expect(r.status, r.body).toBe(200);
    expect((await t.srv.base.registry.get(b))?.status).toBe('active');
  });

  it('fail/a decommissioned device cannot use a token created before decommissioning', async () => {
    const serial = 'DEV-DECOM';
    await addDevice(t, serial);
    const token = await newToken(t, serial);
    await t.srv.base.registry.setStatus(serial, 'decommissioned', 'test', 'returned to vendor');
    const before = await storeTrace(t, [serial]);
    const r = await enroll(t, serial, token, await makeCsr(t.work, serial));
    expectRefused(r, 403, 'est.device_not_enrollable', /DEV-DECOM is decommissioned/);
    expect(await storeTrace(t, [serial])).toEqual(before); // token not consumed either
  });

  it('fail/a device not in the registry is refused even with a valid-looking request', async () => {
    const serial = 'DEV-UNKNOWN';
    const r = await enroll(t, serial, randomBytes(24).toString('base64url'), await makeCsr(t.work, serial));
    // The token is checked first (it is bound to a registered serial), so an unknown serial reads as a bad token.
    expectRefused(r, 401, 'est.token_unknown');
    expect(await t.srv.base.stores.certs.list({ deviceSerial: serial })).toEqual([]);
  });

  it('fail/a client certificate from a vendor root never imported is 401', async () => {
    const serial = 'VEND-UNTRUSTED';
    await addDevice(t, serial);
    const ext = join(t.work, 'rogue-ext.cnf');
    writeFileSync(ext, '[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n');
    const rootKey = await makeKey(t.work, 'rogue-root');
    const rootPem = join(t.work, 'rogue-root.pem');
    expect((await run('openssl', ['req', '-x509', '-new', '-key', rootKey, '-subj', '/CN=Rogue Factory', '-days', '30', '-config', ext, '-extensions', 'ca', '-out', rootPem])).status).toBe(0);
    const devKey = await makeKey(t.work, 'rogue-dev');
    const devCsr = join(t.work, 'rogue-dev.csr');
    const devPem = join(t.work, 'rogue-dev.pem');
    await run('openssl', ['req', '-new', '-key', devKey, '-subj', `/serialNumber=${serial}/CN=${serial}`, '-out', devCsr]);
    expect((await run('openssl', ['x509', '-req', '-in', devCsr, '-CA', rootPem, '-CAkey', rootKey, '-days', '30', '-out', devPem])).status).toBe(0);
    const before = await storeTrace(t, [serial]);
    const r = await est(t, 'simpleenroll', { cert: devPem, key: devKey, bodyPath: (await makeCsr(t.work, serial)).b64Path });
    expectRefused(r, 401, 'est.vendor_cert_untrusted', /does not chain to an imported vendor root/);
    expect(await storeTrace(t, [serial])).toEqual(before);
  });
});

const DAY = 86_400_000;

/**
 * A femtoguard device certificate that has simply expired: signed by the real issuing CA
 * key with the production profile, recorded in the store like any other, validity in the past.
 */
async function expiredCertificate(serial: string): Promise<{ certPath: string; keyPath: string; serialHex: string }> {
  const keyPath = await makeKey(t.work, `${serial}-expired`);
  const spki = createPublicKey(readFileSync(keyPath)).export({ type: 'spki', format: 'der' });
  const { ca } = t.srv.ca;
  const issuer = createDeviceIssuer({ signer: ca.issuingSigner, issuerCertDer: ca.issuing.der, ocspUrl: `${t.http}/ocsp`, crlUrl: `${t.http}/crl` });
  const serialNumber = randomCertSerial();
  const notBefore = new Date(Date.now() - 40 * DAY);
  const notAfter = new Date(Date.now() - 10 * DAY);
  const der = await issuer.issue({ deviceSerial: serial, spki, serialNumber, notBefore, notAfter });
  const serialHex = serialNumber.toString('hex');
  const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
  const owner = await t.srv.base.stores.certs.recordIssued(
    { serialHex, kind: 'device', deviceSerial: serial, fingerprint: sha(der), spkiSha256: sha(spki), notBefore: notBefore.toISOString(), notAfter: notAfter.toISOString(),
      issuedAt: notBefore.toISOString(), status: 'valid', revokedAt: null, reason: null },
    der,
  );
  expect(owner).toBeNull();
  const certPath = join(t.work, `${serial}-expired.pem`);
  writeFileSync(certPath, toPem('CERTIFICATE', der));
  return { certPath, keyPath, serialHex };
}

describe('EST re-enrollment refused (RFC 7030 §4.2.2: the current certificate authenticates)', () => {
  it('fail/no client certificate is 401', async () => {
    const dev = await enrollNewDevice(t, 'RE-NOCERT');
    const before = await storeTrace(t, [dev.serial]);
    const r = await est(t, 'simplereenroll', { bodyPath: (await makeCsr(t.work, dev.serial)).b64Path });
    expectRefused(r, 401, 'est.client_cert_required', /current femtoguard device certificate/);
    expect(r.headers['www-authenticate']).toMatch(/^Basic /);
    expect(await storeTrace(t, [dev.serial])).toEqual(before);
  });

  it('fail/an expired femtoguard certificate is 401 est.client_cert_expired', async () => {
    const serial = 'RE-EXPIRED';
    await addDevice(t, serial, 'active');
    const old = await expiredCertificate(serial);
    // openssl agrees the certificate is ours and merely expired.
    const v = await run('openssl', ['verify', '-CAfile', t.chainPath, old.certPath]);
    expect(v.status).not.toBe(0);
    expect(v.stdout + v.stderr).toMatch(/certificate has expired/);
    const before = await storeTrace(t, [serial]);
    const csr = await makeCsr(t.work, serial);
    const r = await reenroll(t, csr, old.certPath, old.keyPath);
    expectRefused(r, 401, 'est.client_cert_expired', /has expired; enroll again with a new enrollment token/);
    expect(await storeTrace(t, [serial])).toEqual(before);
    expect(await t.srv.base.stores.certs.keyOwner(csr.spkiSha256)).toBeNull();
  });

  it('fail/a certificate revoked with the CLI (another process) is refused', async () => {
    const dev = await enrollNewDevice(t, 'RE-REVOKED');
    const rev = await cli(['cert', 'revoke', '--cert', dev.serialHex.toUpperCase(), '--reason', 'keyCompromise'], t.env);
    expect(rev.status, rev.stderr).toBe(0);
    const before = await storeTrace(t, [dev.serial]);
    const r = await reenroll(t, await makeCsr(t.work, dev.serial), dev.certPath, dev.keyPath);
    expectRefused(r, 401, 'est.client_cert_revoked', /revoked/);
    expect(await storeTrace(t, [dev.serial])).toEqual(before);
  });

  it("fail/a CSR naming another serial than the client certificate is 403", async () => {
    const a = await enrollNewDevice(t, 'RE-MISMATCH-A');
    const b = 'RE-MISMATCH-B';
    await addDevice(t, b, 'active');
    const before = await storeTrace(t, [a.serial, b]);
    const csr = await makeCsr(t.work, b);
    expectRefused(await reenroll(t, csr, a.certPath, a.keyPath), 403, 'est.serial_mismatch', /different serial than the client certificate/);
    expect(await storeTrace(t, [a.serial, b])).toEqual(before);
    expect(await t.srv.base.stores.certs.keyOwner(csr.spkiSha256)).toBeNull();
  });

  it('fail/re-enrolling with the key of the current certificate is 409 pki.key_reused', async () => {
    const dev = await enrollNewDevice(t, 'RE-SAMEKEY');
    const before = await storeTrace(t, [dev.serial]);
    const r = await reenroll(t, await makeCsr(t.work, dev.serial, { keyPath: dev.keyPath }), dev.certPath, dev.keyPath);
    expectRefused(r, 409, 'pki.key_reused', /needs a new key pair/);
    expect(await storeTrace(t, [dev.serial])).toEqual(before);
    expect(await t.srv.base.stores.audit.list({ action: 'pki.key_reuse_refused', subject: dev.serial })).toHaveLength(1);
  });

  it('fail/a suspended device cannot re-enroll: its certificate is on hold', async () => {
    const dev = await enrollNewDevice(t, 'RE-SUSPENDED');
    await t.srv.base.registry.setStatus(dev.serial, 'suspended', 'test', 'investigation');
    const before = await storeTrace(t, [dev.serial]);
    const r = await reenroll(t, await makeCsr(t.work, dev.serial), dev.certPath, dev.keyPath);
    // Suspension puts the certificate on hold (certificateHold), which is checked first.
    expectRefused(r, 401, 'est.client_cert_revoked');
    expect(await storeTrace(t, [dev.serial])).toEqual(before);
  });

  it('fail/a device the registry no longer lists as active is 403 even while its certificate is valid', async () => {
    const dev = await enrollNewDevice(t, 'RE-NOTACTIVE');
    // The registry row changes before the certificates do (as when another node wrote the
    // status and the revocation has not been applied yet): EST must follow the registry.
    await t.srv.base.stores.devices.setStatus({ serial: dev.serial, from: 'active', to: 'suspended', actor: 'test', reason: 'registry only', at: new Date().toISOString() });
    const before = await storeTrace(t, [dev.serial]);
    const r = await reenroll(t, await makeCsr(t.work, dev.serial), dev.certPath, dev.keyPath);
    expectRefused(r, 403, 'est.device_not_active', /RE-NOTACTIVE is suspended; only active devices re-enroll/);
    expect(await storeTrace(t, [dev.serial])).toEqual(before);
  });
});

describe('EST bodies refused (RFC 7030 §4.2.1: base64 PKCS#10)', () => {
  const serial = 'BODY-1';
  let token: string;
  beforeAll(async () => {
    await addDevice(t, serial);
    token = await newToken(t, serial);
  });
  const send = (body: string | { path: string }): Promise<HttpReply> =>
    est(t, 'simpleenroll', { basic: { user: serial, password: token }, ...(typeof body === 'string' ? { body } : { bodyPath: body.path }) });

  it('fail/malformed base64, base64 of garbage DER, and an empty body are 400; the token survives', async () => {
    const before = await storeTrace(t, [serial]);
    expectRefused(await send('MIIB%%%not*base64'), 400, 'est.bad_base64', /not valid base64|neither base64 nor DER/);
    expectRefused(await send('MIIBabc'), 400, 'est.bad_base64', /not a multiple of 4/);
    expectRefused(await send(randomBytes(120).toString('base64')), 400, 'csr.malformed', /malformed CSR/);
    expectRefused(await send(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x05]).toString('base64')), 400, 'csr.malformed');
    expectRefused(await send(''), 400, 'est.empty_body', /base64-encoded PKCS#10/);
    expect(await storeTrace(t, [serial])).toEqual(before);
    expect((await enroll(t, serial, token, await makeCsr(t.work, serial))).status).toBe(200);
  });

  it('fail/a body over 16 KiB is 413 and never parsed', async () => {
    const big = join(t.work, 'big.b64');
    writeFileSync(big, randomBytes(13_000).toString('base64')); // 17,336 bytes of valid base64
    const before = await storeTrace(t, [serial]);
    const r = await send({ path: big });
    expectRefused(r, 413, 'est.bad_request', /larger than 16384 bytes/);
    expect(await storeTrace(t, [serial])).toEqual(before);
  });
});

describe('EST online guessing is rate limited', () => {
  let limited: TestServer;
  beforeAll(async () => {
    limited = await startTestServer(); // default: 5 failures per serial and per address in 15 min
  });
  afterAll(async () => limited?.stop());

  it('fail/the sixth wrong token for one serial is 429 with Retry-After and audited; ok/the right token is never refused by the limiter', async () => {
    const serial = 'RATE-1';
    await addDevice(limited, serial);
    const token = await newToken(limited, serial);
    const csr = await makeCsr(limited.work, serial);
    for (let i = 0; i < 5; i++) expectRefused(await enroll(limited, serial, `wrong-${i}`, csr), 401, 'est.token_unknown');
    const r = await enroll(limited, serial, 'wrong-6', csr);
    expectRefused(r, 429, 'est.rate_limited', /too many failed enrollment attempts/);
    const retry = Number(r.headers['retry-after']);
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(900);
    expect(await limited.srv.base.stores.audit.list({ action: 'est.rate_limited', subject: serial })).toMatchObject([
      { actor: 'anonymous', outcome: 'denied', details: { request: 'est.enroll', refusal: 'est.token_unknown', count: 1 } },
    ]);
    // Wrong tokens cannot lock the device out: the credential is checked before the limiter,
    // and one that checks out enrolls (tokens are 192 random bits; guessing is not the threat).
    expect((await enroll(limited, serial, token, csr)).status).toBe(200);
    expect(await limited.srv.base.stores.certs.list({ deviceSerial: serial })).toHaveLength(1);
  });
});
