import type { NewOutboxJob, OutboxJob, WebhookOutbox } from '../../detection/index.js';
import type { SqliteDb } from './database.js';

interface Row {
  id: number;
  target: string;
  body: string;
  alert_id: string;
  attempt: number;
  next_at: number;
}

const toJob = (r: Row): OutboxJob => ({ id: r.id, target: r.target, body: r.body, alertId: r.alert_id, attempt: r.attempt, nextAt: r.next_at });

/**
 * The webhook outbox in the `webhook_outbox` table (migration 7). An enqueue is one
 * transaction: the inserts and the trim to `maxQueue` land together, committed with
 * `synchronous=FULL` before `enqueue` returns.
 */
export function sqliteWebhookOutbox(db: SqliteDb): WebhookOutbox {
  const insert = db.prepare('INSERT INTO webhook_outbox (target, body, alert_id, attempt, next_at, created_at) VALUES (?, ?, ?, 0, ?, ?)');
  const countOf = db.prepare('SELECT count(*) FROM webhook_outbox WHERE target = ?').pluck();
  const trim = db.prepare('DELETE FROM webhook_outbox WHERE id IN (SELECT id FROM webhook_outbox WHERE target = ? ORDER BY id LIMIT ?) RETURNING *');
  const headOf = db.prepare('SELECT * FROM webhook_outbox WHERE target = ? ORDER BY id LIMIT 1');
  const removeOne = db.prepare('DELETE FROM webhook_outbox WHERE id = ?');
  const retry = db.prepare('UPDATE webhook_outbox SET attempt = ?, next_at = ?, last_error = ? WHERE id = ?');
  const perTarget = db.prepare('SELECT target, count(*) AS n FROM webhook_outbox GROUP BY target');

  const enqueueAll = db.transaction((jobs: readonly NewOutboxJob[], now: number, maxQueue: number): OutboxJob[] => {
    const at = new Date(now).toISOString();
    for (const j of jobs) insert.run(j.target, j.body, j.alertId, now, at);
    const dropped: OutboxJob[] = [];
    for (const target of new Set(jobs.map((j) => j.target))) {
      const excess = (countOf.get(target) as number) - maxQueue;
      if (excess > 0) dropped.push(...(trim.all(target, excess) as Row[]).map(toJob));
    }
    return dropped.sort((a, b) => a.id - b.id);
  });

  return {
    enqueue: (jobs, now, maxQueue) => (jobs.length ? enqueueAll.immediate(jobs, now, maxQueue) : []),
    head(target) {
      const r = headOf.get(target) as Row | undefined;
      return r ? toJob(r) : undefined;
    },
    remove(id) {
      removeOne.run(id);
    },
    retryLater(id, attempt, nextAt, error) {
      retry.run(attempt, nextAt, error, id);
    },
    pendingByTarget: () => new Map((perTarget.all() as { target: string; n: number }[]).map((r) => [r.target, r.n])),
  };
}
