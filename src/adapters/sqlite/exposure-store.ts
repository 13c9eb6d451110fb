import type { FgEvent } from '../../events/index.js';
import { dayOf, pairKey, type ExposureBucket, type ExposureStore, type NumberLink, type PaymentRecord, type SubscriberRecord } from '../../subscribers/types.js';
import type { SqliteDb } from './database.js';

interface BucketRow {
  day: number;
  cell_id: string;
  imsi: string;
  first_attach: number | null;
  last_attach: number | null;
  attach_count: number;
  first_seen: number;
  last_seen: number;
  ims_count: number;
  ims_without_ipsec: number;
}

interface SubscriberRow {
  imsi: string;
  msisdn: string | null;
  imei: string | null;
  first_seen: number;
  last_seen: number;
  last_cell_id: string | null;
  /** the link's time (exposure_msisdn_links.since), when the row has a number */
  msisdn_since?: number | null;
}

const toBucket = (r: BucketRow): ExposureBucket => ({
  day: r.day,
  cellId: r.cell_id,
  imsi: r.imsi,
  firstAttach: r.first_attach,
  lastAttach: r.last_attach,
  attachCount: r.attach_count,
  firstSeen: r.first_seen,
  lastSeen: r.last_seen,
  imsCount: r.ims_count,
  imsWithoutIpsec: r.ims_without_ipsec,
});

/** `msisdnSince` only from queries that read the link (allSubscribers). */
const toSubscriber = (r: SubscriberRow): SubscriberRecord => ({
  imsi: r.imsi,
  msisdn: r.msisdn,
  ...(r.msisdn_since !== undefined ? { msisdnSince: r.msisdn_since } : {}),
  imei: r.imei,
  firstSeen: r.first_seen,
  lastSeen: r.last_seen,
  lastCellId: r.last_cell_id,
});

/** The days the index holds (see heldDays). */
export const DAY_RANGE_SQL = 'SELECT (SELECT min(day) FROM exposure_buckets) AS lo, (SELECT max(day) FROM exposure_buckets) AS hi';

const PAYMENT_COLS = 'tx_id AS txId, msisdn, t, amount_minor AS amountMinor, currency, method, merchant';
const CURSOR_KEY = 'cursor:exposure';
/** SQLite's default limit on host parameters is 32766; stay well below it. */
const IN_CHUNK = 500;

function chunks<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

/**
 * The exposure index in SQLite (migration 4). Buckets are keyed (day, cell_id, imsi) so that
 * the day being written is always the right-hand end of the B-tree (live ingestion appends,
 * it does not scatter), and looked up one (day, cell) range at a time; the (day, imsi) index
 * answers "where was this subscriber" the same way. Merging a batch is one transaction with
 * prepared upserts, the cursor saved in it.
 */
export function sqliteExposureStore(db: SqliteDb): ExposureStore {
  // A day of buckets and its (day, imsi) index run to hundreds of MB at a national operator's
  // scale; with SQLite's default 2 MB page cache each batch re-reads them from the OS. 128 MiB
  // made batch writes 1.7x faster (bench/impact.ts). Per connection; never lowered here.
  if (Math.abs(Number(db.pragma('cache_size', { simple: true }))) < 131_072) db.pragma('cache_size = -131072');
  const upsertBucket = db.prepare(`
    INSERT INTO exposure_buckets (day, cell_id, imsi, first_attach, last_attach, attach_count, first_seen, last_seen, ims_count, ims_without_ipsec)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT(day, cell_id, imsi) DO UPDATE SET
      first_attach = min(coalesce(first_attach, excluded.first_attach), coalesce(excluded.first_attach, first_attach)),
      last_attach = max(coalesce(last_attach, excluded.last_attach), coalesce(excluded.last_attach, last_attach)),
      attach_count = attach_count + excluded.attach_count,
      first_seen = min(first_seen, excluded.first_seen),
      last_seen = max(last_seen, excluded.last_seen),
      ims_count = ims_count + excluded.ims_count,
      ims_without_ipsec = ims_without_ipsec + excluded.ims_without_ipsec`);
  // Column references on the right of SET are the row before the update: the newer of the
  // two observations decides the links, the older one only fills gaps.
  const upsertSubscriber = db.prepare(`
    INSERT INTO exposure_subscribers (imsi, msisdn, imei, first_seen, last_seen, last_cell_id) VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT(imsi) DO UPDATE SET
      msisdn = CASE WHEN excluded.last_seen >= last_seen THEN coalesce(excluded.msisdn, msisdn) ELSE coalesce(msisdn, excluded.msisdn) END,
      imei = CASE WHEN excluded.last_seen >= last_seen THEN coalesce(excluded.imei, imei) ELSE coalesce(imei, excluded.imei) END,
      last_cell_id = CASE WHEN excluded.last_seen >= last_seen THEN coalesce(excluded.last_cell_id, last_cell_id) ELSE last_cell_id END,
      first_seen = min(first_seen, excluded.first_seen),
      last_seen = max(last_seen, excluded.last_seen)`);
  // A number's links (migration 12): the earliest time an IMSI was seen with it is its link time.
  const upsertLink = db.prepare(`
    INSERT INTO exposure_msisdn_links (msisdn, imsi, since, last_seen) VALUES (?, ?, ?, ?)
    ON CONFLICT(msisdn, imsi) DO UPDATE SET since = min(since, excluded.since), last_seen = max(last_seen, excluded.last_seen)`);
  /** the number's newest link first; a second row says someone else held it too */
  const holders = db.prepare('SELECT imsi FROM exposure_msisdn_links WHERE msisdn = ? ORDER BY since DESC, imsi DESC LIMIT 2').pluck();
  const giveUp = db.prepare('UPDATE exposure_subscribers SET msisdn = NULL WHERE msisdn = ? AND imsi <> ?');
  // A holder that gave the number up to a link later found older (batches out of order) gets it back.
  const takeBack = db.prepare('UPDATE exposure_subscribers SET msisdn = ? WHERE imsi = ? AND msisdn IS NULL');
  const insertPayment = db.prepare('INSERT OR IGNORE INTO subscriber_payments (tx_id, msisdn, t, amount_minor, currency, method, merchant) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const setCursor = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
  const getCursor = db.prepare('SELECT value FROM meta WHERE key = ?').pluck();
  const cellDay = db.prepare('SELECT * FROM exposure_buckets WHERE day = ? AND cell_id = ? ORDER BY imsi');
  // Without statistics the planner would take the primary key on `day` alone and read the day.
  const imsiDay = db.prepare('SELECT * FROM exposure_buckets INDEXED BY exposure_buckets_imsi WHERE day = ? AND imsi = ?');
  // Both ends of the primary key's leading column: two index seeks. As two subqueries: SQLite
  // turns min() or max() into a seek only when the query has just one of them; with both in one
  // select it reads the whole index (seconds at 100 million attaches, on every lookup).
  const dayRange = db.prepare(DAY_RANGE_SQL);
  /**
   * [fromDay, toDay] cut to the days the index holds: the lookups go one day at a time (each an
   * index range), so a window of years (`from=0`) must not mean a query per empty day.
   */
  const heldDays = (fromDay: number, toDay: number): [number, number] => {
    const r = dayRange.get() as { lo: number | null; hi: number | null };
    if (r.lo === null || r.hi === null) return [1, 0];
    return [Math.max(fromDay, r.lo), Math.min(toDay, r.hi)];
  };
  const byMsisdn = db.prepare('SELECT * FROM exposure_subscribers WHERE msisdn = ? ORDER BY last_seen DESC LIMIT 1');
  // One primary-key seek per row for the link's time (the hot index gives a number to its newest link).
  const page = db.prepare(`
    SELECT s.*, l.since AS msisdn_since FROM exposure_subscribers s
    LEFT JOIN exposure_msisdn_links l ON l.msisdn = s.msisdn AND l.imsi = s.imsi
    WHERE s.imsi > ? ORDER BY s.imsi LIMIT ?`);

  /**
   * Records a subscriber and its number's link. A number belongs to one IMSI at a time, its
   * newest link: when this link or another one is newer, the other holders give the number up
   * (a recycled number must not lead to the subscriber who had it before). Only a number that
   * ever had two holders costs the update.
   */
  const writeSubscriber = (s: SubscriberRecord): void => {
    upsertSubscriber.run(s.imsi, s.msisdn, s.imei, s.firstSeen, s.lastSeen, s.lastCellId);
    if (!s.msisdn) return;
    upsertLink.run(s.msisdn, s.imsi, s.msisdnSince ?? s.firstSeen, s.lastSeen);
    const h = holders.all(s.msisdn) as string[];
    if (h.length < 2) return;
    giveUp.run(s.msisdn, h[0]);
    takeBack.run(s.msisdn, h[0]);
  };

  const applyTx = db.transaction((b: Parameters<ExposureStore['apply']>[0]) => {
    // ExposureAggregator hands buckets over in key order: the inserts append to the B-tree.
    for (const x of b.buckets) upsertBucket.run(x.day, x.cellId, x.imsi, x.firstAttach, x.lastAttach, x.attachCount, x.firstSeen, x.lastSeen, x.imsCount, x.imsWithoutIpsec);
    for (const s of b.subscribers) writeSubscriber(s);
    for (const p of b.payments) insertPayment.run(p.txId, p.msisdn, p.t, p.amountMinor, p.currency, p.method, p.merchant);
    if (b.cursor !== null) setCursor.run(CURSOR_KEY, String(b.cursor));
  });

  return {
    apply(batch) {
      applyTx.immediate(batch);
      return Promise.resolve();
    },
    cursor: () => Promise.resolve(Number((getCursor.get(CURSOR_KEY) as string | undefined) ?? 0)),
    cellBuckets(cellIds, fromDay, toDay) {
      const out: ExposureBucket[] = [];
      const cells = [...new Set(cellIds)].sort();
      const [lo, hi] = heldDays(fromDay, toDay);
      for (const c of cells) for (let d = lo; d <= hi; d++) for (const r of cellDay.all(d, c) as BucketRow[]) out.push(toBucket(r));
      return Promise.resolve(out);
    },
    subscriberBuckets(imsi, fromDay, toDay) {
      const out: ExposureBucket[] = [];
      const [lo, hi] = heldDays(fromDay, toDay);
      for (let d = lo; d <= hi; d++) for (const r of imsiDay.all(d, imsi) as BucketRow[]) out.push(toBucket(r));
      return Promise.resolve(out);
    },
    subscribers(imsis) {
      const out: SubscriberRecord[] = [];
      for (const part of chunks([...new Set(imsis)], IN_CHUNK)) {
        const rows = db.prepare(`SELECT * FROM exposure_subscribers WHERE imsi IN (${part.map(() => '?').join(',')})`).all(...part) as SubscriberRow[];
        for (const r of rows) out.push(toSubscriber(r));
      }
      return Promise.resolve(out);
    },
    subscriberByMsisdn(msisdn) {
      const r = byMsisdn.get(msisdn) as SubscriberRow | undefined;
      return Promise.resolve(r ? toSubscriber(r) : null);
    },
    async *allSubscribers(pageSize) {
      let after = '';
      for (;;) {
        const rows = page.all(after, pageSize) as SubscriberRow[];
        if (rows.length === 0) return;
        yield rows.map(toSubscriber);
        after = (rows[rows.length - 1] as SubscriberRow).imsi;
        if (rows.length < pageSize) return;
      }
    },
    numberLinks(imsis) {
      const out: NumberLink[] = [];
      for (const part of chunks([...new Set(imsis)], IN_CHUNK)) {
        const sql = `SELECT msisdn, imsi, since FROM exposure_msisdn_links WHERE msisdn IN (SELECT msisdn FROM exposure_msisdn_links WHERE imsi IN (${part.map(() => '?').join(',')}))`;
        out.push(...(db.prepare(sql).all(...part) as NumberLink[]));
      }
      // Chunks can share a number: once each.
      const seen = new Set<string>();
      return Promise.resolve(out.filter((l) => !seen.has(pairKey(l.imsi, l.msisdn)) && seen.add(pairKey(l.imsi, l.msisdn))));
    },
    payments(msisdns, from, to) {
      const out: PaymentRecord[] = [];
      for (const part of chunks([...new Set(msisdns)], IN_CHUNK)) {
        const rows = db.prepare(`SELECT ${PAYMENT_COLS} FROM subscriber_payments WHERE msisdn IN (${part.map(() => '?').join(',')}) AND t >= ? AND t < ?`).all(...part, from, to) as PaymentRecord[];
        out.push(...rows);
      }
      out.sort((a, b) => a.t - b.t || (a.txId < b.txId ? -1 : 1));
      return Promise.resolve(out);
    },
    attachTimes(cellIds, from, to) {
      // The log covers the window only if it still holds events from before it.
      const oldest = db.prepare('SELECT min(t) FROM events').pluck().get() as number | null;
      if (oldest === null || oldest > from) return Promise.resolve(null);
      const cells = new Set(cellIds);
      const out = new Map<string, number[]>();
      for (const r of db.prepare("SELECT body FROM events WHERE t >= ? AND t < ? AND type = 'ue.attach'").iterate(from, to) as Iterable<{ body: string }>) {
        const e = JSON.parse(r.body) as Extract<FgEvent, { type: 'ue.attach' }>;
        if (!cells.has(e.cellId)) continue;
        const k = pairKey(e.imsi, e.cellId);
        const l = out.get(k);
        if (l) l.push(e.t);
        else out.set(k, [e.t]);
      }
      return Promise.resolve(out);
    },
    prune(before) {
      return Promise.resolve(
        db.transaction(() => {
          // Number links go with the subscribers (not counted apart).
          db.prepare('DELETE FROM exposure_msisdn_links WHERE last_seen < ?').run(before);
          return {
            // A bucket of day d holds observations up to the end of d.
            buckets: db.prepare('DELETE FROM exposure_buckets WHERE day < ?').run(dayOf(before)).changes,
            subscribers: db.prepare('DELETE FROM exposure_subscribers WHERE last_seen < ?').run(before).changes,
            payments: db.prepare('DELETE FROM subscriber_payments WHERE t < ?').run(before).changes,
          };
        })(),
      );
    },
    counts: () =>
      Promise.resolve({
        buckets: db.prepare('SELECT count(*) FROM exposure_buckets').pluck().get() as number,
        subscribers: db.prepare('SELECT count(*) FROM exposure_subscribers').pluck().get() as number,
        payments: db.prepare('SELECT count(*) FROM subscriber_payments').pluck().get() as number,
      }),
  };
}
