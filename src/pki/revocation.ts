import type { AuditSink } from '../audit-log/index.js';
import type { Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import { CRL_REASONS, crlReasonName } from './crl.js';
import type { CertStore } from './store.js';

/** Device statuses as the PKI sees them (kept structural so pki/ does not import registry/). */
type Status = 'provisioned' | 'active' | 'suspended' | 'decommissioned' | 'lost';

/** Certificate status changes, in this process, for OCSP and CRL to refresh at once. */
export type ChangeListener = (serialHexes: readonly string[]) => void;

/**
 * Refuses what cannot be the reason of a revocation: codes RFC 5280 §5.3.1 does not assign,
 * and removeFromCRL (8), which that section allows only in delta CRLs (to take a held
 * certificate off). Written into a full CRL it tells verifiers the certificate is *not*
 * revoked (OpenSSL accepts it), and the row could never be re-revoked properly. Checked here
 * so every caller (REST, CLI, anything later) is covered.
 */
export function checkRevocationReason(reason: number): void {
  if (reason === CRL_REASONS.removeFromCRL) {
    throw new AppError('invalid', 'crl.bad_reason', 'removeFromCRL is not a revocation reason (RFC 5280 §5.3.1: delta CRLs only); to lift a hold, reactivate the device', { reason });
  }
  if (!Number.isInteger(reason) || crlReasonName(reason) === undefined) {
    throw new AppError('invalid', 'crl.bad_reason', `revocation reason ${String(reason)} is not an RFC 5280 CRLReason code`, { reason });
  }
}

/**
 * Revocation driven by the registry. lost → keyCompromise (the unit and its key are out of
 * our control); decommissioned → cessationOfOperation; suspended → certificateHold, lifted
 * (RFC 5280 removeFromCRL) when the device is reactivated.
 */
export function createRevocation(deps: { store: CertStore; audit: AuditSink; clock: Clock }) {
  const { store, audit, clock } = deps;
  const listeners = new Set<ChangeListener>();
  const emit = (serials: readonly string[]): void => {
    if (serials.length === 0) return;
    for (const l of listeners) l(serials);
  };

  return {
    onChange(l: ChangeListener): () => void {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    /** Called by other processes' changes seen on the change feed. */
    emit,
    /** {@link checkRevocationReason}, for callers that validate input before doing anything else. */
    checkReason: checkRevocationReason,

    async revokeCertificate(serialHex: string, reason: number, actor: string): Promise<void> {
      checkRevocationReason(reason);
      const cert = await store.get(serialHex);
      if (!cert) throw new AppError('not_found', 'cert.not_found', `no certificate with serial ${serialHex}`, { serialHex });
      if (cert.status === 'revoked' && cert.reason !== CRL_REASONS.certificateHold) {
        throw new AppError('conflict', 'cert.already_revoked', `certificate ${serialHex} is already revoked (${crlReasonName(cert.reason ?? 0) ?? cert.reason})`);
      }
      const ok = await store.revoke(serialHex, reason, clock.now().toISOString());
      if (!ok) throw new AppError('conflict', 'cert.concurrent_change', `certificate ${serialHex} changed concurrently; retry`);
      await audit.record({ action: 'cert.revoked', actor, subject: serialHex, outcome: 'success', details: { reason: crlReasonName(reason), device: cert.deviceSerial } });
      emit([serialHex]);
    },

    async revokeDevice(deviceSerial: string, reason: number, actor: string): Promise<string[]> {
      checkRevocationReason(reason);
      const serials = await store.revokeDevice(deviceSerial, reason, clock.now().toISOString());
      await audit.record({ action: 'cert.revoked', actor, subject: deviceSerial, outcome: 'success', details: { reason: crlReasonName(reason), certificates: serials } });
      emit(serials);
      return serials;
    },

    /** Implements the registry's CredentialRevoker port. */
    async applyStatus(serial: string, _from: Status | null, to: Status, actor: string): Promise<number> {
      const at = clock.now().toISOString();
      let serials: string[] = [];
      if (to === 'lost') serials = await store.revokeDevice(serial, CRL_REASONS.keyCompromise, at);
      else if (to === 'decommissioned') serials = await store.revokeDevice(serial, CRL_REASONS.cessationOfOperation, at);
      else if (to === 'suspended') serials = await store.revokeDevice(serial, CRL_REASONS.certificateHold, at);
      else if (to === 'active') serials = await store.releaseHolds(serial, at);
      if (serials.length) {
        await audit.record({
          action: to === 'active' ? 'cert.hold_released' : 'cert.revoked',
          actor,
          subject: serial,
          outcome: 'success',
          details: { status: to, certificates: serials },
        });
      }
      emit(serials);
      return serials.length;
    },
  };
}

export type Revocation = ReturnType<typeof createRevocation>;
