import type { Command } from 'commander';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError } from '../core/errors.js';
import type { Truth } from '../sim/index.js';
import { SCENARIOS, type ScenarioName } from './choices.js';
import { list, printResult, usage } from './output.js';
import { progressBar } from './progress.js';

function intOption(v: string, name: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw usage(`--${name} must be an integer from ${min} to ${max}`);
  return n;
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new AppError('invalid', 'cli.file_unreadable', `cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** The `imsi` column of an impact CSV (as `femtoguard impact` exports it). */
async function readImpactImsis(path: string): Promise<string[]> {
  const { readCsvText } = await import('../registry/index.js');
  const records = readCsvText(readText(path, 'impact CSV'));
  const header = records[0];
  if (!header || 'error' in header) throw usage(`impact CSV ${path}: no header row`);
  const col = header.fields.findIndex((f) => f.trim().toLowerCase() === 'imsi');
  if (col < 0) throw usage(`impact CSV ${path}: no imsi column`);
  const out: string[] = [];
  for (const r of records.slice(1)) {
    if ('error' in r) throw usage(`impact CSV ${path}, line ${r.line}: ${r.error}`);
    const v = r.fields[col]?.trim();
    if (v) out.push(v);
  }
  return out;
}

function readTruth(path: string): Truth {
  let t: unknown;
  try {
    t = JSON.parse(readText(path, 'truth'));
  } catch (e) {
    if (e instanceof AppError) throw e;
    throw usage(`truth ${path}: not valid JSON`);
  }
  const o = t as Partial<Truth>;
  if (typeof o !== 'object' || o === null || !Array.isArray(o.rogues) || !Array.isArray(o.fraudTx) || !Array.isArray(o.benignSerials) || !Array.isArray(o.benignCellIds) || typeof o.exposedImsis !== 'object') {
    throw usage(`truth ${path}: expected rogues, fraudTx, exposedImsis, benignSerials and benignCellIds`);
  }
  return o as Truth;
}

/**
 * `femtoguard simulate`: a synthetic fleet and its event stream in the FORMATS.md contract,
 * with attacks injected and the ground truth written beside them (docs/simulator.md), written
 * to files or, with `--target`, played live against a running server (src/sim/live);
 * `femtoguard simulate score`: a detector's alerts against that truth.
 */
export function registerSimulate(program: Command): void {
  const sim = program
    .command('simulate')
    .description('generate a seeded synthetic fleet, its events and the ground truth (registry.csv, events.ndjson, truth.json), or play them live against a server (--target)')
    .option('--out <dir>', 'output directory (file mode)')
    .option('--seed <n>', 'seed: same seed and options give the same bytes', '1')
    .option('--devices <n>', 'registered femtocells', '300')
    .option('--days <d>', 'simulated days (live mode: 0.5 unless given)', '2')
    .option('--scenarios <list>', `attacks to inject, comma-separated (${SCENARIOS.join(', ')}), or "none"`, SCENARIOS.join(','))
    .option('--target <url>', 'live mode: the API URL of a running server (docs/simulator.md)')
    .option('--est <url>', 'live mode: the server\'s TLS listener (EST, check-in); default https://<target host>:8443')
    .option('--speed <x>', 'live mode: simulated seconds per second', '60')
    .option('--token <token>', 'live mode: an admin API token (or FEMTOGUARD_TOKEN)')
    .option('--json', 'print the result summary as JSON')
    .action(async (o: { out?: string; seed: string; devices: string; days: string; scenarios: string; speed: string; target?: string; est?: string; token?: string; json?: boolean }, cmd: Command) => {
      const live = o.target !== undefined;
      if (!live && cmd.getOptionValueSource('speed') === 'cli') throw usage('--speed is for live mode (--target URL)');
      if (!live && !o.out) throw usage('simulate needs --out DIR, or --target URL for live mode (or the subcommand "score")');
      const seed = intOption(o.seed, 'seed', 0, 2 ** 32 - 1);
      const devices = intOption(o.devices, 'devices', 20, live ? 20_000 : 1_000_000);
      // Live mode replays in wall-clock time: half a day by default (12 min at 60x).
      const days = live && cmd.getOptionValueSource('days') === 'default' ? 0.5 : Number(o.days);
      if (!Number.isFinite(days) || days <= 0 || days > 365) throw usage('--days must be a number of days from 0 to 365');
      const names = o.scenarios.trim() === 'none' ? [] : (list(o.scenarios) ?? []);
      const unknown = names.filter((n) => !(SCENARIOS as readonly string[]).includes(n));
      if (unknown.length) throw usage(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.join(', ')}`);
      const { generate, liveUrls, runLive, serverReport } = await import('../sim/index.js');
      if (live) {
        const speed = Number(o.speed);
        if (!Number.isFinite(speed) || speed < 1 || speed > 100_000) throw usage('--speed must be a number from 1 to 100000');
        const token = o.token ?? process.env.FEMTOGUARD_TOKEN;
        if (!token) throw usage('live mode needs an admin API token: --token T or FEMTOGUARD_TOKEN');
        const target = o.target as string;
        liveUrls(target, o.est); // a bad URL is a usage error before anything is written
        const { formatLive, plainObserver } = await import('./simulate-live.js');
        const dir = o.out ?? mkdtempSync(join(tmpdir(), 'fg-sim-live-'));
        // Ctrl-C stops the replay; what was played is still reported.
        const ac = new AbortController();
        const onSigint = (): void => ac.abort();
        process.once('SIGINT', onSigint);
        let summary;
        try {
          summary = await runLive({ target, ...(o.est !== undefined ? { est: o.est } : {}), token, speed, devices, days, seed, scenarios: names as ScenarioName[], dir, signal: ac.signal }, plainObserver((l) => process.stderr.write(l + '\n')));
        } catch (e) {
          if (o.out === undefined) rmSync(dir, { recursive: true, force: true });
          throw e;
        } finally {
          process.removeListener('SIGINT', onSigint);
        }
        const report = await serverReport(target, token, summary.truth);
        const { truth: _t, ...rest } = summary;
        printResult(o.json === true, { ...rest, server: { alerts: report.alerts.length, bySeverity: report.bySeverity, held: report.held.length, fraudHeld: report.fraudHeld, impact: report.impactImsis.length }, score: report.score }, () => formatLive(summary, report));
        return;
      }
      if (!o.out) throw usage('simulate needs --out DIR');
      const bar = progressBar(Math.round(days * 24), 'simulated hours');
      const r = generate({
        dir: o.out,
        seed,
        devices,
        days,
        scenarios: names as ScenarioName[],
        onProgress: (done, _span, lines) => bar.update(Math.floor(done / 3_600_000), `${lines} lines`),
      });
      bar.stop();
      const summary = {
        registry: r.registryPath,
        events: r.eventsPath,
        truth: r.truthPath,
        devices: r.devices,
        lines: r.lines,
        bytes: r.bytes,
        spanHours: r.spanHours,
        rogues: r.truth.rogues,
        fraudTx: r.truth.counts.fraudTx,
        exposed: r.truth.counts.exposed,
      };
      printResult(o.json === true, summary, () =>
        [
          `${r.devices} devices, ${r.lines} events over ${r.spanHours.toFixed(1)} h (seed ${seed}) -> ${r.registryPath}, ${r.eventsPath}, ${r.truthPath}`,
          ...r.truth.rogues.map((g) => `  ${g.name}: ${g.serials.join(' ')} ${g.cellIds.length} cell(s) from ${g.start}`),
          `  ${r.truth.counts.exposed} subscribers exposed, ${r.truth.counts.fraudTx} fraudulent payments`,
        ].join('\n'),
      );
    });

  sim
    .command('score')
    .description('score alerts (NDJSON) against a simulator ground truth: detection, false positives, payments, impact')
    .requiredOption('--truth <file>', 'truth.json written by femtoguard simulate')
    .requiredOption('--alerts <file>', 'alerts NDJSON (femtoguard detect --alerts)')
    .option('--impact <file>', 'impact CSV with an imsi column, checked against the exposed subscribers')
    .option('--json', 'print the report as JSON')
    .action(async (o: { truth: string; alerts: string; impact?: string; json?: boolean }, cmd: Command) => {
      const { formatScore, parseAlerts, score } = await import('../sim/index.js');
      // `--json` is also an option of `simulate` itself, which takes it when given after the subcommand.
      const json = o.json === true || cmd.optsWithGlobals<{ json?: boolean }>().json === true;
      const truth = readTruth(o.truth);
      const { alerts, skipped } = parseAlerts(readText(o.alerts, 'alerts'));
      const report = score(truth, alerts, o.impact !== undefined ? await readImpactImsis(o.impact) : undefined);
      printResult(json, { ...report, alertsRead: alerts.length, linesSkipped: skipped }, () => `${alerts.length} alerts read${skipped ? `, ${skipped} lines skipped` : ''}\n${formatScore(report)}`);
    });
}
