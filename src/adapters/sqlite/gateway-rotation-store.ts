import type { GatewayRotationStore, RotationEpoch } from '../../admission/index.js';
import type { SqliteDb } from './database.js';

interface Row {
  seq: number;
  current: string;
  next: string;
  pool: string;
  started_at: string;
  rotates_at: string;
  actor: string;
  reason: string;
}

const toEpoch = (r: Row): RotationEpoch => ({
  seq: r.seq,
  current: r.current,
  next: r.next,
  pool: JSON.parse(r.pool) as string[],
  startedAt: r.started_at,
  rotatesAt: r.rotates_at,
  actor: r.actor,
  reason: r.reason,
});

/** Gateway rotation epochs in SQLite; `append` is a compare-and-set on the sequence number. */
export function sqliteGatewayRotationStore(db: SqliteDb): GatewayRotationStore {
  const latest = db.prepare('SELECT * FROM gateway_rotations ORDER BY seq DESC LIMIT 1');
  const recent = db.prepare('SELECT * FROM (SELECT * FROM gateway_rotations ORDER BY seq DESC LIMIT ?) ORDER BY seq');
  // The primary key makes the CAS: two writers after the same seq cannot both insert seq + 1.
  const insert = db.prepare(
    `INSERT OR IGNORE INTO gateway_rotations (seq, current, next, pool, started_at, rotates_at, actor, reason)
     SELECT @seq, @current, @next, @pool, @startedAt, @rotatesAt, @actor, @reason
     WHERE coalesce((SELECT max(seq) FROM gateway_rotations), 0) = @prev`,
  );
  return {
    latest() {
      const r = latest.get() as Row | undefined;
      return Promise.resolve(r ? toEpoch(r) : null);
    },
    recent(limit) {
      return Promise.resolve((recent.all(Math.max(1, limit)) as Row[]).map(toEpoch));
    },
    append(e, prevSeq) {
      const seq = prevSeq + 1;
      const r = insert.run({ ...e, pool: JSON.stringify(e.pool), seq, prev: prevSeq });
      return Promise.resolve(r.changes === 1 ? { ...e, seq } : null);
    },
  };
}
