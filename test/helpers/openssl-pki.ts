/**
 * Throwaway test PKI made with the `openssl` CLI (not with femtoguard's own issuer, so tests
 * of OCSP/CRL encodings do not trust the code under test): a root, an ECDSA issuing CA, a
 * delegated OCSP responder (id-kp-OCSPSigning + ocsp-nocheck), devices, and an RSA issuing CA.
 */
import { execFileSync } from 'node:child_process';
import { createHash, createPrivateKey, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TAG, children, content, expectTag, parseRoot, readNode, readOid, whole } from '../../src/pki/der.js';
import { OID } from '../../src/pki/oids.js';

export interface TestCert {
  name: string;
  certPath: string;
  keyPath: string;
  der: Buffer;
  privateKey: KeyObject;
  subjectDer: Buffer;
  /** subjectPublicKey BIT STRING value, without the unused-bits byte. */
  publicKeyBits: Buffer;
  /** Unsigned magnitude of the serial number. */
  serial: Buffer;
  subjectKeyId: Buffer;
  /** SHA-1 of publicKeyBits: OCSP ResponderID byKey. */
  keyHash: Buffer;
}

export interface TestPki {
  dir: string;
  root: TestCert;
  issuing: TestCert;
  responder: TestCert;
  /** good, revoked, unknown (never registered), and one whose serial has the top bit set. */
  devices: { good: TestCert; revoked: TestCert; unknown: TestCert; highBit: TestCert };
  rsaIssuing: TestCert;
  rsaDevice: TestCert;
  /** root + issuing CA (PEM), for -CAfile. */
  chainPath: string;
  /** root + RSA issuing CA (PEM). */
  rsaChainPath: string;
}

const EXTENSIONS = `
[req]
distinguished_name = dn
[dn]
[root]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[issuing]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ocsp]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = OCSPSigning
noCheck = ignored
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[device]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
`;

const openssl = (args: string[]): string => execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** Fields of a certificate the OCSP/CRL tests need, read with der.ts. */
export function certFields(der: Buffer): Pick<TestCert, 'subjectDer' | 'publicKeyBits' | 'serial' | 'subjectKeyId'> {
  const root = parseRoot(der);
  const tbs = expectTag(children(der, root)[0], TAG.SEQUENCE, 'tbsCertificate');
  const f = children(der, tbs);
  const o = f[0]?.tag === 0xa0 ? 1 : 0;
  const serialNode = expectTag(f[o], TAG.INTEGER, 'serialNumber');
  let serial = content(der, serialNode);
  if (serial[0] === 0 && serial.length > 1) serial = serial.subarray(1);
  const subject = expectTag(f[o + 4], TAG.SEQUENCE, 'subject');
  const spki = expectTag(f[o + 5], TAG.SEQUENCE, 'subjectPublicKeyInfo');
  const bits = expectTag(children(der, spki)[1], TAG.BIT_STRING, 'subjectPublicKey');
  let subjectKeyId = Buffer.alloc(0);
  const extsWrap = f.find((n) => n.tag === 0xa3);
  if (extsWrap) {
    for (const ext of children(der, expectTag(children(der, extsWrap)[0], TAG.SEQUENCE, 'extensions'))) {
      const parts = children(der, ext);
      const id = expectTag(parts[0], TAG.OID, 'extnID');
      const v = expectTag(parts[parts.length - 1], TAG.OCTET_STRING, 'extnValue');
      if (readOid(der, id) === OID.subjectKeyIdentifier) {
        subjectKeyId = Buffer.from(content(der, expectTag(readNode(der, v.contentStart, v.end), TAG.OCTET_STRING, 'keyIdentifier')));
      }
    }
  }
  return {
    subjectDer: Buffer.from(whole(der, subject)),
    publicKeyBits: Buffer.from(der.subarray(bits.contentStart + 1, bits.end)),
    serial: Buffer.from(serial),
    subjectKeyId,
  };
}

function makeCert(
  dir: string,
  name: string,
  cn: string,
  section: string,
  keyAlg: 'ec' | 'rsa',
  issuer: TestCert | undefined,
  serialHex: string,
): TestCert {
  const keyPath = join(dir, `${name}.key`);
  const csrPath = join(dir, `${name}.csr`);
  const certPath = join(dir, `${name}.pem`);
  const cnf = join(dir, 'ext.cnf');
  openssl(
    keyAlg === 'ec'
      ? ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyPath]
      : ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:3072', '-out', keyPath],
  );
  openssl(['req', '-new', '-config', cnf, '-key', keyPath, '-subj', `/O=femtoguard test/CN=${cn}`, '-out', csrPath]);
  const signArgs = issuer ? ['-CA', issuer.certPath, '-CAkey', issuer.keyPath] : ['-signkey', keyPath];
  openssl(['x509', '-req', '-in', csrPath, ...signArgs, '-days', '3', '-sha256', '-set_serial', `0x${serialHex}`,
    '-extfile', cnf, '-extensions', section, '-out', certPath]);
  const der = Buffer.from(new X509Certificate(readFileSync(certPath)).raw);
  const fields = certFields(der);
  return {
    name,
    certPath,
    keyPath,
    der,
    privateKey: createPrivateKey(readFileSync(keyPath)),
    ...fields,
    keyHash: createHash('sha1').update(fields.publicKeyBits).digest(),
  };
}

/** A serial with the top bit clear (or set, to exercise the DER sign byte). */
function serialHex(highBit = false): string {
  const b = randomBytes(16);
  b[0] = highBit ? (b[0] as number) | 0x80 : ((b[0] as number) & 0x7f) | 0x01;
  return b.toString('hex');
}

/** Creates the whole test PKI in `dir` (a fresh temp dir). Takes about a second (RSA-3072 keygen). */
export function makeTestPki(dir: string): TestPki {
  writeFileSync(join(dir, 'ext.cnf'), EXTENSIONS);
  const root = makeCert(dir, 'root', 'Test Root CA', 'root', 'ec', undefined, serialHex());
  const issuing = makeCert(dir, 'issuing', 'Test Issuing CA', 'issuing', 'ec', root, serialHex());
  const responder = makeCert(dir, 'responder', 'Test OCSP Responder', 'ocsp', 'ec', issuing, serialHex());
  const dev = (n: string, high = false): TestCert => makeCert(dir, n, `femto-${n}`, 'device', 'ec', issuing, serialHex(high));
  const devices = { good: dev('good'), revoked: dev('revoked'), unknown: dev('unknown'), highBit: dev('highbit', true) };
  const rsaIssuing = makeCert(dir, 'rsa-issuing', 'Test RSA Issuing CA', 'issuing', 'rsa', root, serialHex());
  const rsaDevice = makeCert(dir, 'rsa-device', 'femto-rsa', 'device', 'ec', rsaIssuing, serialHex());
  const chainPath = join(dir, 'chain.pem');
  writeFileSync(chainPath, readFileSync(root.certPath, 'utf8') + readFileSync(issuing.certPath, 'utf8'));
  const rsaChainPath = join(dir, 'rsa-chain.pem');
  writeFileSync(rsaChainPath, readFileSync(root.certPath, 'utf8') + readFileSync(rsaIssuing.certPath, 'utf8'));
  return { dir, root, issuing, responder, devices, rsaIssuing, rsaDevice, chainPath, rsaChainPath };
}
