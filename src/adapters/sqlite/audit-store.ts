import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { ChainVerifier, type AuditEvent, type AuditEventInput, type AuditFilter, type AuditStore, type VerifyOptions } from '../../audit-log/index.js';
import { AppError } from '../../core/errors.js';
import { auditAppender, auditRowsPage } from './audit-chain.js';
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

/** Events read per page when the chain is verified (about 10 ms of work each). */
const VERIFY_PAGE = 2000;

export function sqliteAuditStore(db: SqliteDb): AuditStore {
  const append = auditAppender(db);
  const page = auditRowsPage(db);
  let verifying = false;
  const write = db.transaction((e: AuditEventInput) => {
    append({ at: (e.at ?? new Date()).toISOString(), actor: e.actor, action: e.action, subject: e.subject ?? null, outcome: e.outcome, details: e.details ? JSON.stringify(e.details) : null });
  });
  return {
    record(e: AuditEventInput): Promise<void> {
      write.immediate(e);
      return Promise.resolve();
    },
    async verify(opts?: VerifyOptions) {
      // The whole log, read in pages with the event loop free between them (a long log takes
      // seconds: OCSP, EST and check-ins must go on meanwhile), and one verification at a time.
      if (verifying) throw new AppError('conflict', 'audit.verify_running', 'a verification of the audit log is running; try again when it has finished');
      verifying = true;
      try {
        const v = new ChainVerifier(opts);
        for (let after = 0; ; ) {
          const rows = page(after, VERIFY_PAGE);
          for (const r of rows) v.add(r);
          if (rows.length < VERIFY_PAGE) break;
          after = (rows[rows.length - 1] as { id: number }).id;
          await yieldToLoop();
        }
        return v.report();
      } finally {
        verifying = false;
      }
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
