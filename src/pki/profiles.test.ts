import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPublicKey } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { isAppError } from '../core/errors.js';
import { toPem } from './der.js';
import { OID } from './oids.js';
import { generateKeyPair, keyObjectSigner, type KeyAlgorithm, type Signer } from './signer.js';
import { parseCertificate } from './certificate.js';
import {
  buildIssuingCa, buildOcspResponderCert, buildRootCa, createDeviceIssuer, extBasicConstraints, extCrlDp, extKeyUsage, extSubjectKeyId, randomCertSerial,
} from './profiles.js';

const dir = mkdtempSync(join(tmpdir(), 'fg-profiles-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writePem(name: string, der: Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, toPem('CERTIFICATE', der));
  return p;
}
const opensslText = (path: string): string => execFileSync('openssl', ['x509', '-in', path, '-text', '-noout'], { encoding: 'utf8' });
function opensslVerify(args: string[]): { ok: boolean; out: string } {
  const r = spawnSync('openssl', ['verify', '-x509_strict', ...args], { encoding: 'utf8' });
  return { ok: r.status === 0, out: r.stdout + r.stderr };
}

const day = 86_400_000;
const now = new Date(Math.floor(Date.now() / 1000) * 1000);
const nb = new Date(now.getTime() - day);
const na = new Date(now.getTime() + 365 * day);
const cn = (v: string): { type: string; value: string }[] => [{ type: OID.commonName, value: v }, { type: OID.organizationName, value: 'Femtoguard Test' }];
const spkiOf = (k: { publicKey: import('node:crypto').KeyObject }): Buffer => k.publicKey.export({ format: 'der', type: 'spki' });

async function chain(alg: KeyAlgorithm, async = false): Promise<{ root: Buffer; issuing: Buffer; responder: Buffer; device: Buffer; issuingSigner: Signer }> {
  const rootKeys = generateKeyPair(alg);
  const issKeys = generateKeyPair(alg);
  const rootSigner = keyObjectSigner(rootKeys.privateKey);
  const root = await buildRootCa({ signer: rootSigner, subject: cn(`Root ${alg}`), notBefore: nb, notAfter: new Date(now.getTime() + 3650 * day) });
  const issuing = await buildIssuingCa({
    signer: rootSigner, issuerCertDer: root, subject: cn(`Issuing ${alg}`), spki: spkiOf(issKeys), notBefore: nb, notAfter: new Date(now.getTime() + 1825 * day),
    crlUrl: 'http://pki.example.net/root.crl',
  });
  let issuingSigner = keyObjectSigner(issKeys.privateKey);
  if (async) {
    const s = issuingSigner;
    issuingSigner = { keyAlgorithm: s.keyAlgorithm, signatureAlgorithm: s.signatureAlgorithm, publicKeySpki: s.publicKeySpki, sign: (d) => s.sign(d) };
  }
  const responder = await buildOcspResponderCert({ signer: issuingSigner, issuerCertDer: issuing, subject: cn('OCSP responder'), spki: spkiOf(generateKeyPair('P-256')), notBefore: nb, notAfter: na });
  const issuer = createDeviceIssuer({ signer: issuingSigner, issuerCertDer: issuing, ocspUrl: 'http://ocsp.example.net/', crlUrl: 'http://pki.example.net/issuing.crl', caIssuersUrl: 'http://pki.example.net/issuing.cer' });
  const device = await issuer.issue({ deviceSerial: 'KTF000001', spki: spkiOf(generateKeyPair('P-256')), serialNumber: randomCertSerial(), notBefore: nb, notAfter: na });
  return { root, issuing, responder, device, issuingSigner };
}

describe.each(['P-256', 'P-384', 'RSA-3072'] as const)('chain with %s CA keys', (alg) => {
  let c: Awaited<ReturnType<typeof chain>>;
  const paths = { root: '', issuing: '', responder: '', device: '' };
  it(`ok/${alg} builds a chain that openssl verifies strictly`, async () => {
    c = await chain(alg);
    paths.root = writePem(`root-${alg}.pem`, c.root);
    paths.issuing = writePem(`issuing-${alg}.pem`, c.issuing);
    paths.responder = writePem(`responder-${alg}.pem`, c.responder);
    paths.device = writePem(`device-${alg}.pem`, c.device);
    expect(opensslVerify(['-CAfile', paths.root, paths.root]).ok).toBe(true);
    expect(opensslVerify(['-CAfile', paths.root, paths.issuing]).ok).toBe(true);
    const dev = opensslVerify(['-purpose', 'sslclient', '-CAfile', paths.root, '-untrusted', paths.issuing, paths.device]);
    expect(dev.out).toContain(': OK');
    expect(dev.ok).toBe(true);
    expect(opensslVerify(['-purpose', 'ocsphelper', '-CAfile', paths.root, '-untrusted', paths.issuing, paths.responder]).ok).toBe(true);
  });

  it(`ok/${alg} root and issuing CA carry the CA profile`, () => {
    const root = opensslText(paths.root);
    expect(root).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:1/);
    expect(root).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign/);
    expect(root).toContain('X509v3 Subject Key Identifier');
    expect(root).toContain('Version: 3 (0x2)');
    const iss = opensslText(paths.issuing);
    expect(iss).toMatch(/CA:TRUE, pathlen:0/);
    expect(iss).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign/);
    expect(iss).toContain('X509v3 Authority Key Identifier');
    expect(iss).toContain('URI:http://pki.example.net/root.crl');
    const sigName = alg === 'RSA-3072' ? 'sha256WithRSAEncryption' : alg === 'P-384' ? 'ecdsa-with-SHA384' : 'ecdsa-with-SHA256';
    expect(iss).toContain(`Signature Algorithm: ${sigName}`);
  });

  it(`ok/${alg} device certificate follows the device profile`, () => {
    const t = opensslText(paths.device);
    expect(t).toMatch(/Subject: CN\s*=\s*KTF000001, serialNumber\s*=\s*KTF000001/);
    expect(t).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
    expect(t).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
    expect(t).toMatch(/X509v3 Extended Key Usage:\s+TLS Web Client Authentication\n/);
    expect(t).toContain('URI:urn:femtoguard:device:KTF000001');
    expect(t).toContain('OCSP - URI:http://ocsp.example.net/');
    expect(t).toContain('CA Issuers - URI:http://pki.example.net/issuing.cer');
    expect(t).toContain('URI:http://pki.example.net/issuing.crl');
    // AKI of the device = SKI of the issuing CA, as openssl prints them
    const ski = /Subject Key Identifier:\s+([0-9A-F:]+)/.exec(opensslText(paths.issuing))?.[1];
    expect(ski).toBeDefined();
    expect(t).toMatch(new RegExp(`Authority Key Identifier:\\s+(keyid:)?${ski}`));
    const dev = parseCertificate(c.device);
    expect(dev.serialNumber.length).toBe(16);
    expect(dev.notBefore.getTime()).toBe(nb.getTime());
    expect(dev.notAfter.getTime()).toBe(na.getTime());
  });

  it(`ok/${alg} OCSP responder has OCSPSigning and ocsp-nocheck`, () => {
    const t = opensslText(paths.responder);
    expect(t).toMatch(/CA:FALSE/);
    expect(t).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
    expect(t).toContain('OCSP Signing');
    expect(t).toContain('OCSP No Check');
  });
});

describe('device issuer', () => {
  it('ok/works with a signer that only signs asynchronously', async () => {
    const c = await chain('P-256', true);
    const r = opensslVerify(['-CAfile', writePem('a-root.pem', c.root), '-untrusted', writePem('a-iss.pem', c.issuing), writePem('a-dev.pem', c.device)]);
    expect(r.ok).toBe(true);
  });

  it('ok/escapes the device serial in the SAN URI and issues for an RSA device key', async () => {
    const c = await chain('P-256');
    const issuer = createDeviceIssuer({ signer: c.issuingSigner, issuerCertDer: c.issuing, ocspUrl: 'http://o.example/', crlUrl: 'http://c.example/x.crl' });
    const der = await issuer.issue({ deviceSerial: 'AB 12/x', spki: spkiOf(generateKeyPair('RSA-3072')), serialNumber: Buffer.from([0x80, 1]), notBefore: nb, notAfter: new Date('2051-01-01T00:00:00Z') });
    const t = opensslText(writePem('esc.pem', der));
    expect(t).toContain('URI:urn:femtoguard:device:AB%2012%2Fx');
    expect(t).toContain('Serial Number: 32769 (0x8001)');
    expect(t).toContain('Not After : Jan  1 00:00:00 2051 GMT'); // GeneralizedTime from 2050
    expect(t).not.toContain('CA Issuers');
  });

  const bad: [string, Record<string, unknown>][] = [
    ['empty device serial', { deviceSerial: '' }],
    ['control character in the device serial', { deviceSerial: 'A\nB' }],
    ['device serial over 64 characters', { deviceSerial: 'x'.repeat(65) }],
    ['empty certificate serial', { serialNumber: Buffer.alloc(0) }],
    ['zero certificate serial', { serialNumber: Buffer.alloc(4) }],
    ['21-byte certificate serial', { serialNumber: Buffer.alloc(21, 1) }],
    ['notAfter before notBefore', { notAfter: new Date(nb.getTime() - 1000) }],
    ['invalid date', { notBefore: new Date(NaN) }],
    ['garbage SPKI', { spki: Buffer.from('3003020100', 'hex') }],
  ];
  it.each(bad)('fail/refuses %s', async (_name, patch) => {
    const c = await chain('P-256');
    const issuer = createDeviceIssuer({ signer: c.issuingSigner, issuerCertDer: c.issuing, ocspUrl: 'http://o.example/', crlUrl: 'http://c.example/x.crl' });
    const req = { deviceSerial: 'KTF1', spki: spkiOf(generateKeyPair('P-256')), serialNumber: randomCertSerial(), notBefore: nb, notAfter: na, ...patch };
    const err: unknown = await issuer.issue(req as Parameters<typeof issuer.issue>[0]).catch((e: unknown) => e);
    expect(isAppError(err)).toBe(true);
  });

  it('fail/refuses a signer that does not hold the issuer certificate key', async () => {
    const c = await chain('P-256');
    const other = keyObjectSigner(generateKeyPair('P-256').privateKey);
    expect(() => createDeviceIssuer({ signer: other, issuerCertDer: c.issuing, ocspUrl: 'http://o/', crlUrl: 'http://c/' })).toThrow(/does not match/);
  });

  it('fail/refuses to issue under a non-CA certificate', async () => {
    const c = await chain('P-256');
    const k = generateKeyPair('P-256');
    const leaf = await createDeviceIssuer({ signer: c.issuingSigner, issuerCertDer: c.issuing, ocspUrl: 'http://o/', crlUrl: 'http://c/' })
      .issue({ deviceSerial: 'X', spki: spkiOf(k), serialNumber: randomCertSerial(), notBefore: nb, notAfter: na });
    expect(() => createDeviceIssuer({ signer: keyObjectSigner(k.privateKey), issuerCertDer: leaf, ocspUrl: 'http://o/', crlUrl: 'http://c/' })).toThrow(/not a CA/);
  });

  it('fail/refuses URLs that are not IA5 printable', async () => {
    const c = await chain('P-256');
    expect(() => createDeviceIssuer({ signer: c.issuingSigner, issuerCertDer: c.issuing, ocspUrl: 'http://ö/', crlUrl: 'http://c/' })).toThrow();
    expect(() => extCrlDp('')).toThrow();
  });
});

describe('extension encoders', () => {
  it('ok/key usage bits are minimal DER named-bit lists', () => {
    // …0f 01 01 ff 04 04 03 02 07 80 : digitalSignature only, 7 unused bits
    expect(extKeyUsage(['digitalSignature']).toString('hex')).toBe('300e0603551d0f0101ff040403020780');
    expect(extKeyUsage(['keyCertSign', 'cRLSign']).toString('hex')).toBe('300e0603551d0f0101ff040403020106');
    expect(extKeyUsage(['digitalSignature', 'decipherOnly']).toString('hex')).toBe('300f0603551d0f0101ff0405030307' + '8080');
  });
  it('ok/basic constraints CA:FALSE is an empty critical SEQUENCE', () => {
    expect(extBasicConstraints(false).toString('hex')).toBe('300c0603551d130101ff04023000');
  });
  it('ok/SKI is SHA-1 of the key bits, as openssl computes it', () => {
    const k = generateKeyPair('P-256');
    const spki = spkiOf(k);
    const p = join(dir, 'pub.pem');
    writeFileSync(p, createPublicKey(k.privateKey).export({ format: 'pem', type: 'spki' }));
    // openssl: the SHA-1 of the subjectPublicKey BIT STRING value (RFC 5280 §4.2.1.2 method 1)
    const raw = execFileSync('openssl', ['pkey', '-pubin', '-in', p, '-outform', 'DER']);
    const bits = raw.subarray(raw.length - 65);
    const expected = execFileSync('openssl', ['dgst', '-sha1', '-binary'], { input: bits }).toString('hex');
    expect(extSubjectKeyId(spki).subarray(-20).toString('hex')).toBe(expected);
  });
  it('ok/random serials are 16 bytes, positive, first byte non-zero', () => {
    for (let i = 0; i < 2000; i++) {
      const s = randomCertSerial();
      expect(s.length).toBe(16);
      expect(s[0]).toBeGreaterThan(0);
      expect(s[0]).toBeLessThan(0x80);
    }
  });
  it('fail/refuses unknown key usage names and pathLen without CA', () => {
    expect(() => extKeyUsage(['everything'])).toThrow();
    expect(() => extKeyUsage([])).toThrow();
    expect(() => extBasicConstraints(false, 0)).toThrow();
  });
});
