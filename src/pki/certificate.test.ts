import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { isAppError } from '../core/errors.js';
import { OID } from './oids.js';
import { generateKeyPair, keyObjectSigner } from './signer.js';
import { encodeName } from './names.js';
import { parseCertificate, pemOrDerToDerList, verifySignedBy } from './certificate.js';
import { buildCertificate, extBasicConstraints, randomCertSerial } from './profiles.js';

const dir = mkdtempSync(join(tmpdir(), 'fg-cert-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const p = (f: string): string => join(dir, f);
const ossl = (...args: string[]): string => execFileSync('openssl', args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
const der = (f: string): Buffer => {
  ossl('x509', '-in', p(f), '-outform', 'DER', '-out', p(`${f}.der`));
  return readFileSync(p(`${f}.der`));
};

// An openssl-made CA and a leaf carrying every extension the parser reads.
ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('ca.key'), '-subj', '/C=DE/O=Test Operator/CN=Test CA', '-days', '30', '-out', p('ca.pem'));
ossl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384', '-nodes', '-keyout', p('leaf.key'), '-subj', '/CN=KTF000001/serialNumber=KTF000001/OU=RAN', '-out', p('leaf.csr'));
writeFileSync(p('leaf.ext'), [
  'basicConstraints=critical,CA:FALSE',
  'keyUsage=critical,digitalSignature,keyAgreement',
  'extendedKeyUsage=clientAuth,serverAuth',
  'subjectAltName=DNS:fap.example.net,URI:urn:femtoguard:device:KTF000001,IP:10.1.2.3,IP:2001:db8::1,email:noc@example.net',
  'subjectKeyIdentifier=hash',
  'authorityKeyIdentifier=keyid',
  'authorityInfoAccess=OCSP;URI:http://ocsp.example.net/,caIssuers;URI:http://pki.example.net/ca.cer',
  'crlDistributionPoints=URI:http://pki.example.net/ca.crl',
  'noCheck=ignored',
  '',
].join('\n'));
ossl('x509', '-req', '-in', p('leaf.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-set_serial', '0x00ff0102', '-days', '10', '-extfile', p('leaf.ext'), '-out', p('leaf.pem'));
ossl('x509', '-req', '-in', p('leaf.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-sha1', '-days', '10', '-out', p('sha1.pem'));
ossl('req', '-x509', '-newkey', 'ed25519', '-nodes', '-keyout', p('ed.key'), '-subj', '/CN=ed', '-days', '1', '-out', p('ed.pem'));
const caDer = der('ca.pem');
const leafDer = der('leaf.pem');

function expectMalformed(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    expect(isAppError(e) ? e.code : e).toBe('certificate.malformed');
    return;
  }
  throw new Error('expected certificate.malformed');
}

describe('parseCertificate', () => {
  it('ok/fields agree with openssl x509', () => {
    const c = parseCertificate(leafDer);
    expect(c.version).toBe(3);
    expect(c.serialHex).toBe(ossl('x509', '-in', p('leaf.pem'), '-noout', '-serial').trim().replace('serial=', '').toLowerCase().replace(/^0+/, ''));
    expect(c.serialHex).toBe('ff0102');
    expect(c.fingerprint).toBe(ossl('x509', '-in', p('leaf.pem'), '-noout', '-fingerprint', '-sha256').trim().split('=')[1]?.replace(/:/g, '').toLowerCase());
    const dates = ossl('x509', '-in', p('leaf.pem'), '-noout', '-dates');
    expect(c.notBefore.getTime()).toBe(Date.parse(/notBefore=(.*)/.exec(dates)?.[1] ?? ''));
    expect(c.notAfter.getTime()).toBe(Date.parse(/notAfter=(.*)/.exec(dates)?.[1] ?? ''));
    expect(c.subject).toEqual([
      { type: OID.commonName, value: 'KTF000001' }, { type: OID.serialNumber, value: 'KTF000001' }, { type: OID.organizationalUnitName, value: 'RAN' },
    ]);
    expect(c.issuer.map((a) => a.value)).toEqual(['DE', 'Test Operator', 'Test CA']);
    expect(c.issuerDer.equals(parseCertificate(caDer).subjectDer)).toBe(true);
    expect(c.signatureAlgorithm).toBe(OID.sha256WithRSAEncryption);
    expect(c.keyInfo).toEqual({ type: 'ec', curve: 'P-384', bits: 384 });
    const pub = ossl('x509', '-in', p('leaf.pem'), '-noout', '-pubkey');
    expect(c.spki.toString('base64')).toBe(pub.replace(/-----[^-]+-----|\s/g, ''));
    expect(c.publicKeyBits.length).toBe(97);
  });

  it('ok/extensions agree with what openssl wrote', () => {
    const e = parseCertificate(leafDer).extensions;
    expect(e.basicConstraints).toEqual({ ca: false, critical: true });
    expect(e.keyUsage).toEqual({ bits: 0b10001, names: ['digitalSignature', 'keyAgreement'] });
    expect(e.extKeyUsage).toEqual([OID.kpClientAuth, OID.kpServerAuth]);
    expect(e.subjectAltName).toEqual({
      dns: ['fap.example.net'], uri: ['urn:femtoguard:device:KTF000001'], ip: ['10.1.2.3', '2001:db8:0:0:0:0:0:1'], email: ['noc@example.net'],
    });
    const text = ossl('x509', '-in', p('leaf.pem'), '-noout', '-text');
    const hex = (re: RegExp): string => (re.exec(text)?.[1] ?? '').replace(/[:\s]/g, '').toLowerCase();
    expect(e.subjectKeyIdentifier?.toString('hex')).toBe(hex(/Subject Key Identifier:\s+([0-9A-F:]+)/));
    expect(e.authorityKeyIdentifier?.toString('hex')).toBe(hex(/Authority Key Identifier:\s+(?:keyid:)?([0-9A-F:]+)/));
    expect(e.authorityKeyIdentifier?.equals(parseCertificate(caDer).extensions.subjectKeyIdentifier ?? Buffer.alloc(0))).toBe(true);
    expect(e.ocspUrls).toEqual(['http://ocsp.example.net/']);
    expect(e.caIssuerUrls).toEqual(['http://pki.example.net/ca.cer']);
    expect(e.crlUrls).toEqual(['http://pki.example.net/ca.crl']);
    expect(e.ocspNoCheck).toBe(true);
  });

  it('ok/CA certificate: RSA key info and CA basic constraints', () => {
    const c = parseCertificate(caDer);
    expect(c.keyInfo).toEqual({ type: 'rsa', bits: 2048, rsaExponent: 65537 });
    expect(c.extensions.basicConstraints?.ca).toBe(true);
    expect(c.extensions.ocspNoCheck).toBe(false);
  });

  it('fail/every truncation is certificate.malformed', () => {
    for (let len = 0; len < leafDer.length; len += 7) expectMalformed(() => parseCertificate(leafDer.subarray(0, len)));
  });

  it('fail/random bytes and trailing bytes are certificate.malformed', () => {
    for (let i = 0; i < 2000; i++) {
      const b = randomBytes(1 + (i % 200));
      if (i % 2) b[0] = 0x30;
      expectMalformed(() => parseCertificate(b));
    }
    expectMalformed(() => parseCertificate(Buffer.concat([leafDer, Buffer.from([0])])));
    expectMalformed(() => parseCertificate(Buffer.alloc(0)));
  });

  it('fail/outer signatureAlgorithm differing from the TBS one is refused (RFC 5280 §4.1.1.2)', () => {
    const c = parseCertificate(leafDer);
    const bad = Buffer.from(leafDer);
    const outer = bad.indexOf(Buffer.from('2a864886f70d01010b', 'hex'), leafDer.indexOf(c.tbs) + c.tbs.length);
    bad[outer + 8] = 0x0c; // sha256WithRSA -> sha384WithRSA
    expectMalformed(() => parseCertificate(bad));
  });

  it('fail/duplicate extensions are refused (RFC 5280 §4.2)', async () => {
    const k = generateKeyPair('P-256');
    const signer = keyObjectSigner(k.privateKey);
    const name = encodeName([{ type: OID.commonName, value: 'dup' }]);
    const d = await buildCertificate({
      signer, issuerDer: name, subjectDer: name, spki: signer.publicKeySpki, serialNumber: randomCertSerial(),
      notBefore: new Date(), notAfter: new Date(Date.now() + 1e6), extensions: [extBasicConstraints(true), extBasicConstraints(true)],
    });
    expect(() => parseCertificate(d)).toThrow(/duplicate extension 2\.5\.29\.19/);
  });
});

describe('verifySignedBy', () => {
  const ca = parseCertificate(caDer);
  it('ok/leaf verifies under the CA key (RSA SHA-256)', () => {
    expect(verifySignedBy(parseCertificate(leafDer), ca.spki)).toBe(true);
  });
  it('ok/SHA-1 signatures verify for auditing', () => {
    const c = parseCertificate(der('sha1.pem'));
    expect(c.signatureAlgorithm).toBe(OID.sha1WithRSAEncryption);
    expect(c.version).toBe(1); // openssl writes v1 when there are no extensions
    expect(c.extensions).toEqual({ ocspUrls: [], caIssuerUrls: [], crlUrls: [], ocspNoCheck: false });
    expect(verifySignedBy(c, ca.spki)).toBe(true);
  });
  it('ok/Ed25519 self-signed', () => {
    const c = parseCertificate(der('ed.pem'));
    expect(c.keyInfo.type).toBe('ed25519');
    expect(verifySignedBy(c, c.spki)).toBe(true);
  });
  it('fail/wrong key, tampered TBS, garbage key', () => {
    const leaf = parseCertificate(leafDer);
    expect(verifySignedBy(leaf, leaf.spki)).toBe(false);
    const bad = Buffer.from(leafDer);
    const i = bad.indexOf(Buffer.from('KTF000001'));
    bad[i] = 0x4c;
    expect(verifySignedBy(parseCertificate(bad), ca.spki)).toBe(false);
    expect(verifySignedBy(leaf, Buffer.from('3000', 'hex'))).toBe(false);
  });
});

describe('pemOrDerToDerList', () => {
  it('ok/one DER, several PEM blocks with text around them', () => {
    expect(pemOrDerToDerList(caDer)).toEqual([caDer]);
    const bundle = Buffer.from(`subject=whatever\n${readFileSync(p('leaf.pem'), 'utf8')}\n${readFileSync(p('ca.pem'), 'utf8')}`);
    const list = pemOrDerToDerList(bundle);
    expect(list.map((d) => parseCertificate(d).fingerprint)).toEqual([parseCertificate(leafDer).fingerprint, parseCertificate(caDer).fingerprint]);
  });
  it('fail/no certificate in the input', () => {
    expectMalformed(() => pemOrDerToDerList(Buffer.from('hello')));
    expectMalformed(() => pemOrDerToDerList(readFileSync(p('leaf.key'))));
  });
});
