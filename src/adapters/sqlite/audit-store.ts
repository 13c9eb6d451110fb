import { verifyChain, type AuditEvent, type AuditEventInput, type AuditFilter, type AuditStore, type VerifyOptions } from '../../audit-log/index.js';
import { auditAppender, auditRows } from './audit-chain.js';
import type { SqliteDb } from './database.js';

interface Row {
  id: number;
  at: string;
  actor: string;
  action: string;
  subject: string | null;
  outcome: AuditEvent['outcome'];
  details: string | null;
  hash: string | null;
}

export function sqliteAuditStore(db: SqliteDb): AuditStore {
  const append = auditAppender(db);
  const write = db.transaction((e: AuditEventInput) => {
    append({ at: (e.at ?? new Date()).toISOString(), actor: e.actor, action: e.action, subject: e.subject ?? null, outcome: e.outcome, details: e.details ? JSON.stringify(e.details) : null });
  });
  return {
    record(e: AuditEventInput): Promise<void> {
      write.immediate(e);
      return Promise.resolve();
    },
    verify(opts?: VerifyOptions) {
      return Promise.resolve(verifyChain(auditRows(db), opts));
    },
    count: () => Promise.resolve((db.prepare('SELECT COUNT(*) AS n FROM audit_events').get() as { n: number }).n),
    list(f: AuditFilter): Promise<AuditEvent[]> {
      const where: string[] = [];
      const args: unknown[] = [];
      if (f.action) {
        where.push(f.action.endsWith('*') ? 'action LIKE ?' : 'action = ?');
        args.push(f.action.endsWith('*') ? `${f.action.slice(0, -1)}%` : f.action);
      }
      if (f.subject) (where.push('subject = ?'), args.push(f.subject));
      if (f.outcome) (where.push('outcome = ?'), args.push(f.outcome));
      if (f.afterId !== undefined) (where.push('id > ?'), args.push(f.afterId));
      if (f.beforeId !== undefined) (where.push('id < ?'), args.push(f.beforeId));
      // Newest first, except after a cursor: then the events that follow it, oldest first, so a
      // follower paging forward with the last id it read misses none.
      const order = f.afterId !== undefined ? 'ASC' : 'DESC';
      const sql = `SELECT id, at, actor, action, subject, outcome, details, hash FROM audit_events ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id ${order} LIMIT ?`;
      args.push(Math.min(f.limit ?? 100, 10_000));
      const rows = db.prepare(sql).all(...args) as Row[];
      return Promise.resolve(rows.map((r) => ({ ...r, details: r.details ? (JSON.parse(r.details) as Record<string, unknown>) : null })));
    },
  };
}
