import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { OID } from './oids.js';
import { generateKeyPair, keyObjectSigner } from './signer.js';
import { buildIssuingCa, buildRootCa } from './profiles.js';
import { parseCertificate } from './certificate.js';
import { certsOnlyPkcs7 } from './pkcs7.js';

const nb = new Date(Date.now() - 60_000);
const na = new Date(Date.now() + 86_400_000);
const rootSigner = keyObjectSigner(generateKeyPair('P-256').privateKey);
const root = await buildRootCa({ signer: rootSigner, subject: [{ type: OID.commonName, value: 'P7 Root' }], notBefore: nb, notAfter: na });
const issuing = await buildIssuingCa({
  signer: rootSigner, issuerCertDer: root, subject: [{ type: OID.commonName, value: 'P7 Issuing' }],
  spki: keyObjectSigner(generateKeyPair('P-256').privateKey).publicKeySpki, notBefore: nb, notAfter: na,
});

/** Certificates openssl finds in the PKCS#7, as DER, via its PEM output. */
function opensslCerts(p7: Buffer): Buffer[] {
  const pem = execFileSync('openssl', ['pkcs7', '-inform', 'DER', '-print_certs'], { input: p7, encoding: 'utf8' });
  return [...pem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map((m) => Buffer.from((m[1] as string).replace(/\s/g, ''), 'base64'));
}

describe('certsOnlyPkcs7', () => {
  it('ok/openssl pkcs7 -print_certs returns exactly our certificates', () => {
    const got = opensslCerts(certsOnlyPkcs7([issuing, root])).map((d) => parseCertificate(d).fingerprint).sort();
    expect(got).toEqual([parseCertificate(root).fingerprint, parseCertificate(issuing).fingerprint].sort());
  });

  it('ok/structure is RFC 5652 certs-only: version 1, no digest algorithms, id-data without content, no signers', () => {
    const p7 = certsOnlyPkcs7([root]);
    const text = execFileSync('openssl', ['cms', '-cmsout', '-print', '-inform', 'DER'], { input: p7, encoding: 'utf8' });
    expect(text).toContain('contentType: pkcs7-signedData');
    expect(text).toMatch(/version: 1\n/);
    expect(text).toMatch(/digestAlgorithms:\s*<EMPTY>/);
    expect(text).toMatch(/eContentType: pkcs7-data[^\n]*\n\s+eContent: <ABSENT>/);
    expect(text).toMatch(/signerInfos:\s*<EMPTY>/);
  });

  it('ok/certificates are in DER SET OF order, whatever order they were given in', () => {
    expect(certsOnlyPkcs7([root, issuing]).equals(certsOnlyPkcs7([issuing, root]))).toBe(true);
  });

  it('ok/no certificates gives a valid SignedData without the certificates field', () => {
    const r = spawnSync('openssl', ['cms', '-cmsout', '-print', '-inform', 'DER'], { input: certsOnlyPkcs7([]), encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/certificates:\s*<ABSENT>/);
  });

  it('fail/a truncated bundle is refused by openssl (the test can fail)', () => {
    const p7 = certsOnlyPkcs7([root]);
    const r = spawnSync('openssl', ['pkcs7', '-inform', 'DER', '-print_certs'], { input: p7.subarray(0, p7.length - 5) });
    expect(r.status).not.toBe(0);
  });
});
