import { createHash } from 'node:crypto';
import type { AuditSink } from '../audit-log/index.js';
import type { Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import { assertIssuingCaCurrent, type UnlockedCa } from './ca.js';
import { canonicalSpki, type ParsedCsr } from './csr.js';
import { createDeviceIssuer, randomCertSerial } from './profiles.js';
import type { CertRecord, CertStore } from './store.js';

export interface IssuanceSettings {
  deviceValidityDays: number;
  ocspUrl: string;
  crlUrl: string;
  caIssuersUrl?: string | undefined;
}

export interface IssuedCertificate {
  der: Buffer;
  serialHex: string;
  fingerprint: string;
  notBefore: Date;
  notAfter: Date;
}

const DAY = 86_400_000;
/** Backdating notBefore absorbs device clock skew (a femtocell may boot with a stale clock until NTP). */
const BACKDATE_MS = 5 * 60_000;
export const MAX_DEVICE_VALIDITY_DAYS = 365;

/**
 * Device certificate issuance. Invariant: a public key is bound to exactly one device
 * forever. A CSR whose key was ever certified for another device is refused and recorded
 * as a `credential-shared` audit event; re-enrollment must bring a new key. A key is named by
 * the SHA-256 of its canonical SubjectPublicKeyInfo ({@link canonicalSpki}), so the same key
 * re-encoded (a compressed EC point, RSA parameters left out) is still the same key; the
 * certificate carries that canonical form too.
 */
export function createIssuance(deps: { ca: UnlockedCa; store: CertStore; audit: AuditSink; clock: Clock }, s: IssuanceSettings) {
  if (s.deviceValidityDays > MAX_DEVICE_VALIDITY_DAYS) {
    throw new AppError('invalid', 'pki.validity_too_long', `device certificate validity ${s.deviceValidityDays} days is refused: at most ${MAX_DEVICE_VALIDITY_DAYS}`);
  }
  const { ca, store, audit, clock } = deps;
  const issuer = createDeviceIssuer({ signer: ca.issuingSigner, issuerCertDer: ca.issuing.der, ocspUrl: s.ocspUrl, crlUrl: s.crlUrl, ...(s.caIssuersUrl ? { caIssuersUrl: s.caIssuersUrl } : {}) });

  return {
    /**
     * Issues a certificate for `deviceSerial` over the CSR's key. `requireNewKey` (re-enrollment)
     * refuses a key this device already had certified.
     */
    async issue(csr: ParsedCsr, deviceSerial: string, opts: { actor: string; requireNewKey?: boolean; validityDays?: number }): Promise<IssuedCertificate> {
      const now = clock.now();
      // First: past the CA's end nothing can be issued, whatever the request (`ca.expired`, 503).
      assertIssuingCaCurrent(ca.issuing, now);
      const spki = canonicalSpki(csr.publicKey);
      const spkiSha256 = createHash('sha256').update(spki).digest('hex');
      const owner = await store.keyOwner(spkiSha256);
      if (owner !== null && owner !== deviceSerial) {
        await audit.record({ action: 'credential-shared', actor: opts.actor, subject: deviceSerial, outcome: 'denied', details: { reason: 'public key already certified for another device', boundTo: owner, spkiSha256 } });
        throw new AppError('conflict', 'pki.key_bound_elsewhere', 'this public key is already certified for another device; generate a new key');
      }
      if (owner === deviceSerial && opts.requireNewKey) {
        await audit.record({ action: 'pki.key_reuse_refused', actor: opts.actor, subject: deviceSerial, outcome: 'denied', details: { spkiSha256 } });
        throw new AppError('conflict', 'pki.key_reused', 're-enrollment needs a new key pair; this key was already certified');
      }
      const days = opts.validityDays ?? s.deviceValidityDays;
      if (days > MAX_DEVICE_VALIDITY_DAYS || days < 1) throw new AppError('invalid', 'pki.validity_too_long', `validity of ${days} days is refused: 1..${MAX_DEVICE_VALIDITY_DAYS}`);
      const notBefore = new Date(Math.floor((now.getTime() - BACKDATE_MS) / 1000) * 1000);
      // Never outlive the issuing CA (RFC 5280 §6.1: the chain would not validate anyway).
      const requestedNotAfter = new Date(Math.floor((now.getTime() + days * DAY) / 1000) * 1000);
      const notAfter = new Date(Math.min(requestedNotAfter.getTime(), ca.issuing.notAfter.getTime()));
      const serialNumber = randomCertSerial();
      const der = await issuer.issue({ deviceSerial, spki, serialNumber, notBefore, notAfter });
      const fingerprint = createHash('sha256').update(der).digest('hex');
      const serialHex = serialNumber.toString('hex').replace(/^(00)+(?=.)/, '');
      const rec: CertRecord = {
        serialHex,
        kind: 'device',
        deviceSerial,
        fingerprint,
        spkiSha256,
        notBefore: notBefore.toISOString(),
        notAfter: notAfter.toISOString(),
        issuedAt: now.toISOString(),
        status: 'valid',
        revokedAt: null,
        reason: null,
      };
      const conflictOwner = await store.recordIssued(rec, der);
      if (conflictOwner !== null) {
        await audit.record({ action: 'credential-shared', actor: opts.actor, subject: deviceSerial, outcome: 'denied', details: { reason: 'public key already certified for another device', boundTo: conflictOwner, spkiSha256 } });
        throw new AppError('conflict', 'pki.key_bound_elsewhere', 'this public key is already certified for another device; generate a new key');
      }
      // A certificate cut short by the CA's end says so in its audit event: the device will
      // be back sooner than its validity setting promises (docs/pki.md).
      const shortened = notAfter.getTime() < requestedNotAfter.getTime() ? { shortenedToCaEnd: true, requestedNotAfter: requestedNotAfter.toISOString() } : {};
      await audit.record({ action: 'pki.certificate_issued', actor: opts.actor, subject: deviceSerial, outcome: 'success', details: { serialHex, fingerprint, notAfter: rec.notAfter, ...shortened } });
      return { der, serialHex, fingerprint, notBefore, notAfter };
    },
  };
}

export type Issuance = ReturnType<typeof createIssuance>;
