import type { AuditSink } from '../audit-log/index.js';
import type { Clock } from '../core/clock.js';
import { AppError, notFound } from '../core/errors.js';
import { readCsv } from './csv.js';
import { applyDevicePatch, createCsvRowMapper, type DeviceInput, type DeviceStatus } from './device-input.js';
import { assertTransition, canTransition, REVOKING_STATUSES } from './lifecycle.js';
import type { Device, DeviceFilter, DeviceStore, DeviceWrite, StatusChange } from './store.js';

/**
 * Port owned by the registry: what must happen to a device's credentials when its status
 * changes (the PKI implements it: revoke on lost/decommissioned, hold on suspended,
 * release the hold on reactivation). Returns how many certificates changed.
 */
export interface CredentialRevoker {
  applyStatus(serial: string, from: DeviceStatus | null, to: DeviceStatus, actor: string): Promise<number>;
}

export interface ImportRowError {
  line: number;
  message: string;
}

export interface ImportResult {
  rows: number;
  inserted: number;
  updated: number;
  unchanged: number;
  statusChanges: number;
  certificatesRevoked: number;
  errors: ImportRowError[];
}

export interface ImportProgress {
  (rowsDone: number, bytesRead: number): void;
}

export interface RegistryDeps {
  store: DeviceStore;
  revoker: CredentialRevoker;
  audit: AuditSink;
  clock: Clock;
}

const BATCH = 2000;
/** At most this many row errors are kept in a result; the count is still exact. */
const MAX_REPORTED_ERRORS = 10_000;
/** refused status changes named in the import's audit event (the count is exact) */
const MAX_AUDITED_REFUSALS = 100;

export type Registry = ReturnType<typeof createRegistry>;

/** The fleet registry: devices, their lifecycle, and bulk import. */
export function createRegistry(deps: RegistryDeps) {
  const { store, revoker, audit, clock } = deps;

  async function mustGet(serial: string): Promise<Device> {
    const d = await store.get(serial);
    if (!d) throw notFound('device.not_found', `no device with serial ${serial}`, { serial });
    return d;
  }

  async function afterStatusChange(c: StatusChange): Promise<number> {
    await audit.record({ action: 'device.status_changed', actor: c.actor, subject: c.serial, outcome: 'success', details: { from: c.from, to: c.to, reason: c.reason } });
    return applyCredentials(c);
  }

  /**
   * Applies the status to the device's certificates. The status is already committed when
   * this runs (a separate store), so a failure here must not vanish: it is audited, and the
   * caller hears that the status stands but revocation is pending. The PKI's reconcile step
   * (src/pki/reconcile.ts, run at server start and periodically) revokes what was missed,
   * and repeating the same status change re-runs it at once (see setStatus).
   */
  async function applyCredentials(c: StatusChange): Promise<number> {
    try {
      return await revoker.applyStatus(c.serial, c.from, c.to, c.actor);
    } catch (e) {
      await audit
        .record({ action: 'cert.revocation_failed', actor: c.actor, subject: c.serial, outcome: 'failure', details: { status: c.to, code: errorCode(e) } })
        .catch(() => undefined);
      throw new AppError('unavailable', 'device.revocation_pending', `device ${c.serial} is now ${c.to} but applying that to its certificates failed; repeat the status change or let the reconcile step retry`, { serial: c.serial, status: c.to }, { cause: e });
    }
  }

  /**
   * The same revoking status again: re-runs the revocation (a retry after a failed one).
   * Returns null when nothing was left to revoke, so the caller refuses the no-op as before.
   */
  async function reapply(cur: Device, actor: string, reason: string): Promise<{ device: Device; certificatesChanged: number } | null> {
    const change: StatusChange = { serial: cur.serial, from: cur.status, to: cur.status, actor, reason, at: clock.now().toISOString() };
    const certificatesChanged = await applyCredentials(change);
    if (certificatesChanged === 0) return null;
    await audit.record({ action: 'device.status_reapplied', actor, subject: cur.serial, outcome: 'success', details: { status: cur.status, reason, certificates: certificatesChanged } });
    return { device: cur, certificatesChanged };
  }

  return {
    get: (serial: string): Promise<Device | null> => store.get(serial),
    mustGet,
    list: (filter: DeviceFilter): Promise<Device[]> => store.list(filter),
    count: (filter: Omit<DeviceFilter, 'after' | 'limit'>): Promise<number> => store.count(filter),
    history: (serial: string): Promise<StatusChange[]> => store.history(serial),

    async add(input: DeviceInput, actor: string, reason = 'added'): Promise<Device> {
      const at = clock.now().toISOString();
      if (await store.get(input.serial)) throw new AppError('conflict', 'device.exists', `device ${input.serial} already exists`, { serial: input.serial });
      const change: StatusChange = { serial: input.serial, from: null, to: input.status, actor, reason, at };
      await store.write([{ kind: 'insert', device: input, change }], at);
      await audit.record({ action: 'device.added', actor, subject: input.serial, outcome: 'success', details: { status: input.status } });
      return mustGet(input.serial);
    },

    /** Updates data fields (not status: that goes through setStatus). */
    async update(serial: string, patch: Partial<Omit<DeviceInput, 'serial' | 'status'>>, actor: string): Promise<Device> {
      const cur = await mustGet(serial);
      const next: DeviceInput = { ...applyDevicePatch(cur, patch), serial, status: cur.status };
      const at = clock.now().toISOString();
      await store.write([{ kind: 'update', device: next, change: null }], at);
      await audit.record({ action: 'device.updated', actor, subject: serial, outcome: 'success', details: { fields: Object.keys(patch) } });
      return mustGet(serial);
    },

    /**
     * A lifecycle transition, enforced, recorded, and applied to the device's certificates.
     * Asking again for the status a device already has is refused, except for a status that
     * revokes (suspended, lost, decommissioned) while certificates are still valid: then the
     * revocation runs again, so a retry after a failed revocation works.
     */
    async setStatus(serial: string, to: DeviceStatus, actor: string, reason: string): Promise<{ device: Device; certificatesChanged: number }> {
      const cur = await mustGet(serial);
      if (cur.status === to && REVOKING_STATUSES[to] !== undefined) {
        const redone = await reapply(cur, actor, reason);
        if (redone) return redone;
      }
      try {
        assertTransition(serial, cur.status, to);
      } catch (e) {
        await audit.record({ action: 'device.status_change_refused', actor, subject: serial, outcome: 'denied', details: { from: cur.status, to, reason } });
        throw e;
      }
      const change = { serial, from: cur.status, to, actor, reason, at: clock.now().toISOString() };
      const device = await store.setStatus(change);
      if (!device) throw new AppError('conflict', 'device.concurrent_change', `device ${serial} changed status concurrently; retry`, { serial });
      const certificatesChanged = await afterStatusChange(change);
      return { device, certificatesChanged };
    },

    /**
     * Bulk import of registry CSV (FORMATS.md §2). Each bad row is reported with its line
     * number and nothing from it is stored; the other rows are imported. Existing devices
     * are updated; a status change on import obeys the lifecycle like any other.
     */
    async importCsv(input: AsyncIterable<Buffer | string>, actor: string, onProgress?: ImportProgress): Promise<ImportResult> {
      const result: ImportResult = { rows: 0, inserted: 0, updated: 0, unchanged: 0, statusChanges: 0, certificatesRevoked: 0, errors: [] };
      let errorCount = 0;
      /** status changes the lifecycle refused (serial:from>to), for the audit event; the count is exact */
      const refusedChanges: string[] = [];
      let refusedCount = 0;
      const addError = (line: number, message: string): void => {
        errorCount++;
        if (result.errors.length < MAX_REPORTED_ERRORS) result.errors.push({ line, message });
      };
      let mapper: ReturnType<typeof createCsvRowMapper> | null = null;
      let pending: { line: number; device: DeviceInput }[] = [];
      let bytes = 0;
      const counted = (async function* () {
        for await (const chunk of input) {
          bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
          yield chunk;
        }
      })();

      const flush = async (): Promise<void> => {
        if (pending.length === 0) return;
        const batch = pending;
        pending = [];
        const at = clock.now().toISOString();
        const existing = await store.getMany(batch.map((r) => r.device.serial));
        const writes: DeviceWrite[] = [];
        const seen = new Map<string, number>();
        for (const { line, device } of batch) {
          const first = seen.get(device.serial);
          if (first !== undefined) {
            addError(line, `serial ${device.serial} appears again (first at line ${first}); row skipped`);
            continue;
          }
          seen.set(device.serial, line);
          const cur = existing.get(device.serial);
          if (!cur) {
            writes.push({ kind: 'insert', device, change: { serial: device.serial, from: null, to: device.status, actor, reason: 'import', at } });
            result.inserted++;
            continue;
          }
          if (cur.status !== device.status && !canTransition(cur.status, device.status)) {
            addError(line, `device ${device.serial} cannot go from ${cur.status} to ${device.status}; row skipped`);
            // A refused status change is a security decision: named in the import's audit event.
            if (refusedChanges.length < MAX_AUDITED_REFUSALS) refusedChanges.push(`${device.serial}:${cur.status}>${device.status}`);
            refusedCount++;
            continue;
          }
          if (sameDevice(cur, device)) {
            result.unchanged++;
            continue;
          }
          const change = cur.status !== device.status ? { serial: device.serial, from: cur.status, to: device.status, actor, reason: 'import', at } : null;
          writes.push({ kind: 'update', device, change });
          result.updated++;
        }
        const { conflicts } = await store.write(writes, at);
        // A row whose device changed status since it was read (another process) is not written:
        // the file was judged against a status that no longer holds.
        const conflicted = new Set(conflicts);
        for (const serial of conflicts) {
          result.updated--;
          addError(seen.get(serial) ?? 0, `device ${serial} changed status while the file was imported; row skipped (import it again)`);
        }
        // One failed revocation must not skip the rows after it: each is tried, and a failure
        // is reported on its line (the status stands; reconcile retries the certificates).
        for (const w of writes) {
          if (w.kind !== 'update' || !w.change || conflicted.has(w.device.serial)) continue;
          result.statusChanges++;
          try {
            result.certificatesRevoked += await afterStatusChange(w.change);
          } catch (e) {
            addError(seen.get(w.device.serial) ?? 0, `device ${w.device.serial} is now ${w.change.to} but revoking its certificates failed (${errorCode(e)}); the reconcile step retries it`);
          }
        }
        onProgress?.(result.rows, bytes);
      };

      for await (const rec of readCsv(counted)) {
        if ('error' in rec) {
          if (mapper) result.rows++;
          addError(rec.line, rec.error);
          continue;
        }
        if (!mapper) {
          mapper = createCsvRowMapper(rec.fields);
          continue;
        }
        result.rows++;
        const m = mapper.map(rec.fields, rec.line);
        if (m.ok) pending.push({ line: rec.line, device: m.device });
        else addError(m.line, m.errors.map((e) => e.replace(/^line \d+: /, '')).join('; '));
        if (pending.length >= BATCH) await flush();
      }
      if (!mapper) throw new AppError('invalid', 'registry.csv_empty', 'the CSV has no header row');
      await flush();
      if (errorCount > result.errors.length) result.errors.push({ line: 0, message: `${errorCount - result.errors.length} more row errors not listed` });
      await audit.record({
        action: 'device.imported',
        actor,
        outcome: errorCount ? 'failure' : 'success',
        details: { rows: result.rows, inserted: result.inserted, updated: result.updated, errors: errorCount, statusChangesRefused: refusedCount, refused: refusedChanges },
      });
      return result;
    },

    /** First successful enrollment moves `provisioned` to `active`. */
    async markEnrolled(serial: string, actor: string): Promise<void> {
      const cur = await mustGet(serial);
      if (cur.status !== 'provisioned') return;
      const change = { serial, from: cur.status, to: 'active' as const, actor, reason: 'first enrollment', at: clock.now().toISOString() };
      if (await store.setStatus(change)) {
        await audit.record({ action: 'device.status_changed', actor, subject: serial, outcome: 'success', details: { from: 'provisioned', to: 'active', reason: change.reason } });
      }
    },
  };
}

/** A safe label for an error in audit details and row messages: its code, never its text. */
function errorCode(e: unknown): string {
  if (e instanceof AppError) return e.code === 'device.revocation_pending' && e.cause !== undefined ? errorCode(e.cause) : e.code;
  if (!(e instanceof Error)) return 'error';
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(code) ? code : e.name;
}

function sameDevice(a: DeviceInput, b: DeviceInput): boolean {
  return (
    a.status === b.status &&
    a.siteLat === b.siteLat &&
    a.siteLon === b.siteLon &&
    a.siteRadiusM === b.siteRadiusM &&
    a.owner === b.owner &&
    sameList(a.cellIds, b.cellIds) &&
    sameList(a.ipPrefixes, b.ipPrefixes) &&
    sameList(a.expectedNeighbors, b.expectedNeighbors) &&
    sameList(a.certFingerprints, b.certFingerprints)
  );
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
