/**
 * Key and signature quality and the device profile: weak keys, SHA-1/MD5 signatures, a
 * missing clientAuth EKU, and the CA flag on a device certificate. Expired certificates
 * are skipped: they authenticate nothing.
 */
import { OID } from '../../pki/index.js';
import { KU, isCaFlagged } from '../cert-facts.js';
import { SeverityBuckets, plural, type CheckInfo } from '../finding.js';
import { notExpired, type Fleet } from '../fleet.js';
import type { CertFacts, Finding, Severity } from '../types.js';
import type { Check } from './check.js';

/** Named curves by OID (RFC 5480 §2.1.1.1, SEC 2, RFC 5639) with their size in bits. */
const CURVES: Readonly<Record<string, { name: string; bits: number; approved: boolean }>> = {
  '1.2.840.10045.3.1.1': { name: 'P-192', bits: 192, approved: false },
  '1.3.132.0.33': { name: 'P-224', bits: 224, approved: false },
  '1.3.132.0.8': { name: 'secp160r1', bits: 160, approved: false },
  '1.3.132.0.9': { name: 'secp160k1', bits: 160, approved: false },
  '1.3.132.0.31': { name: 'secp192k1', bits: 192, approved: false },
  '1.3.132.0.32': { name: 'secp224k1', bits: 224, approved: false },
  '1.3.132.0.10': { name: 'secp256k1', bits: 256, approved: false },
  '1.3.36.3.3.2.8.1.1.7': { name: 'brainpoolP256r1', bits: 256, approved: true },
  '1.3.36.3.3.2.8.1.1.11': { name: 'brainpoolP384r1', bits: 384, approved: true },
  '1.3.36.3.3.2.8.1.1.13': { name: 'brainpoolP512r1', bits: 512, approved: true },
};

/** The smallest RSA exponent the CA/B Forum accepts (BR §6.1.6); smaller ones invite low-exponent attacks. */
const MIN_RSA_EXPONENT = 65537;

/** Why a key is weak, and how much it matters; null when it is fine. */
export function judgeKey(c: CertFacts): { severity: Severity; text: string } | null {
  const k = c.key;
  if (k.type === 'rsa') {
    const bits = k.bits ?? 0;
    if (bits < 1024) return { severity: 'critical', text: `RSA ${bits} bits (factorable)` };
    if (bits < 2048) return { severity: 'high', text: `RSA ${bits} bits (below 2048)` };
    const e = k.rsaExponent;
    if (e === undefined) return null; // a huge exponent: unusual, not weak
    if (e === 1) return { severity: 'critical', text: 'RSA exponent 1 (no encryption at all)' };
    if (e % 2 === 0) return { severity: 'high', text: `RSA exponent ${e} (even: not a valid RSA key)` };
    if (e < MIN_RSA_EXPONENT) return { severity: 'medium', text: `RSA exponent ${e} (below 65537)` };
    return null;
  }
  if (k.type === 'ec') {
    if (k.curve === 'P-256' || k.curve === 'P-384' || k.curve === 'P-521') return null;
    const known = k.curve === undefined ? undefined : CURVES[k.curve];
    if (known === undefined) return { severity: 'medium', text: `unrecognised elliptic curve ${k.curve ?? '(none)'}` };
    if (known.bits < 256) return { severity: 'high', text: `curve ${known.name} (${known.bits} bits, below P-256)` };
    if (!known.approved) return { severity: 'medium', text: `curve ${known.name} (not a curve IKEv2 gateways support for authentication)` };
    return null;
  }
  if (k.type === 'ed25519') return null;
  return { severity: 'high', text: 'key type other than RSA, ECDSA or Ed25519 (DSA or unknown)' };
}

const SIGNATURES: Readonly<Record<string, { severity: Severity; name: string }>> = {
  '1.2.840.113549.1.1.2': { severity: 'critical', name: 'md2WithRSAEncryption' },
  [OID.md5WithRSAEncryption]: { severity: 'critical', name: 'md5WithRSAEncryption' },
  [OID.sha1WithRSAEncryption]: { severity: 'high', name: 'sha1WithRSAEncryption' },
  [OID.ecdsaWithSHA1]: { severity: 'high', name: 'ecdsa-with-SHA1' },
  '1.2.840.10040.4.3': { severity: 'high', name: 'dsa-with-sha1' },
};

/** A broken signature hash (MD2, MD5: collisions forged in practice; SHA-1: SHAttered, 2017); null when fine. */
export function judgeSignature(c: CertFacts): { severity: Severity; text: string } | null {
  const s = SIGNATURES[c.signatureAlgorithm];
  return s === undefined ? null : { severity: s.severity, text: `signed with ${s.name}` };
}

const weakKey: CheckInfo = {
  id: 'weak-key',
  summary: 'device key too weak: RSA below 2048 bits, curves below P-256, bad RSA exponents',
  severities: ['critical', 'high', 'medium'],
  needsSessions: false,
  why:
    'A weak key can be broken from the certificate alone, with no access to the device: RSA-512 is factored in hours, RSA-1024 is within ' +
    'reach of a well-funded attacker, and curves below P-256 give less than 128-bit security. Unusual curves are often refused by gateways or badly implemented.',
  fix: 'Re-enroll the device with an ECDSA P-256 (or RSA-3072) key generated on the device, then revoke the weak certificate.',
};

const weakSignature: CheckInfo = {
  id: 'weak-signature',
  summary: 'device certificate signed with SHA-1 or MD5',
  severities: ['critical', 'high'],
  needsSessions: false,
  why:
    'With a collision in the signature hash an attacker can get a certificate of their choosing that carries a real signature: done for ' +
    'MD5 against a public CA in 2008, and SHA-1 collisions have been practical since 2017.',
  fix: 'Re-issue with SHA-256 or better (femtoguard signs with ECDSA-SHA-256/384 or RSA-SHA-256) and stop the issuer from signing SHA-1.',
};

const missingClientAuth: CheckInfo = {
  id: 'missing-client-auth',
  summary: 'device certificate without the clientAuth extended key usage',
  severities: ['medium', 'low'],
  needsSessions: false,
  why:
    'A femtocell authenticates as a client (IKEv2 to the security gateway, TLS to the management server). Without id-kp-clientAuth ' +
    '(RFC 5280 §4.2.1.12) a strict gateway refuses it, and a certificate with other purposes (serverAuth) can impersonate servers. ' +
    'No EKU at all means "any purpose".',
  fix: 'Issue device certificates with EKU clientAuth only, as femtoguard\'s device profile does.',
};

const caFlag: CheckInfo = {
  id: 'ca-flag-on-device',
  summary: 'device certificate with cA=TRUE or keyCertSign',
  severities: ['critical'],
  needsSessions: false,
  why:
    'A device certificate that is also a CA lets whoever extracts the device key mint certificates for any other device, and clients that ' +
    'do not enforce path length will trust them (RFC 5280 §4.2.1.9: only CA certificates assert cA; §4.2.1.3: keyCertSign only with cA).',
  fix: 'Revoke these certificates now and re-issue with basicConstraints cA=FALSE (critical) and keyUsage digitalSignature only.',
};

const CLIENT_AUTH_OK = new Set<string>([OID.kpClientAuth, '2.5.29.37.0' /* anyExtendedKeyUsage */]);

function bucketed(fleet: Fleet, judge: (c: CertFacts) => { severity: Severity; text: string } | null): SeverityBuckets {
  const b = new SeverityBuckets();
  for (const c of fleet.deviceCerts) {
    if (!notExpired(c, fleet.now)) continue;
    const j = judge(c);
    if (j === null) continue;
    const holders = fleet.holders.get(c.fingerprint) ?? [];
    b.add(j.severity, holders, [c.fingerprint], { serials: holders, text: j.text });
  }
  return b;
}

const keyTitle: Record<Severity, string> = { critical: 'broken keys', high: 'weak keys', medium: 'questionable keys', low: '' };

function runWeakKey(fleet: Fleet): Finding[] {
  return bucketed(fleet, judgeKey).findings(weakKey, (s, n, devs) => `${plural(n, 'device certificate')} with ${keyTitle[s]} (${plural(devs, 'device')})`);
}

function runWeakSignature(fleet: Fleet): Finding[] {
  return bucketed(fleet, judgeSignature).findings(weakSignature, (s, n, devs) => `${plural(n, 'device certificate')} signed with ${s === 'critical' ? 'MD5 or MD2' : 'SHA-1'} (${plural(devs, 'device')})`);
}

function runClientAuth(fleet: Fleet): Finding[] {
  const judge = (c: CertFacts): { severity: Severity; text: string } | null => {
    if (c.extKeyUsage === null) return { severity: 'low', text: 'no extended key usage: any purpose' };
    if (c.extKeyUsage.some((o) => CLIENT_AUTH_OK.has(o))) return null;
    return { severity: 'medium', text: `extended key usage without clientAuth (${c.extKeyUsage.join(', ')})` };
  };
  return bucketed(fleet, judge).findings(missingClientAuth, (s, n) =>
    s === 'medium' ? `${plural(n, 'device certificate')} whose extended key usage lacks clientAuth` : `${plural(n, 'device certificate')} without any extended key usage`,
  );
}

function runCaFlag(fleet: Fleet): Finding[] {
  const judge = (c: CertFacts): { severity: Severity; text: string } | null => {
    const signs = c.keyUsage !== null && (c.keyUsage & KU.keyCertSign) !== 0;
    if (!isCaFlagged(c) && !signs) return null;
    return { severity: 'critical', text: [isCaFlagged(c) ? 'cA=TRUE' : '', signs ? 'keyCertSign' : ''].filter(Boolean).join(' and ') };
  };
  return bucketed(fleet, judge).findings(caFlag, (_s, n, devs) => `${plural(n, 'device certificate')} can act as a CA (${plural(devs, 'device')})`);
}

export const CRYPTO_CHECKS: readonly Check[] = [
  { info: weakKey, run: runWeakKey },
  { info: weakSignature, run: runWeakSignature },
  { info: missingClientAuth, run: runClientAuth },
  { info: caFlag, run: runCaFlag },
];
