import type { DecisionFilter, DecisionStore, DecisionWrite } from '../../admission/index.js';
import type { RecordedDecision } from '../../admission/index.js';
import { auditAppender } from './audit-chain.js';
import type { SqliteDb } from './database.js';

interface Row {
  id: string;
  at: string;
  kind: RecordedDecision['kind'];
  serial: string | null;
  claimed_serial: string | null;
  decision: RecordedDecision['decision'];
  reason: string | null;
  source_ip: string;
  endpoint: string | null;
  cert_fingerprint: string | null;
  stale_since: string | null;
  reasons: string;
  duration_us: number;
  cpu_us: number;
}

const toDecision = (r: Row): RecordedDecision => ({
  id: r.id,
  at: r.at,
  kind: r.kind,
  serial: r.serial,
  ...(r.claimed_serial !== null ? { claimedSerial: r.claimed_serial } : {}),
  decision: r.decision,
  reason: r.reason,
  sourceIp: r.source_ip,
  endpoint: r.endpoint,
  certFingerprint: r.cert_fingerprint,
  staleSince: r.stale_since,
  reasons: JSON.parse(r.reasons) as RecordedDecision['reasons'],
  durationUs: r.duration_us,
  cpuUs: r.cpu_us,
});

/**
 * Decision records in SQLite. Each record's audit event (`admission.admit` /
 * `admission.deny`) goes into `audit_events` in the same transaction: a decision is never
 * stored without its audit trail or the other way round, and a batch costs one fsync.
 */
export function sqliteDecisionStore(db: SqliteDb): DecisionStore {
  const insert = db.prepare(
    `INSERT INTO admission_decisions (id, at, kind, serial, claimed_serial, decision, reason, source_ip, endpoint, cert_fingerprint, stale_since, reasons, duration_us, cpu_us)
     VALUES (@id, @at, @kind, @serial, @claimedSerial, @decision, @reason, @sourceIp, @endpoint, @certFingerprint, @staleSince, @reasons, @durationUs, @cpuUs)`,
  );
  const audit = auditAppender(db);
  const getOne = db.prepare('SELECT * FROM admission_decisions WHERE id = ?');
  const writeAll = db.transaction((writes: readonly DecisionWrite[]) => {
    for (const { decision: d, actor } of writes) {
      insert.run({
        id: d.id,
        at: d.at,
        kind: d.kind,
        serial: d.serial,
        claimedSerial: d.claimedSerial ?? null,
        decision: d.decision,
        reason: d.reason,
        sourceIp: d.sourceIp,
        endpoint: d.endpoint,
        certFingerprint: d.certFingerprint,
        staleSince: d.staleSince,
        reasons: JSON.stringify(d.reasons),
        durationUs: d.durationUs,
        cpuUs: d.cpuUs,
      });
      const failed = d.reasons.filter((r) => !r.ok).map((r) => ({ code: r.code, enforce: r.enforce, detail: r.detail }));
      const details = { decisionId: d.id, kind: d.kind, reason: d.reason, failed, sourceIp: d.sourceIp, endpoint: d.endpoint, certFingerprint: d.certFingerprint, ...(d.claimedSerial ? { claimedSerial: d.claimedSerial } : {}) };
      audit({ at: d.at, actor, action: d.decision === 'admit' ? 'admission.admit' : 'admission.deny', subject: d.serial, outcome: d.decision === 'admit' ? 'success' : 'denied', details: JSON.stringify(details) });
    }
  });
  return {
    record(writes) {
      if (writes.length) writeAll.immediate(writes);
      return Promise.resolve();
    },
    get(id) {
      const r = getOne.get(id) as Row | undefined;
      return Promise.resolve(r ? toDecision(r) : null);
    },
    list(f: DecisionFilter) {
      const where: string[] = [];
      const args: unknown[] = [];
      // The claimed serial too: a client that presented another device's certificate is recorded under that device.
      if (f.serial) (where.push('(serial = ? OR claimed_serial = ?)'), args.push(f.serial, f.serial));
      if (f.decision) (where.push('decision = ?'), args.push(f.decision));
      if (f.since) (where.push('at >= ?'), args.push(f.since));
      args.push(Math.min(Math.max(f.limit ?? 100, 1), 10_000));
      const rows = db.prepare(`SELECT * FROM admission_decisions ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at DESC, rowid DESC LIMIT ?`).all(...args) as Row[];
      return Promise.resolve(rows.map(toDecision));
    },
  };
}
