import type { EventStore, FgEvent, StoredEvent } from '../../events/index.js';
import type { SqliteDb } from './database.js';

export function sqliteEventStore(db: SqliteDb): EventStore {
  const insert = db.prepare('INSERT OR IGNORE INTO events (event_id, type, t, body) VALUES (?, ?, ?, ?)');
  const appendTx = db.transaction((events: readonly FgEvent[]) => {
    const stored: StoredEvent[] = [];
    const duplicateAt: number[] = [];
    for (let i = 0; i < events.length; i++) {
      const e = events[i] as FgEvent;
      const r = insert.run(e.id ?? null, e.type, e.t, JSON.stringify(e));
      if (r.changes === 1) stored.push({ seq: Number(r.lastInsertRowid), event: e });
      else duplicateAt.push(i);
    }
    return { stored, duplicates: duplicateAt.length, duplicateAt };
  });
  const since = db.prepare('SELECT seq, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?');
  // Consumers save their cursor after every batch: prepared once, not per call.
  const putCursor = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
  return {
    // One transaction per batch: committed (WAL, synchronous=FULL) before the caller answers.
    append: (events) => Promise.resolve(appendTx.immediate(events)),
    readSince(afterSeq, limit) {
      const rows = since.all(afterSeq, limit) as { seq: number; body: string }[];
      return Promise.resolve(rows.map((r): StoredEvent => ({ seq: r.seq, event: JSON.parse(r.body) as FgEvent })));
    },
    firstSeqAtOrAfter(t) {
      const r = db.prepare('SELECT min(seq) FROM events WHERE t >= ?').pluck().get(t) as number | null;
      return Promise.resolve(r ?? Number.MAX_SAFE_INTEGER);
    },
    lastSeq: () => Promise.resolve((db.prepare('SELECT coalesce(max(seq), 0) FROM events').pluck().get() as number) ?? 0),
    prune: (before) => Promise.resolve(db.prepare('DELETE FROM events WHERE t < ?').run(before).changes),
    count: () => Promise.resolve(db.prepare('SELECT count(*) FROM events').pluck().get() as number),
    getCursor: (name) => Promise.resolve(Number((db.prepare('SELECT value FROM meta WHERE key = ?').pluck().get(`cursor:${name}`) as string | undefined) ?? 0)),
    setCursor(name, seq) {
      putCursor.run(`cursor:${name}`, String(seq));
      return Promise.resolve();
    },
  };
}
