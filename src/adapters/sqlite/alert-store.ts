import { SEVERITY_RANK, type Alert } from '../../detection/alerts.js';
import type { AlertFilter, AlertStore, PaymentHold, PaymentHoldStore, StoredAlert, UpsertedAlert } from '../../detection/store.js';
import { formatEventTime, parseEventTime } from '../../events/index.js';
import type { SqliteDb } from './database.js';

interface Row {
  id: string;
  rule: Alert['rule'];
  severity: Alert['severity'];
  serial: string | null;
  cell_id: string | null;
  imsi: string | null;
  msisdn: string | null;
  tx_id: string | null;
  ts: string;
  first_seen: string;
  last_seen: string;
  count: number;
  summary: string;
  evidence: string;
  status: StoredAlert['status'];
  status_by: string | null;
  status_note: string | null;
  updated_at: string;
  responded_at: string | null;
}

/** A severity's rank in SQL (`SEVERITY_RANK`: low < medium < high < critical), for the column of `table`. */
const rankOf = (table: string): string => `CASE ${table}.severity WHEN 'low' THEN 0 WHEN 'medium' THEN 1 WHEN 'high' THEN 2 ELSE 3 END`;

function toAlert(r: Row): StoredAlert {
  return {
    id: r.id,
    ts: r.ts,
    rule: r.rule,
    severity: r.severity,
    ...(r.serial !== null ? { serial: r.serial } : {}),
    ...(r.cell_id !== null ? { cellId: r.cell_id } : {}),
    ...(r.imsi !== null ? { imsi: r.imsi } : {}),
    ...(r.msisdn !== null ? { msisdn: r.msisdn } : {}),
    ...(r.tx_id !== null ? { txId: r.tx_id } : {}),
    summary: r.summary,
    evidence: JSON.parse(r.evidence) as Record<string, unknown>,
    count: r.count,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    status: r.status,
    statusBy: r.status_by,
    statusNote: r.status_note,
    updatedAt: r.updated_at,
    respondedAt: r.responded_at,
  };
}

/** Who and why, on an alert a finding reopened (AlertStore.upsert). */
const REOPENED_BY = 'system:detection';
const REOPENED_NOTE = 'raised again after it was resolved';

export function sqliteAlertStore(db: SqliteDb): AlertStore {
  // The store folds by itself (AlertStore.upsert): one statement, so a finding is added whole
  // or not at all. SQLite evaluates every SET expression against the row as it was, so the
  // three CASEs see the stored severity, not the one just written. RETURNING gives the row
  // as the statement left it.
  const higher = `${rankOf('excluded')} > ${rankOf('alerts')}`;
  // A finding on a resolved alert reopens it: the operator closed that incident, and this is a
  // new one (the device came back, the clone again). Its responses are due again (respondedAt
  // cleared): an operator who lifted a quarantine and resolved the alert has not switched
  // automatic quarantine off for that device for good. Acknowledged alerts stay acknowledged.
  const resolved = `alerts.status = 'resolved'`;
  const REOPEN = [
    `status = CASE WHEN ${resolved} THEN 'open' ELSE alerts.status END`,
    `status_by = CASE WHEN ${resolved} THEN '${REOPENED_BY}' ELSE alerts.status_by END`,
    `status_note = CASE WHEN ${resolved} THEN '${REOPENED_NOTE}' ELSE alerts.status_note END`,
    `responded_at = CASE WHEN ${resolved} THEN NULL ELSE alerts.responded_at END`,
  ].join(',\n      ');
  const upsert = db.prepare(`
    INSERT INTO alerts (id, rule, severity, serial, cell_id, imsi, msisdn, tx_id, ts, first_seen, last_seen, count, summary, evidence, updated_at)
    VALUES (@id, @rule, @severity, @serial, @cellId, @imsi, @msisdn, @txId, @ts, @firstSeen, @lastSeen, 1, @summary, @evidence, @at)
    ON CONFLICT(id) DO UPDATE SET count = alerts.count + 1,
      first_seen = min(alerts.first_seen, excluded.first_seen), last_seen = max(alerts.last_seen, excluded.last_seen),
      severity = CASE WHEN ${higher} THEN excluded.severity ELSE alerts.severity END,
      summary = CASE WHEN ${higher} THEN excluded.summary ELSE alerts.summary END,
      evidence = CASE WHEN ${higher} THEN excluded.evidence ELSE alerts.evidence END,
      ${REOPEN},
      updated_at = excluded.updated_at
    RETURNING *`);
  const getOne = db.prepare('SELECT * FROM alerts WHERE id = ?');
  const responded = db.prepare('UPDATE alerts SET responded_at = ? WHERE id = ? AND responded_at IS NULL');
  const stateOf = db.prepare('SELECT severity, status FROM alerts WHERE id = ?');
  // Read before and write in one transaction: no other connection (the CLI shares the file)
  // can slip a write between them, so isNew and severityBefore describe the row this write folded into.
  const fold = db.transaction((a: Alert, at: string): UpsertedAlert => {
    const before = stateOf.get(a.id) as { severity: Alert['severity']; status: string } | undefined;
    const row = upsert.get({
      id: a.id,
      rule: a.rule,
      severity: a.severity,
      serial: a.serial ?? null,
      cellId: a.cellId ?? null,
      imsi: a.imsi ?? null,
      msisdn: a.msisdn ?? null,
      txId: a.txId ?? null,
      ts: a.ts,
      firstSeen: a.firstSeen,
      lastSeen: a.lastSeen,
      summary: a.summary,
      evidence: JSON.stringify(a.evidence),
      at,
    }) as Row;
    return { alert: toAlert(row), isNew: before === undefined, severityBefore: before === undefined ? -1 : SEVERITY_RANK[before.severity], reopened: before?.status === 'resolved' };
  });
  return {
    upsert(a, at) {
      // IMMEDIATE takes the write lock before the read, so the read cannot go stale. A failed
      // write (busy, disk full) rejects; the transaction has been rolled back.
      try {
        return Promise.resolve(fold.immediate(a, at));
      } catch (e) {
        return Promise.reject(e as Error);
      }
    },
    markResponded(id, at) {
      // Only the first run is recorded; an id with a time already (or none at all) changes nothing.
      responded.run(at, id);
      return Promise.resolve(getOne.get(id) !== undefined);
    },
    get(id) {
      const r = getOne.get(id) as Row | undefined;
      return Promise.resolve(r ? toAlert(r) : null);
    },
    list(f: AlertFilter) {
      const where: string[] = [];
      const args: unknown[] = [];
      if (f.rule) (where.push('rule = ?'), args.push(f.rule));
      if (f.minSeverity) (where.push(`${rankOf('alerts')} >= ?`), args.push({ low: 0, medium: 1, high: 2, critical: 3 }[f.minSeverity]));
      if (f.status) (where.push('status = ?'), args.push(f.status));
      if (f.serial) (where.push('serial = ?'), args.push(f.serial));
      if (f.cellId) (where.push('cell_id = ?'), args.push(f.cellId));
      // `ts` is stored as UTC (toISOString), so text order is time order once `since` is UTC
      // too: `…T19:00:00+09:00` is compared as `…T10:00:00.000Z`, not as the text it was sent as.
      if (f.since) {
        const since = parseEventTime(f.since);
        if (Number.isNaN(since)) return Promise.reject(new RangeError(`AlertFilter.since is not an RFC 3339 time: ${f.since.slice(0, 40)}`));
        where.push('ts >= ?');
        args.push(formatEventTime(since));
      }
      if (f.before) {
        // An unknown cursor ends the listing: starting again at page 1 would loop a client forever.
        const b = getOne.get(f.before) as Row | undefined;
        if (!b) return Promise.resolve([]);
        where.push('(ts < ? OR (ts = ? AND id > ?))');
        args.push(b.ts, b.ts, b.id);
      }
      const rows = db.prepare(`SELECT * FROM alerts ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY ts DESC, id LIMIT ?`).all(...args, Math.min(f.limit ?? 100, 10_000)) as Row[];
      return Promise.resolve(rows.map(toAlert));
    },
    setStatus(id, status, by, note, at) {
      const r = db.prepare('UPDATE alerts SET status = ?, status_by = ?, status_note = ?, updated_at = ? WHERE id = ?').run(status, by, note, at, id);
      if (r.changes === 0) return Promise.resolve(null);
      return Promise.resolve(toAlert(getOne.get(id) as Row));
    },
  };
}

const HOLD_COLS = 'tx_id AS txId, msisdn, alert_id AS alertId, status, held_at AS heldAt, released_at AS releasedAt, released_by AS releasedBy, reason';

export function sqlitePaymentHoldStore(db: SqliteDb): PaymentHoldStore {
  const get = db.prepare(`SELECT ${HOLD_COLS} FROM payment_holds WHERE tx_id = ?`);
  return {
    hold: (h) => Promise.resolve(db.prepare("INSERT OR IGNORE INTO payment_holds (tx_id, msisdn, alert_id, status, held_at) VALUES (?, ?, ?, 'held', ?)").run(h.txId, h.msisdn, h.alertId, h.at).changes === 1),
    release(txId, by, reason, at) {
      const r = db.prepare("UPDATE payment_holds SET status = 'released', released_at = ?, released_by = ?, reason = ? WHERE tx_id = ? AND status = 'held'").run(at, by, reason, txId);
      if (r.changes === 0) return Promise.resolve(null);
      return Promise.resolve(get.get(txId) as PaymentHold);
    },
    get: (txId) => Promise.resolve((get.get(txId) as PaymentHold | undefined) ?? null),
    list: (status, limit = 1000) =>
      Promise.resolve((status ? db.prepare(`SELECT ${HOLD_COLS} FROM payment_holds WHERE status = ? ORDER BY held_at DESC LIMIT ?`).all(status, limit) : db.prepare(`SELECT ${HOLD_COLS} FROM payment_holds ORDER BY held_at DESC LIMIT ?`).all(limit)) as PaymentHold[]),
  };
}
