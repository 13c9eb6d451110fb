/**
 * strongSwan's own EST client (`pki --estca`, `pki --est`; Debian strongswan-pki with the
 * standard and extra plugins) against the real server: CA certificates, first enrollment
 * with a one-time token, re-enrollment over mutual TLS, and the refusals a device meets.
 *
 * Two facts about pki 5.9.8 the test depends on, found by running it:
 * - `--url` is the server's base URL: pki appends `/.well-known/est/<operation>` itself
 *   (a URL ending in `/.well-known/est/` becomes `/.well-known/est//.well-known/est/...`, 404).
 * - `--cacert FILE` reads only the first certificate of a PEM file, so the trust anchors
 *   are written one per file (the root alone is enough: the server sends its intermediate).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTool, run, type RunResult } from '../helpers/run.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
let rootPath: string;
let issuingPath: string;

const pem = (der: Buffer): string => `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;

/** pki prints TPM plugin noise on every run; keep its EST messages for failure output. */
const pkiLog = (r: RunResult): string => r.stderr.split('\n').filter((l) => !/tpm/i.test(l)).join('\n');

function pki(args: string[]): Promise<RunResult> {
  return run('pki', args, { cwd: t.work });
}

async function addDevice(serial: string): Promise<string> {
  await t.srv.base.registry.add(
    { serial, status: 'provisioned', cellIds: [], siteLat: null, siteLon: null, siteRadiusM: 300, ipPrefixes: [], expectedNeighbors: [], certFingerprints: [], owner: null },
    'test',
  );
  return (await t.srv.base.enrollment.createToken(serial, 3600, 'test')).token;
}

/** A P-256 key and a PKCS#10 CSR for `serial`, both made by pki (DER files in the work dir). */
async function keyAndCsr(serial: string, name: string): Promise<{ key: string; csr: string }> {
  const key = join(t.work, `${name}.key.der`);
  const csr = join(t.work, `${name}.csr.der`);
  const gen = await pki(['--gen', '--type', 'ecdsa', '--size', '256']);
  expect(gen.status, pkiLog(gen)).toBe(0);
  writeFileSync(key, gen.stdoutBytes);
  const req = await pki(['--req', '--in', key, '--type', 'ecdsa', '--dn', `serialNumber=${serial}, CN=${serial}`]);
  expect(req.status, pkiLog(req)).toBe(0);
  writeFileSync(csr, req.stdoutBytes);
  return { key, csr };
}

/** `pki --est`; on success writes the DER certificate it printed to `out`. */
async function est(extra: string[], out: string): Promise<RunResult> {
  const r = await pki(['--est', '--url', t.https, '--cacert', rootPath, '--cacert', issuingPath, ...extra]);
  if (r.status === 0) writeFileSync(out, r.stdoutBytes);
  return r;
}

/** Checks a certificate pki wrote: chains to femtoguard's CA, names the serial, holds the key. */
async function expectDeviceCert(certDer: string, serial: string, keyPath: string): Promise<string> {
  const certPem = `${certDer}.pem`;
  const conv = await run('openssl', ['x509', '-inform', 'DER', '-in', certDer, '-out', certPem]);
  expect(conv.status, conv.stderr).toBe(0);
  const verify = await run('openssl', ['verify', '-CAfile', t.chainPath, certPem]);
  expect(verify.status, verify.stdout + verify.stderr).toBe(0);
  expect(verify.stdout).toContain(': OK');
  const show = await run('openssl', ['x509', '-in', certPem, '-noout', '-subject', '-serial', '-pubkey', '-nameopt', 'RFC2253']);
  expect(show.status, show.stderr).toBe(0);
  expect(show.stdout).toMatch(new RegExp(`^subject=.*\\bserialNumber=${serial}\\b`, 'm'));
  expect(show.stdout).toMatch(new RegExp(`^subject=.*\\bCN=${serial}\\b`, 'm'));
  const pub = await pki(['--pub', '--in', keyPath, '--type', 'ecdsa', '--outform', 'pem']);
  expect(pub.status, pkiLog(pub)).toBe(0);
  expect(show.stdout).toContain(pub.stdout.trim());
  return /^serial=([0-9A-F]+)$/m.exec(show.stdout)?.[1] ?? '';
}

beforeAll(async () => {
  requireTool('pki', 'strongswan-pki libstrongswan-standard-plugins libstrongswan-extra-plugins');
  requireTool('openssl', 'openssl');
  // Refusals count against the per-address failure limit (127.0.0.1 for every case here);
  // raise it so the ok/ cases do not depend on how many fail/ cases ran before them.
  t = await startTestServer({ est: { maxFailedAttempts: 100 } });
  rootPath = join(t.work, 'root.pem');
  issuingPath = join(t.work, 'issuing.pem');
  writeFileSync(rootPath, pem(t.srv.ca.ca.root.der));
  writeFileSync(issuingPath, pem(t.srv.ca.ca.issuing.der));
}, 60_000);
afterAll(async () => t?.stop());

describe('strongSwan pki as EST client', () => {
  it('ok/--estca fetches the root and issuing CA certificates over TLS trusted by the root alone', async () => {
    const r = await pki(['--estca', '--url', t.https, '--cacert', rootPath, '--caout', 'estca.der', '--outform', 'der']);
    expect(r.status, pkiLog(r)).toBe(0);
    expect(r.stderr).toContain('Root CA equals trusted TLS Root CA');
    // pki writes the root to the template name and each sub-CA to NAME-1, NAME-2, ...
    const root = await run('openssl', ['x509', '-inform', 'DER', '-in', join(t.work, 'estca.der'), '-outform', 'DER']);
    const sub = await run('openssl', ['x509', '-inform', 'DER', '-in', join(t.work, 'estca-1.der'), '-outform', 'DER']);
    expect(root.stdoutBytes.equals(t.srv.ca.ca.root.der)).toBe(true);
    expect(sub.stdoutBytes.equals(t.srv.ca.ca.issuing.der)).toBe(true);
  });

  it('fail/--estca refuses a server its --cacert does not trust', async () => {
    const other = join(t.work, 'other-root.pem');
    const gen = await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(t.work, 'other.key'), '-subj', '/CN=Other Root', '-days', '1', '-out', other]);
    expect(gen.status, gen.stderr).toBe(0);
    const r = await pki(['--estca', '--url', t.https, '--cacert', other, '--caout', 'untrusted.der']);
    expect(r.status).not.toBe(0);
  });

  let first: { cert: string; key: string; serialHex: string } | undefined;

  it('ok/--est enrolls with an enrollment token, and --est --cert/--key re-enrolls with a new key', async () => {
    const serial = 'SWAN-OK-1';
    const token = await addDevice(serial);
    const k1 = await keyAndCsr(serial, 'ok1');
    const cert1 = join(t.work, 'ok1.cert.der');
    const r1 = await est(['--in', k1.csr, '--userpass', `${serial}:${token}`], cert1);
    expect(r1.status, pkiLog(r1)).toBe(0);
    expect(r1.stderr).toContain('Issued certificate is trusted');
    const serial1 = await expectDeviceCert(cert1, serial, k1.key);
    expect((await t.srv.base.registry.get(serial))?.status).toBe('active');

    // RFC 7030 §4.2.2: re-enroll authenticated by the current certificate over mutual TLS.
    const k2 = await keyAndCsr(serial, 'ok2');
    const cert2 = join(t.work, 'ok2.cert.der');
    const r2 = await est(['--in', k2.csr, '--cert', cert1, '--key', k1.key], cert2);
    expect(r2.status, pkiLog(r2)).toBe(0);
    expect(r2.stderr).toContain(`sending TLS client certificate 'CN=${serial}, serialNumber=${serial}'`);
    const serial2 = await expectDeviceCert(cert2, serial, k2.key);
    expect(serial2).not.toBe(serial1);
    const certs = await t.srv.base.stores.certs.list({ deviceSerial: serial });
    expect(certs.map((c) => c.serialHex.toUpperCase().replace(/^0+/, '')).sort()).toEqual([serial1, serial2].map((s) => s.replace(/^0+/, '')).sort());
    // The successor supersedes the first certificate: only the newest one stays valid and renews.
    expect((await t.srv.base.stores.certs.list({ deviceSerial: serial, status: 'valid' })).map((c) => c.serialHex.toUpperCase().replace(/^0+/, ''))).toEqual([serial2.replace(/^0+/, '')]);
    first = { cert: cert2, key: k2.key, serialHex: serial2 };
  });

  it('fail/a wrong token is refused with 401 and no certificate, and the right token still works', async () => {
    const serial = 'SWAN-WRONG';
    const token = await addDevice(serial);
    const k = await keyAndCsr(serial, 'wrong');
    const r = await est(['--in', k.csr, '--userpass', `${serial}:not-the-token-${token.slice(0, 4)}`], join(t.work, 'wrong.cert.der'));
    expect(r.status).not.toBe(0);
    expect(r.stdoutBytes.length).toBe(0);
    expect(pkiLog(r)).toContain('EST request failed: HTTP 401');
    expect(await t.srv.base.stores.certs.list({ deviceSerial: serial })).toHaveLength(0);
    // The failed attempt did not burn the real token.
    const ok = await est(['--in', k.csr, '--userpass', `${serial}:${token}`], join(t.work, 'wrong-then-right.cert.der'));
    expect(ok.status, pkiLog(ok)).toBe(0);
  });

  it('fail/a token is refused the second time, even with a new key', async () => {
    const serial = 'SWAN-REUSE';
    const token = await addDevice(serial);
    const k1 = await keyAndCsr(serial, 'reuse1');
    const once = await est(['--in', k1.csr, '--userpass', `${serial}:${token}`], join(t.work, 'reuse1.cert.der'));
    expect(once.status, pkiLog(once)).toBe(0);
    const k2 = await keyAndCsr(serial, 'reuse2');
    const again = await est(['--in', k2.csr, '--userpass', `${serial}:${token}`], join(t.work, 'reuse2.cert.der'));
    expect(again.status).not.toBe(0);
    expect(again.stdoutBytes.length).toBe(0);
    expect(pkiLog(again)).toContain('EST request failed: HTTP 401');
    expect(await t.srv.base.stores.certs.list({ deviceSerial: serial })).toHaveLength(1);
  });

  it("fail/another device's token is refused (HTTP Basic user must be the CSR's serial's token)", async () => {
    const victim = 'SWAN-VICTIM';
    await addDevice(victim);
    const otherToken = await addDevice('SWAN-OTHER');
    const k = await keyAndCsr(victim, 'victim');
    const r = await est(['--in', k.csr, '--userpass', `${victim}:${otherToken}`], join(t.work, 'victim.cert.der'));
    expect(r.status).not.toBe(0);
    expect(pkiLog(r)).toContain('EST request failed: HTTP 401');
    expect(await t.srv.base.stores.certs.list({ deviceSerial: victim })).toHaveLength(0);
  });

  it('fail/enrollment without any credential is refused', async () => {
    const serial = 'SWAN-NOAUTH';
    await addDevice(serial);
    const k = await keyAndCsr(serial, 'noauth');
    const r = await est(['--in', k.csr], join(t.work, 'noauth.cert.der'));
    expect(r.status).not.toBe(0);
    expect(pkiLog(r)).toContain('EST request failed: HTTP 401');
  });

  it('fail/re-enrollment that keeps the old key is refused (409)', async () => {
    if (!first) throw new Error('needs the ok/ enrollment case');
    const same = join(t.work, 'samekey.csr.der');
    const req = await pki(['--req', '--in', first.key, '--type', 'ecdsa', '--dn', 'serialNumber=SWAN-OK-1, CN=SWAN-OK-1']);
    writeFileSync(same, req.stdoutBytes);
    const r = await est(['--in', same, '--cert', first.cert, '--key', first.key], join(t.work, 'samekey.cert.der'));
    expect(r.status).not.toBe(0);
    expect(pkiLog(r)).toContain('EST request failed: HTTP 409');
  });

  it("fail/re-enrollment for another serial with this device's certificate is refused (403)", async () => {
    if (!first) throw new Error('needs the ok/ enrollment case');
    await addDevice('SWAN-HIJACK');
    const k = await keyAndCsr('SWAN-HIJACK', 'hijack');
    const r = await est(['--in', k.csr, '--cert', first.cert, '--key', first.key], join(t.work, 'hijack.cert.der'));
    expect(r.status).not.toBe(0);
    expect(pkiLog(r)).toContain('EST request failed: HTTP 403');
    expect(await t.srv.base.stores.certs.list({ deviceSerial: 'SWAN-HIJACK' })).toHaveLength(0);
  });

  it('fail/a lost device cannot re-enroll with its (now revoked) certificate', async () => {
    const serial = 'SWAN-LOST';
    const token = await addDevice(serial);
    const k1 = await keyAndCsr(serial, 'lost1');
    const cert1 = join(t.work, 'lost1.cert.der');
    const r1 = await est(['--in', k1.csr, '--userpass', `${serial}:${token}`], cert1);
    expect(r1.status, pkiLog(r1)).toBe(0);
    await t.srv.base.registry.setStatus(serial, 'lost', 'test', 'reported stolen');
    const k2 = await keyAndCsr(serial, 'lost2');
    const r2 = await est(['--in', k2.csr, '--cert', cert1, '--key', k1.key], join(t.work, 'lost2.cert.der'));
    expect(r2.status).not.toBe(0);
    expect(pkiLog(r2)).toContain('EST request failed: HTTP 401');
    expect(await t.srv.base.stores.certs.list({ deviceSerial: serial, status: 'valid' })).toHaveLength(0);
  });
});
