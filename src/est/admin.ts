import { randomBytes } from 'node:crypto';
import type { AuditSink } from '../audit-log/index.js';
import type { Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import { randomId, sha256Hex } from '../core/ids.js';
import { nameToString, parseCertificate, verifySignedBy } from '../pki/index.js';
import { ENROLLABLE_STATUSES, type Registry } from '../registry/index.js';
import type { EnrollmentStore, EnrollTokenRecord, VendorRoot } from './store.js';

export const MAX_TOKEN_TTL_SECONDS = 90 * 86_400;

/**
 * What operators manage for EST, without needing the CA key: one-time enrollment tokens
 * and vendor (factory) roots.
 */
export function createEnrollmentAdmin(deps: { registry: Registry; store: EnrollmentStore; audit: AuditSink; clock: Clock }) {
  const { registry, store, audit, clock } = deps;
  return {
    /** A one-time token bound to one serial. Shown once; stored as a SHA-256 hash. */
    async createToken(serial: string, ttlSeconds: number, actor: string): Promise<{ token: string; id: string; serial: string; expiresAt: string }> {
      if (!Number.isInteger(ttlSeconds) || ttlSeconds < 60 || ttlSeconds > MAX_TOKEN_TTL_SECONDS) {
        throw new AppError('invalid', 'est.bad_ttl', `token lifetime must be between 60 s and ${MAX_TOKEN_TTL_SECONDS / 86_400} days`);
      }
      const device = await registry.mustGet(serial);
      if (!ENROLLABLE_STATUSES.includes(device.status)) {
        throw new AppError('conflict', 'est.device_not_enrollable', `device ${serial} is ${device.status}; only provisioned or active devices enroll`);
      }
      const token = randomBytes(24).toString('base64url');
      const now = clock.now();
      const rec: EnrollTokenRecord = { id: randomId('et'), serial, createdAt: now.toISOString(), expiresAt: new Date(now.getTime() + ttlSeconds * 1000).toISOString(), usedAt: null, createdBy: actor };
      await store.insertToken(rec, sha256Hex(token));
      await audit.record({ action: 'est.token_created', actor, subject: serial, outcome: 'success', details: { id: rec.id, expiresAt: rec.expiresAt } });
      return { token, id: rec.id, serial, expiresAt: rec.expiresAt };
    },

    listTokens: (serial?: string): Promise<EnrollTokenRecord[]> => store.listTokens(serial),

    /** Imports a vendor (factory) root: devices presenting certificates under it may enroll. */
    async addVendorRoot(der: Buffer, actor: string): Promise<{ fingerprint: string; subject: string; added: boolean }> {
      const cert = parseCertificate(der);
      if (!cert.extensions.basicConstraints?.ca) throw new AppError('invalid', 'est.vendor_root_not_ca', 'a vendor root must be a CA certificate (basicConstraints cA TRUE)');
      if (cert.issuerDer.equals(cert.subjectDer) && !verifySignedBy(cert, cert.spki)) {
        throw new AppError('invalid', 'est.vendor_root_bad_signature', 'the self-signed vendor root does not verify');
      }
      const subject = nameToString(cert.subject);
      const added = await store.addVendorRoot({ fingerprint: cert.fingerprint, subject, der: cert.der, addedAt: clock.now().toISOString() });
      await audit.record({ action: 'est.vendor_root_added', actor, subject: cert.fingerprint, outcome: 'success', details: { subject, added } });
      return { fingerprint: cert.fingerprint, subject, added };
    },

    vendorRoots: (): Promise<VendorRoot[]> => store.vendorRoots(),
  };
}

export type EnrollmentAdmin = ReturnType<typeof createEnrollmentAdmin>;
