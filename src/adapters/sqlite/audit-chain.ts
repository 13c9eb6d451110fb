/**
 * Appending to the audit log's hash chain (audit-log/chain.ts) in SQLite. Every writer of
 * `audit_events` goes through `auditAppender`, inside an IMMEDIATE transaction: the write
 * lock is taken before the last event is read, so two processes on one data directory (the
 * server and the CLI) never link two events to the same predecessor.
 */
import { CHAIN_GENESIS, chainHash, wellFormed, type ChainedRow } from '../../audit-log/index.js';
import type { SqliteDb } from './database.js';

/** An event to append: its fields as stored (`details` is JSON text, hashed as stored). */
export type AuditRowInput = Omit<ChainedRow, 'id' | 'prevHash' | 'hash'>;

/** Appends one event after the newest; call it inside an immediate transaction. */
export function auditAppender(db: SqliteDb): (e: AuditRowInput) => void {
  const last = db.prepare('SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1');
  const insert = db.prepare('INSERT INTO audit_events (id, at, actor, action, subject, outcome, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
  return (e) => {
    const before = last.get() as { id: number; hash: string | null } | undefined;
    const id = (before?.id ?? 0) + 1;
    // An event before it without a hash was written around the chain: verification names it;
    // this one links to the genesis rather than fail the write (the log must take events).
    const prev = before?.hash ?? CHAIN_GENESIS;
    // Hashed as it will be stored (a lone surrogate is stored as U+FFFD).
    const r = { id, at: wellFormed(e.at), actor: wellFormed(e.actor), action: wellFormed(e.action), subject: e.subject === null ? null : wellFormed(e.subject), outcome: wellFormed(e.outcome), details: e.details === null ? null : wellFormed(e.details) };
    insert.run(id, r.at, r.actor, r.action, r.subject, r.outcome, r.details, prev, chainHash(prev, r));
  };
}

/** Events in id order after `afterId`, at most `limit` (the chain is read in pages). */
export function auditRowsPage(db: SqliteDb): (afterId: number, limit: number) => ChainedRow[] {
  const page = db.prepare('SELECT id, at, actor, action, subject, outcome, details, prev_hash AS prevHash, hash FROM audit_events WHERE id > ? ORDER BY id LIMIT ?');
  return (afterId, limit) => page.all(afterId, limit) as ChainedRow[];
}

/** Chains the events stored before the chain existed (migration 10), oldest first. */
export function chainExistingAuditEvents(db: SqliteDb): void {
  const set = db.prepare('UPDATE audit_events SET prev_hash = ?, hash = ? WHERE id = ?');
  // In pages: a statement being iterated cannot share the connection with the updates.
  const page = auditRowsPage(db);
  let prev = CHAIN_GENESIS;
  for (let after = 0; ; ) {
    const rows = page(after, 10_000);
    if (rows.length === 0) return;
    for (const r of rows) {
      const hash = chainHash(prev, r);
      set.run(prev, hash, r.id);
      prev = hash;
    }
    after = (rows[rows.length - 1] as { id: number }).id;
  }
}
