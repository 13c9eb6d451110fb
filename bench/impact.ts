/**
 * Breach impact analysis at scale: 100 million `ue.attach` events over 30 days, from
 * half a million subscribers on 50,000 cells (about 6.7 attaches and tracking-area updates
 * a subscriber a day, at home, at work and now and then elsewhere), folded into the exposure index by the same
 * aggregator and SQLite adapter as the live server; then "who was on these 20 cells in the
 * last 30 days" (the impact analysis, identifiers and payments included). Target: under 2 s.
 *
 * Reported beside, from the same run and the same data:
 *   - ingestion: events per second folded and written (batches of about two million events), and the rate of the
 *     live server's own batch size (20,000 events per flush) on top of the full index;
 *   - the baseline: the same question answered by scanning the bucket table (no index use),
 *     i.e. SQLite's raw scan rate over the data.
 * The result is checked against the generator's ground truth (every subscriber it sent to
 * one of the 20 cells, nobody else).
 *
 *   npm run bench:impact [-- --events 100000000 --subscribers 500000 --cells 50000 --days 30 --keep]
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openSqlite } from '../src/adapters/sqlite/index.js';
import { sqliteExposureStore } from '../src/adapters/sqlite/exposure-store.js';
import type { PaymentAuthEvent, UeAttachEvent } from '../src/events/index.js';
import { ExposureAggregator, impactFromStore } from '../src/subscribers/index.js';

const { values: opts } = parseArgs({
  options: {
    events: { type: 'string', default: '100000000' },
    subscribers: { type: 'string', default: '500000' },
    cells: { type: 'string', default: '50000' },
    days: { type: 'string', default: '30' },
    keep: { type: 'boolean', default: false },
  },
});
const EVENTS = Number(opts.events);
const SUBS = Number(opts.subscribers);
const CELLS = Number(opts.cells);
const DAYS = Number(opts.days);
const DAY = 86_400_000;
const TARGETS = 20;
/** Strangers drawn by each target cell per day (a rogue cell's crowd, as in the incident). */
const STRANGERS_PER_DAY = 40;
const policy = { highWithinMs: 2 * 3_600_000, mediumWithinMs: DAY };

/** A small fast PRNG (xorshift32), so a run is reproducible. */
let seed = 0x2545f491;
const rnd = (): number => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 4_294_967_296;
};
const seconds = (t: number): number => (performance.now() - t) / 1000;
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

const dir = mkdtempSync(join(tmpdir(), 'fg-bench-impact-'));
const dbPath = join(dir, 'femtoguard.db');
try {
  const imsis = Array.from({ length: SUBS }, (_, i) => String(450_080_000_000_000 + i));
  const msisdns = Array.from({ length: SUBS }, (_, i) => `+8210${String(i).padStart(8, '0')}`);
  const cellIds = Array.from({ length: CELLS }, (_, i) => `45008-1${String(i).padStart(8, '0')}`);
  const home = Uint32Array.from({ length: SUBS }, () => Math.floor(rnd() * CELLS));
  const work = Uint32Array.from({ length: SUBS }, () => Math.floor(rnd() * CELLS));
  // The 20 cells under analysis: femtocells that served strangers (rogue), not anyone's home.
  const targets = Array.from({ length: TARGETS }, (_, i) => `45008-3${String(i).padStart(8, '0')}`);
  const exposed = new Set<number>();
  const start = Date.UTC(2025, 6, 6);
  const end = start + DAYS * DAY;

  const db = openSqlite(dbPath);
  const store = sqliteExposureStore(db);
  const agg = new ExposureAggregator();
  const e: UeAttachEvent = { type: 'ue.attach', ts: 0, t: 0, cellId: '', imsi: '' };
  const p: PaymentAuthEvent = { type: 'payment.auth', ts: 0, t: 0, txId: '', msisdn: '', amountMinor: 0, currency: 'KRW' };
  let foldS = 0;
  let writeS = 0;
  let sent = 0;
  let payments = 0;
  console.log(`generating ${fmt(EVENTS)} attach events: ${fmt(SUBS)} subscribers, ${fmt(CELLS)} cells, ${DAYS} days; ${TARGETS} target cells with ${STRANGERS_PER_DAY} strangers a day each`);
  const t0 = performance.now();
  const mean = EVENTS / (DAYS * SUBS);
  const emit = (i: number, t: number, cell: string, k: number, d: number): void => {
    e.t = t;
    e.ts = t;
    e.cellId = cell;
    e.imsi = imsis[i] as string;
    e.msisdn = k % 2 === 0 ? (msisdns[i] as string) : undefined;
    agg.attach(e);
    sent++;
    // Carrier billing: one payment per 100 attaches, ten minutes after.
    if (sent % 100 === 0) {
      p.t = t + 600_000;
      p.ts = p.t;
      p.txId = `tx${d}-${sent}`;
      p.msisdn = msisdns[i] as string;
      p.amountMinor = 1000 * (1 + (sent % 50));
      agg.payment(p);
      payments++;
    }
  };
  let t = performance.now();
  const write = async (): Promise<void> => {
    foldS += seconds(t);
    t = performance.now();
    await store.apply(agg.take(null));
    writeS += seconds(t);
    t = performance.now();
  };
  for (let d = 0; d < DAYS; d++) {
    const dayStart = start + d * DAY;
    // The rogue cells' crowds: strangers passing by, one to three attaches each.
    for (let c = 0; c < TARGETS; c++) {
      for (let s = 0; s < STRANGERS_PER_DAY; s++) {
        const i = Math.floor(rnd() * SUBS);
        exposed.add(i);
        const at = dayStart + Math.floor(rnd() * DAY);
        for (let k = 0, n = 1 + Math.floor(rnd() * 3); k < n; k++) emit(i, at + k * 60_000, targets[c] as string, k, d);
      }
    }
    // Everyone else's day: attaches and tracking-area updates at home, at work, now and then
    // elsewhere (the last day takes what is left to make the total exact).
    const last = d === DAYS - 1;
    for (let i = 0; i < SUBS; i++) {
      // Batches of about two million events, as a server catching up would write them.
      if (agg.pending >= 2_000_000) await write();
      let n = Math.floor(mean) + (rnd() < mean - Math.floor(mean) ? 1 : 0);
      if (last) n = i === SUBS - 1 ? Math.max(0, EVENTS - sent) : Math.min(n, Math.max(0, EVENTS - sent - (SUBS - 1 - i)));
      for (let k = 0; k < n; k++) {
        const r = rnd();
        emit(i, dayStart + Math.floor(rnd() * DAY), cellIds[r < 0.55 ? (home[i] as number) : r < 0.9 ? (work[i] as number) : Math.floor(rnd() * CELLS)] as string, k, d);
      }
    }
    await write();
    const total = seconds(t0);
    process.stdout.write(`\r  day ${d + 1}/${DAYS}: ${fmt(sent)} events, ${fmt(sent / total)} events/s overall (fold ${foldS.toFixed(0)} s, write ${writeS.toFixed(0)} s)   `);
  }
  const ingestS = seconds(t0);
  const counts = await store.counts();
  process.stdout.write('\n');
  console.log(`index: ${fmt(counts.buckets)} buckets (${(sent / counts.buckets).toFixed(1)} events per bucket), ${fmt(counts.subscribers)} subscribers, ${fmt(counts.payments)} payments; database ${(statSync(dbPath).size / 2 ** 30).toFixed(1)} GiB`);

  // The live server's batch size, on top of the full index: 20 batches of 20,000 events.
  let liveN = 0;
  t = performance.now();
  for (let b = 0; b < 20; b++) {
    for (let k = 0; k < 20_000; k++) {
      const i = Math.floor(rnd() * SUBS);
      e.t = end - DAY + Math.floor(rnd() * DAY);
      e.ts = e.t;
      e.cellId = cellIds[home[i] as number] as string;
      e.imsi = imsis[i] as string;
      e.msisdn = msisdns[i];
      agg.attach(e);
      liveN++;
    }
    await store.apply(agg.take(null));
  }
  const liveRate = liveN / seconds(t);

  // The question: who was on the 20 cells over the 30 days (twice: first, then warm).
  const query = { cells: targets, from: start, to: end };
  t = performance.now();
  const r1 = await impactFromStore(store, query, policy);
  const coldS = seconds(t);
  t = performance.now();
  const r2 = await impactFromStore(store, query, policy);
  const warmS = seconds(t);
  // The index part alone (the buckets of the 20 cells), to set beside the scan.
  t = performance.now();
  const lookedUp = await store.cellBuckets(targets, Math.floor(start / DAY), Math.floor((end - 1) / DAY));
  const lookupS = seconds(t);
  const got = new Set(r2.subscribers.map((s) => Number(s.imsi) - 450_080_000_000_000));
  const exact = got.size === exposed.size && [...exposed].every((i) => got.has(i)) && r1.subscribers.length === r2.subscribers.length;

  // Baseline: the same question by scanning the table.
  t = performance.now();
  const scan = db
    .prepare(`SELECT count(*) AS rows, count(DISTINCT imsi) AS subscribers FROM exposure_buckets NOT INDEXED WHERE cell_id IN (${targets.map(() => '?').join(',')}) AND attach_count > 0`)
    .get(...targets) as { rows: number; subscribers: number };
  const scanS = seconds(t);
  db.close();

  console.log(`\n| step | figure |\n|---|---|`);
  console.log(`| ingest ${fmt(EVENTS)} attach events (fold + write, batches of ~2 million) | ${ingestS.toFixed(0)} s, ${fmt(EVENTS / ingestS)} events/s (fold ${fmt(EVENTS / foldS)}/s, write ${fmt(counts.buckets / writeS)} buckets/s) |`);
  console.log(`| live batch size (20,000 events per flush) on the full index | ${fmt(liveRate)} events/s |`);
  console.log(`| impact: ${TARGETS} cells x ${DAYS} days, first run | ${coldS.toFixed(2)} s |`);
  console.log(`| impact: same, again | ${warmS.toFixed(2)} s |`);
  console.log(`| of which the index lookup (${fmt(lookedUp.length)} buckets of the 20 cells) | ${(lookupS * 1000).toFixed(0)} ms |`);
  console.log(`| baseline: the same buckets by a table scan | ${scanS.toFixed(1)} s (${fmt(counts.buckets / scanS)} rows/s) |`);
  console.log(`| baseline: a scan of ${fmt(EVENTS)} raw attach rows at that rate (extrapolated) | ${((EVENTS / counts.buckets) * scanS).toFixed(1)} s |`);
  console.log(`\nexposed subscribers ${fmt(r2.subscribers.length)} (ground truth ${fmt(exposed.size)}, scan ${fmt(scan.subscribers)}): ${exact && scan.subscribers === exposed.size ? 'exact' : 'MISMATCH'}; payments by them after exposure ${fmt(r2.summary.payments.total)}, at risk ${fmt(r2.summary.payments.atRisk)}`);
  console.log(`target < 2 s: ${Math.max(coldS, warmS) < 2 ? 'MET' : 'NOT MET'} (index lookup ${(scanS / lookupS).toFixed(0)}x faster than the scan); ${fmt(payments)} payments generated; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  if (!exact) process.exitCode = 1;
} finally {
  if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  else console.log(`kept ${dir}`);
}
