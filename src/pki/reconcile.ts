import type { AuditSink } from '../audit-log/index.js';
import type { Clock } from '../core/clock.js';
import type { CertStore } from './store.js';

/** Device statuses whose certificates must not be valid (kept structural: pki/ does not import registry/). */
export type RevokingStatus = 'suspended' | 'lost' | 'decommissioned';
/** suspended → certificateHold, lost → keyCompromise, decommissioned → cessationOfOperation (src/pki/revocation.ts). */
export const RECONCILED_STATUSES: readonly RevokingStatus[] = ['suspended', 'lost', 'decommissioned'];

/** Port: serials of devices in a status, in serial order after `after` (keyset pages). */
export type DevicesInStatus = (status: RevokingStatus, after: string | undefined, limit: number) => Promise<string[]>;

export interface ReconcileDeps {
  certs: CertStore;
  devicesInStatus: DevicesInStatus;
  /** The revocation service's registry port: revokes (or holds) the device's valid certificates, audits, emits. */
  applyStatus(serial: string, from: null, to: RevokingStatus, actor: string): Promise<number>;
  /** The device's status now (null: no such device): re-read around the repair, see reconcileDevice. */
  statusOf(serial: string): Promise<string | null>;
  /** Lifts the holds of a device reactivated while its repair ran (the registry's own suspended → active step). */
  liftHolds(serial: string, actor: string): Promise<number>;
  audit: AuditSink;
  clock: Clock;
}

export interface ReconcileResult {
  devicesChecked: number;
  /** devices that still had valid certificates, with how many were revoked or held */
  repaired: { serial: string; status: RevokingStatus; certificates: number }[];
  /** devices whose revocation failed again (retried on the next run) */
  failed: { serial: string; status: RevokingStatus; code: string }[];
}

export const RECONCILE_ACTOR = 'system:reconcile';
const PAGE = 500;
/** At most this many serials are named in the audit event; the counts stay exact. */
const MAX_AUDITED_SERIALS = 100;

/**
 * Makes certificate status follow the registry again where a status change was committed but
 * applying it to the certificates failed (the two are separate steps: a crash, a busy
 * database, a throwing revoker in between). Every certificate still `valid` of a device that
 * is suspended, lost or decommissioned is held or revoked with the reason the status implies,
 * through the same `applyStatus` the registry uses, so the audit trail, the CRL and the OCSP
 * cache are updated exactly as on the normal path. One device's failure does not stop the
 * others. Yields to the event loop between pages: the registry of a large fleet is read in
 * pages of {@link PAGE}.
 */
export async function reconcileRevocations(deps: ReconcileDeps): Promise<ReconcileResult> {
  const result: ReconcileResult = { devicesChecked: 0, repaired: [], failed: [] };
  for (const status of RECONCILED_STATUSES) {
    let after: string | undefined;
    for (;;) {
      const serials = await deps.devicesInStatus(status, after, PAGE);
      for (const serial of serials) {
        result.devicesChecked++;
        await reconcileDevice(deps, serial, status, result);
      }
      if (serials.length < PAGE) break;
      after = serials[serials.length - 1];
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  if (result.repaired.length > 0 || result.failed.length > 0) await auditRun(deps, result);
  return result;
}

async function reconcileDevice(deps: ReconcileDeps, serial: string, status: RevokingStatus, result: ReconcileResult): Promise<void> {
  try {
    // Cheap check first: most devices in these statuses have nothing left to do.
    const valid = await deps.certs.list({ deviceSerial: serial, status: 'valid', limit: 1 });
    if (valid.length === 0) return;
    // The page of serials was read a moment ago: an operator may have reactivated the device
    // since. Its status is read again before the repair, and once more after it: a hold placed
    // on a device that became active meanwhile is lifted at once (its reactivation lifted the
    // holds it saw, not this one), so no interleaving leaves an active device on hold.
    if ((await deps.statusOf(serial)) !== status) return;
    const certificates = await deps.applyStatus(serial, null, status, RECONCILE_ACTOR);
    if (status === 'suspended' && (await deps.statusOf(serial)) === 'active') {
      await deps.liftHolds(serial, RECONCILE_ACTOR);
      return;
    }
    if (certificates > 0) result.repaired.push({ serial, status, certificates });
  } catch (e) {
    result.failed.push({ serial, status, code: safeCode(e) });
  }
}

async function auditRun(deps: ReconcileDeps, r: ReconcileResult): Promise<void> {
  await deps.audit.record({
    action: 'cert.reconciled',
    actor: RECONCILE_ACTOR,
    outcome: r.failed.length > 0 ? 'failure' : 'success',
    at: deps.clock.now(),
    details: {
      devicesChecked: r.devicesChecked,
      devicesRepaired: r.repaired.length,
      certificates: r.repaired.reduce((n, x) => n + x.certificates, 0),
      repaired: r.repaired.slice(0, MAX_AUDITED_SERIALS).map((x) => `${x.serial}:${x.status}`),
      devicesFailed: r.failed.length,
      failed: r.failed.slice(0, MAX_AUDITED_SERIALS).map((x) => `${x.serial}:${x.code}`),
    },
  });
}

/** An error's code or class name: safe for audit details and logs (never its message). */
function safeCode(e: unknown): string {
  if (!(e instanceof Error)) return 'error';
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(code) ? code : e.name;
}
