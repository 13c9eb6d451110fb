/**
 * From a parsed certificate to the few facts the audit's checks read. The parsed form
 * (DER, names, extension objects) is dropped right after, so a 200,000-certificate dump
 * stays small in memory.
 */
import { DEVICE_URN_PREFIX, nameToString, OID, type ParsedCertificate } from '../pki/index.js';
import type { CertFacts } from './types.js';

/**
 * The device serial a certificate names. femtoguard's profile puts it in the SAN URI
 * `urn:femtoguard:device:<serial>`; vendor factory certificates usually carry it in the
 * subject serialNumber (X.520 §6.2.9) or the CN.
 */
export function claimedSerialOf(cert: Pick<ParsedCertificate, 'subject' | 'extensions'>): string | null {
  for (const uri of cert.extensions.subjectAltName?.uri ?? []) {
    if (!uri.startsWith(DEVICE_URN_PREFIX)) continue;
    try {
      return decodeURIComponent(uri.slice(DEVICE_URN_PREFIX.length));
    } catch {
      return uri.slice(DEVICE_URN_PREFIX.length);
    }
  }
  const attr = (type: string): string | undefined => cert.subject.find((a) => a.type === type)?.value;
  const serial = attr(OID.serialNumber) ?? attr(OID.commonName);
  return serial !== undefined && serial.trim().length > 0 ? serial.trim() : null;
}

/** The facts of one certificate; `source` names where it was read. */
export function certFactsOf(cert: ParsedCertificate, source: string): CertFacts {
  const ext = cert.extensions;
  const bc = ext.basicConstraints;
  return {
    fingerprint: cert.fingerprint,
    source,
    serialHex: cert.serialHex,
    subject: nameToString(cert.subject),
    issuer: nameToString(cert.issuer),
    // latin1 keeps every byte: a cheap, exact Map key for Name and SPKI comparisons.
    subjectKey: cert.subjectDer.toString('latin1'),
    issuerKey: cert.issuerDer.toString('latin1'),
    spkiKey: cert.spki.toString('latin1'),
    notBefore: cert.notBefore.getTime(),
    notAfter: cert.notAfter.getTime(),
    key: cert.keyInfo,
    signatureAlgorithm: cert.signatureAlgorithm,
    basicConstraints: bc === undefined ? null : { ca: bc.ca, critical: bc.critical, ...(bc.pathLen !== undefined ? { pathLen: bc.pathLen } : {}) },
    keyUsage: ext.keyUsage === undefined ? null : ext.keyUsage.bits,
    extKeyUsage: ext.extKeyUsage ?? null,
    claimedSerial: claimedSerialOf(cert),
    selfIssued: cert.subjectDer.equals(cert.issuerDer),
  };
}

/** RFC 5280 §4.2.1.3 bit numbers the checks test. */
export const KU = { digitalSignature: 1 << 0, keyCertSign: 1 << 5, cRLSign: 1 << 6 } as const;

/** True when basicConstraints says cA (RFC 5280 §4.2.1.9). */
export function isCaFlagged(c: CertFacts): boolean {
  return c.basicConstraints?.ca === true;
}
