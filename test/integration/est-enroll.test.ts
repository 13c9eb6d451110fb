/**
 * EST (RFC 7030) enrollment that succeeds, driven by curl and read back with openssl:
 * first enrollment with a one-time token, re-enrollment over mutual TLS with a new key,
 * the public cacerts/csrattrs answers, and first enrollment with a vendor (factory)
 * certificate, including the ways a factory credential must not be reused.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addDevice,
  certSerialHex,
  cli,
  enroll,
  enrollNewDevice,
  est,
  makeCsr,
  makeKey,
  newToken,
  pkcs7ToPem,
  reenroll,
  run,
  storeTrace,
} from '../helpers/est-client.js';
import { requireTool } from '../helpers/run.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
beforeAll(async () => {
  requireTool('openssl', 'openssl');
  requireTool('curl', 'curl');
  t = await startTestServer();
});
afterAll(async () => t?.stop());

const openssl = (args: string[]): ReturnType<typeof run> => run('openssl', args);
const pemBodies = (pem: string): string[] =>
  [...pem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map((m) => (m[1] ?? '').replace(/\s+/g, '')).sort();
const audit = (action: string, subject: string) => t.srv.base.stores.audit.list({ action, subject });
const DAY = 86_400_000;

describe('EST first enrollment with a one-time token', () => {
  it('ok/curl enrolls; openssl reads and verifies the certificate; the device becomes active', async () => {
    const serial = 'ENR-OK-1';
    await addDevice(t, serial);
    const token = await newToken(t, serial);
    const csr = await makeCsr(t.work, serial);
    const before = Date.now();
    const r = await enroll(t, serial, token, csr);
    expect(r.status, r.body).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/pkcs7-mime; smime-type=certs-only/);
    expect(r.headers['content-transfer-encoding']).toBe('base64');

    const { pemPath, pem } = await pkcs7ToPem(t.work, r, serial);
    expect(pemBodies(pem)).toHaveLength(1);
    const verify = await openssl(['verify', '-CAfile', t.chainPath, pemPath]);
    expect(verify.stdout, verify.stderr).toContain(': OK');

    const text = (await openssl(['x509', '-in', pemPath, '-noout', '-text', '-nameopt', 'multiline'])).stdout;
    expect(text).toMatch(new RegExp(`commonName\\s*=\\s*${serial}\\n`));
    expect(text).toMatch(new RegExp(`serialNumber\\s*=\\s*${serial}\\n`));
    expect(text).toContain(`URI:urn:femtoguard:device:${serial}`);
    expect(text).toMatch(/X509v3 Extended Key Usage:\s*\n\s*TLS Web Client Authentication\s*\n/);
    expect(text).toMatch(/Authority Information Access:\s*\n\s*OCSP - URI:http:\/\/127\.0\.0\.1:\d+\/ocsp\s*\n/);
    expect(text).toMatch(/X509v3 CRL Distribution Points:\s*\n(\s*\n)?\s*Full Name:\s*\n\s*URI:http:\/\/127\.0\.0\.1:\d+\/crl\s*\n/);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s*\n\s*CA:FALSE/);

    // 30-day validity (config default), with notBefore at or just before the request.
    const dates = (await openssl(['x509', '-in', pemPath, '-noout', '-startdate', '-enddate'])).stdout;
    const notBefore = Date.parse(/notBefore=(.*)/.exec(dates)?.[1] ?? '');
    const notAfter = Date.parse(/notAfter=(.*)/.exec(dates)?.[1] ?? '');
    expect(notBefore).toBeLessThanOrEqual(before);
    expect(Math.abs(notAfter - before - 30 * DAY)).toBeLessThan(60_000);

    expect((await t.srv.base.registry.get(serial))?.status).toBe('active');
    const history = await t.srv.base.registry.history(serial);
    expect(history.map((h) => `${h.from ?? '-'}>${h.to}`)).toEqual(['->provisioned', 'provisioned>active']);
    const serialHex = await certSerialHex(pemPath);
    const events = await audit('est.enroll', serial);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ outcome: 'success', actor: `device:${serial}`, details: { method: 'token', certificate: serialHex } });
    const rec = await t.srv.base.stores.certs.get(serialHex);
    expect(rec).toMatchObject({ deviceSerial: serial, status: 'valid', spkiSha256: csr.spkiSha256 });
    expect((await t.srv.base.enrollment.listTokens(serial))[0]?.usedAt).not.toBeNull();
  });

  it('ok/AIA and CRL DP name the HTTP listener that actually serves OCSP and the CRL', async () => {
    // A relying party (a SeGW) follows these URLs; with an ephemeral port (`--http HOST:0`)
    // they must carry the port the server bound, not 0.
    const dev = await enrollNewDevice(t, 'ENR-URLS');
    const ext = (await openssl(['x509', '-in', dev.certPath, '-noout', '-ext', 'authorityInfoAccess,crlDistributionPoints'])).stdout;
    expect(ext).toContain(`OCSP - URI:${t.http}/ocsp`);
    expect(ext).toContain(`URI:${t.http}/crl`);
  });

  it('ok/a P-384 key and a PEM body (not only base64 DER) enroll too', async () => {
    const serial = 'ENR-OK-P384';
    await addDevice(t, serial);
    const token = await newToken(t, serial);
    const csr = await makeCsr(t.work, serial, { curve: 'P-384' });
    const pemCsr = join(t.work, 'p384.csr.pem');
    await openssl(['req', '-inform', 'DER', '-in', csr.derPath, '-out', pemCsr]);
    const r = await est(t, 'simpleenroll', { basic: { user: serial, password: token }, bodyPath: pemCsr });
    expect(r.status, r.body).toBe(200);
    const { pemPath } = await pkcs7ToPem(t.work, r, serial);
    expect((await openssl(['x509', '-in', pemPath, '-noout', '-text'])).stdout).toMatch(/ASN1 OID: secp384r1/);
  });
});

describe('EST re-enrollment over mutual TLS', () => {
  it('ok/curl --cert/--key with a new key gets a new certificate for the same device', async () => {
    const dev = await enrollNewDevice(t, 'REENR-OK-1');
    const csr2 = await makeCsr(t.work, dev.serial);
    const r = await reenroll(t, csr2, dev.certPath, dev.keyPath);
    expect(r.status, r.body).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/pkcs7-mime/);
    const { pemPath } = await pkcs7ToPem(t.work, r, 'reenrolled');
    expect((await openssl(['verify', '-CAfile', t.chainPath, pemPath])).stdout).toContain(': OK');
    const newHex = await certSerialHex(pemPath);
    expect(newHex).not.toBe(dev.serialHex);
    // The new certificate carries the new key and still names the device.
    const pub = (p: string, k: boolean): Promise<string> =>
      openssl(k ? ['pkey', '-in', p, '-pubout'] : ['x509', '-in', p, '-noout', '-pubkey']).then((x) => x.stdout);
    expect(await pub(pemPath, false)).toBe(await pub(csr2.keyPath, true));
    expect((await openssl(['x509', '-in', pemPath, '-noout', '-ext', 'subjectAltName'])).stdout).toContain(`URI:urn:femtoguard:device:${dev.serial}`);
    const certs = await t.srv.base.stores.certs.list({ deviceSerial: dev.serial });
    expect(certs.map((c) => c.serialHex).sort()).toEqual([dev.serialHex, newHex].sort());
    // The successor supersedes the certificate that asked for it (RFC 5280 reason superseded, 4):
    // one device, one live credential.
    expect(certs.find((c) => c.serialHex === dev.serialHex)).toMatchObject({ status: 'revoked', reason: 4 });
    expect(certs.find((c) => c.serialHex === newHex)).toMatchObject({ status: 'valid' });
    expect(await t.srv.base.stores.certs.keyOwner(csr2.spkiSha256)).toBe(dev.serial);
    expect(await audit('est.reenroll', dev.serial)).toMatchObject([{ outcome: 'success', details: { previous: dev.serialHex, certificate: newHex } }]);
    // And the new certificate in turn re-enrolls (the device keeps renewing on its own).
    const csr3 = await makeCsr(t.work, dev.serial);
    expect((await reenroll(t, csr3, pemPath, csr2.keyPath)).status).toBe(200);
  });
});

describe('EST public answers (RFC 7030 §4.1, §4.5)', () => {
  it('ok/cacerts: one-line base64 PKCS#7 with the issuing and root CA, Content-Length, no chunking', async () => {
    const r = await est(t, 'cacerts');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/pkcs7-mime');
    expect(r.headers['content-transfer-encoding']).toBe('base64');
    expect(r.headers['transfer-encoding']).toBeUndefined();
    expect(Number(r.headers['content-length'])).toBe(r.bodyBytes.length);
    expect(r.body).toMatch(/^[A-Za-z0-9+/]+=*$/);
    const { pem } = await pkcs7ToPem(t.work, r, 'cacerts');
    expect(pemBodies(pem)).toEqual(pemBodies(readFileSync(t.chainPath, 'utf8')));
  });

  it('ok/csrattrs: one-line base64 CsrAttrs asking for ecdsa-with-SHA256, serialNumber, P-256', async () => {
    const r = await est(t, 'csrattrs');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/csrattrs');
    expect(r.headers['transfer-encoding']).toBeUndefined();
    expect(Number(r.headers['content-length'])).toBe(r.bodyBytes.length);
    expect(r.body).toMatch(/^[A-Za-z0-9+/]+=*$/);
    const der = join(t.work, 'csrattrs.der');
    writeFileSync(der, Buffer.from(r.body, 'base64'));
    const parsed = await openssl(['asn1parse', '-inform', 'DER', '-in', der]);
    expect(parsed.status, parsed.stderr).toBe(0);
    for (const name of ['ecdsa-with-SHA256', 'serialNumber', 'id-ecPublicKey', 'prime256v1']) expect(parsed.stdout).toContain(`:${name}`);
  });
});

// ---------------------------------------------------------------- vendor (factory) certificates
const VENDOR_EXT = `[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
`;

interface Vendor {
  rootPem: string;
  rootKey: string;
  /** A device certificate signed by this vendor root with the given subject (and key). */
  device(name: string, subj: string, keyPath?: string): Promise<{ cert: string; key: string }>;
}

/** A factory CA made with openssl alone, as a vendor would ship it. */
async function makeVendor(name: string): Promise<Vendor> {
  const ext = join(t.work, `${name}-ext.cnf`);
  writeFileSync(ext, VENDOR_EXT);
  const rootKey = await makeKey(t.work, `${name}-root`);
  const rootPem = join(t.work, `${name}-root.pem`);
  const root = await openssl(['req', '-x509', '-new', '-key', rootKey, '-subj', `/O=${name}/CN=${name} Factory Root`, '-days', '3650',
    '-config', ext, '-extensions', 'ca', '-out', rootPem]);
  expect(root.status, root.stderr).toBe(0);
  return {
    rootPem,
    rootKey,
    async device(dev: string, subj: string, keyPath?: string) {
      const key = keyPath ?? (await makeKey(t.work, `${name}-${dev}`));
      const csr = join(t.work, `${name}-${dev}.csr`);
      const cert = join(t.work, `${name}-${dev}.pem`);
      expect((await openssl(['req', '-new', '-key', key, '-subj', subj, '-out', csr])).status).toBe(0);
      const x = await openssl(['x509', '-req', '-in', csr, '-CA', rootPem, '-CAkey', rootKey, '-days', '3650', '-sha256',
        '-set_serial', `0x${Buffer.from(dev).toString('hex')}`, '-extfile', ext, '-extensions', 'leaf', '-out', cert]);
      expect(x.status, x.stderr).toBe(0);
      return { cert, key };
    },
  };
}

describe('EST first enrollment with a vendor (factory) certificate', () => {
  let vendor: Vendor;
  beforeAll(async () => {
    vendor = await makeVendor('acme');
    // Imported through the CLI: another process writes the root; the server reads it per request.
    const add = await cli(['vendor-root', 'add', vendor.rootPem, '--json'], t.env);
    expect(add.status, add.stderr).toBe(0);
    expect(JSON.parse(add.stdout)).toMatchObject([{ added: true }]);
  });

  it('ok/curl with the vendor certificate and no token enrolls the serial it names', async () => {
    const serial = 'VEND-OK-1';
    await addDevice(t, serial);
    const factory = await vendor.device('v1', `/serialNumber=${serial}/CN=${serial}`);
    const csr = await makeCsr(t.work, serial);
    const r = await est(t, 'simpleenroll', { cert: factory.cert, key: factory.key, bodyPath: csr.b64Path });
    expect(r.status, r.body).toBe(200);
    const { pemPath } = await pkcs7ToPem(t.work, r, serial);
    expect((await openssl(['verify', '-CAfile', t.chainPath, pemPath])).stdout).toContain(': OK');
    expect((await t.srv.base.registry.get(serial))?.status).toBe('active');
    expect(await audit('est.enroll', serial)).toMatchObject([{ outcome: 'success', details: { method: 'vendor-certificate' } }]);
  });

  it('fail/the same vendor certificate enrolling a second serial is refused as a shared credential', async () => {
    const [first, second] = ['VEND-SHARE-A', 'VEND-SHARE-B'];
    await addDevice(t, first);
    await addDevice(t, second);
    // A factory certificate naming two serials (serialNumber and CN): it may serve only one.
    const factory = await vendor.device('shared', `/serialNumber=${first}/CN=${second}`);
    const ok = await est(t, 'simpleenroll', { cert: factory.cert, key: factory.key, bodyPath: (await makeCsr(t.work, first)).b64Path });
    expect(ok.status, ok.body).toBe(200);
    const csrB = await makeCsr(t.work, second);
    const before = await storeTrace(t, [first, second]);
    const r = await est(t, 'simpleenroll', { cert: factory.cert, key: factory.key, bodyPath: csrB.b64Path });
    expect(r.status).toBe(403);
    expect(r.body).toMatch(/^est\.vendor_cert_shared: .*already used by another device/);
    expect(await audit('credential-shared', second)).toMatchObject([{ outcome: 'denied', details: { kind: 'vendor-certificate', boundTo: first } }]);
    expect(await storeTrace(t, [first, second])).toEqual(before);
    expect(await t.srv.base.stores.certs.keyOwner(csrB.spkiSha256)).toBeNull();
    expect((await t.srv.base.registry.get(second))?.status).toBe('provisioned');
  });

  it('fail/a second vendor certificate over the same factory key is refused for another serial', async () => {
    const [first, second] = ['VEND-KEY-A', 'VEND-KEY-B'];
    await addDevice(t, first);
    await addDevice(t, second);
    const a = await vendor.device('keyA', `/serialNumber=${first}/CN=${first}`);
    const b = await vendor.device('keyB', `/serialNumber=${second}/CN=${second}`, a.key);
    expect((await est(t, 'simpleenroll', { cert: a.cert, key: a.key, bodyPath: (await makeCsr(t.work, first)).b64Path })).status).toBe(200);
    const before = await storeTrace(t, [first, second]);
    const r = await est(t, 'simpleenroll', { cert: b.cert, key: b.key, bodyPath: (await makeCsr(t.work, second)).b64Path });
    expect(r.status).toBe(403);
    expect(r.body).toMatch(/^est\.vendor_cert_shared: /);
    expect(await audit('credential-shared', second)).toMatchObject([{ details: { kind: 'vendor-certificate', boundTo: first } }]);
    // Refused means nothing bound: not even the (new) certificate fingerprint of the shared key.
    expect(await storeTrace(t, [first, second])).toEqual(before);
  });

  it('fail/a vendor certificate naming another serial is refused', async () => {
    const serial = 'VEND-OTHER-1';
    await addDevice(t, serial);
    const factory = await vendor.device('other', '/serialNumber=VEND-SOMEONE-ELSE/CN=VEND-SOMEONE-ELSE');
    const csr = await makeCsr(t.work, serial);
    const before = await storeTrace(t, [serial]);
    const r = await est(t, 'simpleenroll', { cert: factory.cert, key: factory.key, bodyPath: csr.b64Path });
    expect(r.status).toBe(403);
    expect(r.body).toMatch(/^est\.vendor_cert_serial_mismatch: .*does not name the serial/);
    expect(await storeTrace(t, [serial])).toEqual(before);
    expect(await audit('est.enroll', serial)).toMatchObject([{ outcome: 'denied', details: { code: 'est.vendor_cert_serial_mismatch' } }]);
  });
});
