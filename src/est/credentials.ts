import type { AuditSink } from '../audit-log/index.js';
import type { Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import { CRL_REASONS, crlReasonName, type CertRecord, type CertStore, type Revocation } from '../pki/index.js';
import type { DeviceStatus } from '../registry/index.js';

/** Who revokes what EST issued but never handed over, or what a successor replaced. */
export const EST_ACTOR = 'system:est';

/** Valid certificates of one device are few (one, after succession); pages guard against the odd case. */
const PAGE = 500;

/**
 * A safe label for an unexpected error in audit details: a driver's short code
 * (`SQLITE_BUSY`) or the error's class name, never its message (which may quote input).
 */
export function errorLabel(e: unknown): string {
  if (e instanceof AppError) return e.code;
  if (!(e instanceof Error)) return 'error';
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(code) ? code : e.name;
}

/** Reason for withdrawing a certificate whose request failed for a reason other than the device's status: it is simply not needed. */
export const UNDELIVERED_REASON = CRL_REASONS.cessationOfOperation;

/**
 * The CRL reason for a certificate issued to a device that left the enrollable statuses while
 * the request was in flight: the reason the status implies (lost → keyCompromise,
 * decommissioned → cessationOfOperation), except that suspension revokes for good with
 * privilegeWithdrawn instead of putting a hold. The certificate was never delivered: a hold
 * would be lifted on reactivation and leave a valid certificate nobody holds, newer than the
 * one the device really has (which could then no longer re-enroll).
 */
export function withdrawalReason(status: DeviceStatus | null): number {
  if (status === 'lost') return CRL_REASONS.keyCompromise;
  if (status === 'suspended') return CRL_REASONS.privilegeWithdrawn;
  return UNDELIVERED_REASON;
}

/**
 * What EST does with the certificates it issued beyond issuing them: which one is the device's
 * current certificate, revoking the ones a successor replaces (RFC 5280 reason superseded), and
 * withdrawing (revoking) one that was issued but, because the request then failed, never
 * delivered. All revocations go through the revocation core, so they are audited as
 * `cert.revoked` and reach the CRL and OCSP like any other.
 */
export function createCredentialKeeper(deps: { certs: CertStore; revocation: Pick<Revocation, 'revokeCertificate'>; audit: AuditSink; clock: Clock }) {
  const { certs, revocation, audit, clock } = deps;

  /** The device's certificates that are valid (not revoked, within their validity) now. */
  async function current(serial: string): Promise<CertRecord[]> {
    const now = clock.now().toISOString();
    const out: CertRecord[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await certs.list({ deviceSerial: serial, status: 'valid', after, limit: PAGE });
      out.push(...page.filter((c) => c.kind === 'device' && c.notBefore <= now && c.notAfter > now));
      const last = page[page.length - 1];
      if (page.length < PAGE || !last) return out;
      after = last.serialHex;
    }
  }

  return {
    current,

    /**
     * A valid certificate of the same device issued after `rec`, if any: then `rec` is not the
     * device's current certificate, and whoever presents it holds a superseded credential.
     */
    async newerThan(rec: CertRecord): Promise<CertRecord | null> {
      if (!rec.deviceSerial) return null;
      const newer = (await current(rec.deviceSerial)).filter((c) => c.serialHex !== rec.serialHex && c.issuedAt > rec.issuedAt);
      newer.sort((a, b) => (a.issuedAt < b.issuedAt ? 1 : -1));
      return newer[0] ?? null;
    },

    /** Serials of the device's valid certificates, to tell afterwards which ones a failed attempt added. */
    async snapshot(serial: string): Promise<Set<string>> {
      return new Set((await current(serial)).map((c) => c.serialHex));
    },

    /** Valid certificates of the device not in `before`: what an attempt recorded before it failed. */
    async addedSince(serial: string, before: ReadonlySet<string>): Promise<string[]> {
      return (await current(serial)).map((c) => c.serialHex).filter((s) => !before.has(s));
    },

    /**
     * Revokes, with reason superseded, every other valid certificate of the device issued no
     * later than `successor`: one device, one live credential. Best effort after the successor
     * was delivered: a certificate that could not be revoked is audited
     * (`est.supersede_failed`) and can no longer re-enroll anyway (it is not the newest), and
     * the next succession tries it again. Never throws: the successor is already the device's.
     */
    async supersede(serial: string, successor: string): Promise<string[]> {
      const failedOn = (certificate: string | null, e: unknown): Promise<void> =>
        audit
          .record({ action: 'est.supersede_failed', actor: EST_ACTOR, subject: serial, outcome: 'failure', details: { certificate, successor, code: errorLabel(e) } })
          .catch(() => undefined);
      let all: CertRecord[];
      try {
        all = await current(serial);
      } catch (e) {
        await failedOn(null, e);
        return [];
      }
      const next = all.find((c) => c.serialHex === successor);
      if (!next) return [];
      const revoked: string[] = [];
      for (const old of all) {
        if (old.serialHex === successor || old.issuedAt > next.issuedAt) continue;
        try {
          await revocation.revokeCertificate(old.serialHex, CRL_REASONS.superseded, EST_ACTOR);
          revoked.push(old.serialHex);
        } catch (e) {
          await failedOn(old.serialHex, e);
        }
      }
      return revoked;
    },

    /**
     * Revokes certificates issued for a request that then failed (they were never delivered)
     * and audits each as `est.certificate_withdrawn`. Never throws: it runs while another error
     * is on its way out, and that error is the one the caller must see. A withdrawal that
     * failed is audited with outcome `failure` for an operator to finish
     * (`femtoguard cert revoke`).
     */
    async withdraw(serial: string, serialHexes: readonly string[], reason: number, why: string): Promise<void> {
      for (const serialHex of serialHexes) {
        let outcome: 'success' | 'failure' = 'success';
        let code: string | undefined;
        try {
          await revocation.revokeCertificate(serialHex, reason, EST_ACTOR);
        } catch (e) {
          outcome = 'failure';
          code = errorLabel(e);
        }
        await audit
          .record({ action: 'est.certificate_withdrawn', actor: EST_ACTOR, subject: serial, outcome, details: { certificate: serialHex, reason: crlReasonName(reason), why, ...(code ? { code } : {}) } })
          .catch(() => undefined);
      }
    },
  };
}

export type CredentialKeeper = ReturnType<typeof createCredentialKeeper>;
