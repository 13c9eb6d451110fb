import type { Command } from 'commander';
import { once } from 'node:events';
import { statSync } from 'node:fs';
import { AppError } from '../core/errors.js';
import type { ExposureStore, ImpactResult, RiskPolicy } from '../subscribers/index.js';
import { actor, configFrom, withBase } from './context.js';
import { list, usage } from './output.js';
import { progressBar } from './progress.js';
import { openInput, openPrivateOutput } from './files.js';

interface Options {
  events?: string;
  cells?: string;
  alerts?: string;
  from?: string;
  to?: string;
  out: string;
  payments?: string;
  notification?: string;
  summary?: string;
  mask?: boolean;
  indexBehindOk?: boolean;
  indexWait: string;
}

/**
 * The exposure index is written by the running server a moment after events are stored (and
 * not at all while it is down, or while its index writes fail). Waits up to `waitMs` for
 * the index's cursor to reach the event log's last event; returns how many events it is still
 * behind (0 when caught up). An answer from an index that is behind may miss exposed subscribers.
 */
async function indexLag(store: ExposureStore, events: { lastSeq(): Promise<number> }, waitMs: number): Promise<number> {
  const target = await events.lastSeq();
  const until = Date.now() + waitMs;
  for (;;) {
    const behind = target - (await store.cursor());
    if (behind <= 0 || Date.now() >= until) return Math.max(0, behind);
    await new Promise((r) => setTimeout(r, 250));
  }
}


/**
 * Writes lines to a file (or stdout for `-`), respecting back-pressure. Exports name
 * subscribers: the file is its owner's only (0600), an existing one included.
 */
async function writeLines(path: string, what: string, lines: Iterable<string>): Promise<void> {
  const out = path === '-' ? process.stdout : openPrivateOutput(path, what);
  for (const l of lines) if (!out.write(l)) await once(out, 'drain');
  if (out !== process.stdout) {
    out.end();
    await once(out, 'finish');
  }
}

async function writeExports(o: Options, r: ImpactResult): Promise<void> {
  const { csvLine, notificationRow, notifications, paymentRow, subscriberRow, toJson, NOTIFICATION_HEADER, PAYMENTS_HEADER, SUBSCRIBERS_HEADER } = await import('../subscribers/index.js');
  await writeLines(o.out, 'subscribers export (--out)', [csvLine(SUBSCRIBERS_HEADER), ...r.subscribers.map(subscriberRow)]);
  if (o.payments) await writeLines(o.payments, 'payments export (--payments)', [csvLine(PAYMENTS_HEADER), ...r.payments.map(paymentRow)]);
  if (o.notification) {
    await writeLines(o.notification, 'notification export (--notification)', o.notification.endsWith('.json') ? [JSON.stringify(toJson(r, 'notification'), null, 2) + '\n'] : [csvLine(NOTIFICATION_HEADER), ...notifications(r).map(notificationRow)]);
  }
  if (o.summary) await writeLines(o.summary, 'summary (--summary)', [JSON.stringify(r.summary, null, 2) + '\n']);
}

function describe(r: ImpactResult): string {
  const s = r.summary;
  const amounts = Object.entries(s.payments.amountAtRisk).map(([c, n]) => `${n} ${c}`).join(', ') || 'none';
  return [
    `exposed subscribers: ${s.subscribers} (${s.attaches} attaches, ${s.imsWithoutIpsec} IMS registrations without IPsec)${s.uncertain ? `, ${s.uncertain} included without proof of an attach inside the window` : ''}`,
    ...s.perCell.map((c) => `  ${c.cellId}: ${c.subscribers} subscribers, ${c.attaches} attaches`),
    `payments by exposed subscribers after exposure: ${s.payments.total}, at risk: ${s.payments.atRisk} (amount at risk: ${amounts})`,
  ].join('\n');
}

/**
 * `femtoguard impact`: who was exposed to which cells, when, and which payments are at risk.
 * With --events it reads an events file (offline, streaming, exact to the millisecond);
 * without, it asks this data directory's exposure index (what the server has ingested).
 */
export function registerImpact(program: Command): void {
  program
    .command('impact')
    .description('breach impact analysis: exposed subscribers of cells, their payments at risk, exports for customer care and the regulator')
    .option('--events <file>', 'events NDJSON (- for stdin); without it, the exposure index of the data directory is used')
    .option('--cells <ids>', 'cells under analysis, comma-separated')
    .option('--alerts <file>', 'alerts NDJSON (as femtoguard detect writes it): the cells they flag')
    .option('--from <time>', 'window start (YYYY-MM-DD, RFC 3339, or epoch ms), inclusive')
    .option('--to <time>', 'window end, exclusive')
    .requiredOption('--out <file>', 'SUBSCRIBERS.csv (- for stdout)')
    .option('--payments <file>', 'PAYMENTS.csv: payments by exposed subscribers in the window, with the time since exposure')
    .option('--notification <file>', 'notification export for customer care (.json for JSON, CSV otherwise)')
    .option('--summary <file>', 'summary for the regulator (JSON): counts per cell and per day, amount at risk')
    .option('--mask', 'mask IMSI, MSISDN and IMEI in every export')
    .option('--index-behind-ok', 'answer from the exposure index even when it has not indexed every stored event (a warning, not an error)')
    .option('--index-wait <seconds>', 'how long to wait for the server to index the events already stored', '10')
    .action(async (o: Options, cmd: Command) => {
      const { cellsFromAlerts, impactFromEvents, impactFromStore, maskImpact, parseWindowTime } = await import('../subscribers/index.js');
      const cells = new Set(list(o.cells) ?? []);
      if (o.alerts) {
        const a = await cellsFromAlerts(openInput(o.alerts, 'alerts') as AsyncIterable<Buffer>);
        for (const r of a.rejected.slice(0, 20)) process.stderr.write(`alerts line ${r.line}: ${r.error}\n`);
        for (const c of a.cells.keys()) cells.add(c);
        process.stderr.write(`alerts: ${a.alerts} read, ${a.cells.size} cells flagged\n`);
      }
      if (!o.cells && !o.alerts) throw usage('name the cells: --cells ID,ID or --alerts ALERTS.ndjson');
      if (cells.size === 0) throw usage('no cells to analyse (the alerts flag none)');
      const config = await configFrom(cmd);
      let result: ImpactResult;
      if (o.events) {
        const from = o.from ? parseWindowTime(o.from, '--from') : -Infinity;
        const to = o.to ? parseWindowTime(o.to, '--to') : Infinity;
        if (to <= from) throw usage('--to must be after --from');
        const policy: RiskPolicy = { highWithinMs: config.detection.rules['payment-exposure'].lookbackMs, mediumWithinMs: 86_400_000 };
        const input = openInput(o.events, 'events') as AsyncIterable<Buffer>;
        const bar = progressBar(o.events === '-' ? 0 : (statSync(o.events, { throwIfNoEntry: false })?.size ?? 0), 'bytes');
        const { result: r, stats } = await impactFromEvents({
          events: input,
          cells: [...cells],
          from,
          to,
          policy,
          onProgress: (bytes, n) => bar.update(bytes, `${n} events`),
        });
        bar.stop();
        result = r;
        process.stderr.write(`events: ${stats.lines} lines, ${stats.accepted} accepted, ${stats.rejectedCount} rejected, ${stats.duplicates} duplicates\n`);
        for (const e of stats.rejected.slice(0, 20)) process.stderr.write(`  events line ${e.line}: ${e.error}\n`);
      } else {
        const { openExposureStore, retentionMs, riskPolicy } = await import('../app/subscribers.js');
        result = await withBase(cmd, async (base) => {
          const now = base.clock.now().getTime();
          const from = o.from ? parseWindowTime(o.from, '--from') : now - retentionMs(base);
          const to = o.to ? parseWindowTime(o.to, '--to') : now + 1;
          if (to <= from) throw usage('--to must be after --from');
          const store = openExposureStore(base);
          const wait = Number(o.indexWait);
          if (!Number.isFinite(wait) || wait < 0 || wait > 3600) throw usage('--index-wait must be a number of seconds from 0 to 3600');
          const behind = await indexLag(store, base.stores.events, wait * 1000);
          if (behind > 0) {
            const why = `the exposure index is ${behind} events behind the event log (the server indexes them; is it running?): the list may miss exposed subscribers`;
            if (!o.indexBehindOk) throw new AppError('unavailable', 'subscribers.index_behind', `${why}. Start the server and run again, use --events with the events file, or pass --index-behind-ok`);
            process.stderr.write(`warning: ${why}\n`);
          }
          const r = await impactFromStore(store, { cells: [...cells], from, to }, riskPolicy(base));
          await base.stores.audit.record({ action: 'subscribers.impact_export', actor: actor(), outcome: 'success', details: { cells: cells.size, subscribers: r.subscribers.length, identifiers: o.mask ? 'masked' : 'full' } });
          return r;
        });
      }
      await writeExports(o, o.mask ? maskImpact(result) : result);
      process.stderr.write(describe(result) + '\n');
    });
}
