import { createPublicKey, type KeyObject } from 'node:crypto';
import type { AuditSink } from '../audit-log/index.js';
import type { Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import { sha256Hex } from '../core/ids.js';
import { parseCertificate, type ParsedCertificate } from './certificate.js';
import { toPem } from './der.js';
import { decryptPrivateKey, encryptPrivateKey } from './key-protection.js';
import { OID } from './oids.js';
import { buildIssuingCa, buildOcspResponderCert, buildRootCa } from './profiles.js';
import { generateKeyPair, keyObjectSigner, privateKeyFromPkcs8, type KeyAlgorithm, type Signer } from './signer.js';
import type { CaMaterial, CertStore } from './store.js';

export interface CaSettings {
  keyAlgorithm: KeyAlgorithm;
  name: string;
  rootValidityDays: number;
  issuingValidityDays: number;
  responderValidityDays: number;
}

const DAY = 86_400_000;

/** The CA as loaded for signing: the issuing key and the OCSP responder key, in memory. */
export interface UnlockedCa {
  root: ParsedCertificate;
  issuing: ParsedCertificate;
  responder: ParsedCertificate;
  issuingSigner: Signer;
  responderSigner: Signer;
  /** PEM of issuing CA then root, for `--cacert` style use. */
  chainPem: string;
}

function exportPkcs8(k: KeyObject): Buffer {
  return k.export({ format: 'der', type: 'pkcs8' });
}

/** True when femtoguard's CA exists in this store. */
export async function caExists(store: CertStore): Promise<boolean> {
  return (await store.loadCaMaterial()).some((m) => m.name === 'issuing');
}

/**
 * `femtoguard ca init`: a root and an issuing CA, plus a delegated OCSP responder
 * certificate (RFC 6960 §4.2.2.2). Private keys are encrypted at rest with the passphrase
 * and never leave pki/. Refuses to overwrite an existing CA.
 */
export async function initCa(deps: { store: CertStore; audit: AuditSink; clock: Clock }, s: CaSettings, passphrase: string, actor: string): Promise<UnlockedCa> {
  if (await caExists(deps.store)) throw new AppError('conflict', 'ca.exists', 'a CA already exists in this data directory; refusing to replace it');
  const now = deps.clock.now();
  const nb = new Date(now.getTime() - 5 * 60_000);
  const rootKeys = generateKeyPair(s.keyAlgorithm);
  const issuingKeys = generateKeyPair(s.keyAlgorithm);
  const rootSigner = keyObjectSigner(rootKeys.privateKey);
  const rootDer = await buildRootCa({
    signer: rootSigner,
    subject: [
      { type: OID.organizationName, value: s.name },
      { type: OID.commonName, value: `${s.name} Root CA` },
    ],
    notBefore: nb,
    notAfter: new Date(now.getTime() + s.rootValidityDays * DAY),
  });
  const issuingDer = await buildIssuingCa({
    signer: rootSigner,
    issuerCertDer: rootDer,
    spki: createPublicKey(issuingKeys.privateKey).export({ format: 'der', type: 'spki' }),
    subject: [
      { type: OID.organizationName, value: s.name },
      { type: OID.commonName, value: `${s.name} Device Issuing CA` },
    ],
    notBefore: nb,
    notAfter: new Date(now.getTime() + Math.min(s.issuingValidityDays, s.rootValidityDays - 1) * DAY),
  });
  const issuingSigner = keyObjectSigner(issuingKeys.privateKey);
  const issuing = parseCertificate(issuingDer);
  const responder = await newResponder(issuingSigner, issuing, s, now);
  const at = now.toISOString();
  const items: CaMaterial[] = [
    { name: 'root', keyAlgorithm: s.keyAlgorithm, certDer: rootDer, encryptedKey: encryptPrivateKey(exportPkcs8(rootKeys.privateKey), passphrase), createdAt: at },
    { name: 'issuing', keyAlgorithm: s.keyAlgorithm, certDer: issuingDer, encryptedKey: encryptPrivateKey(exportPkcs8(issuingKeys.privateKey), passphrase), createdAt: at },
    { name: 'ocsp', keyAlgorithm: s.keyAlgorithm, certDer: responder.der, encryptedKey: encryptPrivateKey(exportPkcs8(responder.key), passphrase), createdAt: at },
  ];
  if (!(await deps.store.saveCaMaterial(items, false))) throw new AppError('conflict', 'ca.exists', 'a CA was created concurrently; refusing to replace it');
  const root = parseCertificate(rootDer);
  await deps.audit.record({
    action: 'ca.initialized',
    actor,
    subject: issuing.serialHex,
    outcome: 'success',
    details: { keyAlgorithm: s.keyAlgorithm, rootFingerprint: root.fingerprint, issuingFingerprint: issuing.fingerprint },
  });
  return assemble(root, issuing, parseCertificate(responder.der), issuingSigner, keyObjectSigner(responder.key));
}

/**
 * The error for anything asked of an issuing CA past its end: a server-side condition (503 at
 * the edge), not a fault in the request, and one only an operator can clear by rolling the
 * CA over (docs/pki.md "When the issuing CA ends").
 */
export function caExpiredError(issuing: ParsedCertificate): AppError {
  const end = issuing.notAfter.toISOString();
  return new AppError('unavailable', 'ca.expired', `the issuing CA ended at ${end}: nothing can be issued under it until the CA is rolled over (docs/pki.md)`, { caNotAfter: end });
}

/**
 * Refuses with `ca.expired` once the issuing CA has ended. A certificate issued then could
 * not validate (RFC 5280 §6.1.3 (a)(2): every certificate of the path must be within its
 * validity), and capping it at the CA's end would leave it no validity at all.
 */
export function assertIssuingCaCurrent(issuing: ParsedCertificate, now: Date): void {
  if (now.getTime() >= issuing.notAfter.getTime()) throw caExpiredError(issuing);
}

async function newResponder(issuingSigner: Signer, issuing: ParsedCertificate, s: CaSettings, now: Date): Promise<{ der: Buffer; key: KeyObject }> {
  assertIssuingCaCurrent(issuing, now);
  // The responder key is always P-256: it signs every OCSP response (hot path) and
  // clients accept it under any issuing CA key type.
  const keys = generateKeyPair('P-256');
  const der = await buildOcspResponderCert({
    signer: issuingSigner,
    issuerCertDer: issuing.der,
    spki: createPublicKey(keys.privateKey).export({ format: 'der', type: 'spki' }),
    subject: [
      { type: OID.organizationName, value: s.name },
      { type: OID.commonName, value: `${s.name} OCSP Responder` },
    ],
    notBefore: new Date(now.getTime() - 5 * 60_000),
    // Never past the issuing CA, like device and TLS certificates: a responder outliving
    // its issuer would sign answers no client can validate.
    notAfter: new Date(Math.min(now.getTime() + s.responderValidityDays * DAY, issuing.notAfter.getTime())),
  });
  return { der, key: keys.privateKey };
}

function assemble(root: ParsedCertificate, issuing: ParsedCertificate, responder: ParsedCertificate, issuingSigner: Signer, responderSigner: Signer): UnlockedCa {
  return { root, issuing, responder, issuingSigner, responderSigner, chainPem: toPem('CERTIFICATE', issuing.der) + toPem('CERTIFICATE', root.der) };
}

/**
 * Loads the CA for signing: decrypts the issuing and responder keys (the root key stays
 * encrypted in the store). Renews the delegated OCSP responder certificate when it is in
 * the last third of its life; a running server re-checks that with {@link renewOcspResponder}.
 * Refuses with `ca.expired` once the issuing CA has ended: a server could issue nothing
 * under it (not even its own TLS certificate), so it says why at once.
 */
export async function unlockCa(deps: { store: CertStore; audit: AuditSink; clock: Clock }, s: CaSettings, passphrase: string): Promise<UnlockedCa> {
  const material = new Map((await deps.store.loadCaMaterial()).map((m) => [m.name, m]));
  const root = material.get('root');
  const issuing = material.get('issuing');
  const ocsp = material.get('ocsp');
  if (!root || !issuing || !ocsp) throw new AppError('unavailable', 'ca.not_initialized', 'no CA in this data directory: run `femtoguard ca init`');
  const issuingKey = privateKeyFromPkcs8(decryptPrivateKey(issuing.encryptedKey, passphrase));
  const issuingSigner = keyObjectSigner(issuingKey);
  const issuingCert = parseCertificate(issuing.certDer);
  if (!issuingCert.spki.equals(issuingSigner.publicKeySpki)) throw new AppError('internal', 'ca.key_mismatch', 'the issuing CA key does not match its certificate');
  assertIssuingCaCurrent(issuingCert, deps.clock.now());
  const responderCert = parseCertificate(ocsp.certDer);
  const responderKey = privateKeyFromPkcs8(decryptPrivateKey(ocsp.encryptedKey, passphrase));
  const loaded = assemble(parseCertificate(root.certDer), issuingCert, responderCert, issuingSigner, keyObjectSigner(responderKey));
  const now = deps.clock.now();
  return renewalDue(responderCert, now) ? replaceResponder(deps, s, loaded, passphrase, now) : loaded;
}

/**
 * True when a certificate is in the last third of its validity (or past it): the point at
 * which the responder and TLS server certificates are replaced, leaving clients that cache
 * or pin them two thirds of a lifetime of overlap.
 */
export function renewalDue(cert: { notBefore: Date; notAfter: Date }, now: Date): boolean {
  const life = cert.notAfter.getTime() - cert.notBefore.getTime();
  return cert.notAfter.getTime() - now.getTime() < life / 3;
}

/**
 * For a running server: the CA with a current delegated OCSP responder, or null when the
 * one in use is still good. When another process (a second node, a restart elsewhere) has
 * already renewed it in the store, that one is adopted instead of minting a third; otherwise
 * a fresh responder key and certificate are issued, saved (key sealed under the passphrase)
 * and audited. The issuing key is the one already in memory.
 */
export async function renewOcspResponder(
  deps: { store: CertStore; audit: AuditSink; clock: Clock },
  s: CaSettings,
  ca: UnlockedCa,
  passphrase: string,
): Promise<UnlockedCa | null> {
  const now = deps.clock.now();
  if (!renewalDue(ca.responder, now)) return null;
  const stored = (await deps.store.loadCaMaterial()).find((m) => m.name === 'ocsp');
  if (stored && !stored.certDer.equals(ca.responder.der)) {
    const cert = parseCertificate(stored.certDer);
    if (!renewalDue(cert, now) && cert.notBefore.getTime() <= now.getTime()) {
      const key = privateKeyFromPkcs8(decryptPrivateKey(stored.encryptedKey, passphrase));
      const signer = keyObjectSigner(key);
      if (!cert.spki.equals(signer.publicKeySpki)) throw new AppError('internal', 'ca.key_mismatch', 'the stored OCSP responder key does not match its certificate');
      return assemble(ca.root, ca.issuing, cert, ca.issuingSigner, signer);
    }
  }
  return replaceResponder(deps, s, ca, passphrase, now);
}

async function replaceResponder(deps: { store: CertStore; audit: AuditSink }, s: CaSettings, ca: UnlockedCa, passphrase: string, now: Date): Promise<UnlockedCa> {
  const fresh = await newResponder(ca.issuingSigner, ca.issuing, s, now);
  await deps.store.saveCaMaterial(
    [{ name: 'ocsp', keyAlgorithm: 'P-256', certDer: fresh.der, encryptedKey: encryptPrivateKey(exportPkcs8(fresh.key), passphrase), createdAt: now.toISOString() }],
    true,
  );
  const responder = parseCertificate(fresh.der);
  await deps.audit.record({
    action: 'ca.ocsp_responder_renewed',
    actor: 'system',
    subject: responder.serialHex,
    outcome: 'success',
    details: { previous: ca.responder.serialHex, notAfter: responder.notAfter.toISOString() },
  });
  return assemble(ca.root, ca.issuing, responder, ca.issuingSigner, keyObjectSigner(fresh.key));
}

/** The public CA certificates without unlocking anything (EST cacerts, CLI `ca show`). */
export async function publicCaCertificates(store: CertStore): Promise<{ root: ParsedCertificate; issuing: ParsedCertificate; responder: ParsedCertificate } | null> {
  const m = new Map((await store.loadCaMaterial()).map((x) => [x.name, x]));
  const root = m.get('root');
  const issuing = m.get('issuing');
  const ocsp = m.get('ocsp');
  if (!root || !issuing || !ocsp) return null;
  return { root: parseCertificate(root.certDer), issuing: parseCertificate(issuing.certDer), responder: parseCertificate(ocsp.certDer) };
}

export const fingerprintOf = (der: Buffer): string => sha256Hex(der);
