import type { Command } from 'commander';
import { createWriteStream, readFileSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { AppError } from '../core/errors.js';
import { detectionConfigSchema, replay, replayFilesOnThread, type DetectionConfig } from '../detection/index.js';
import { formatZodError } from '../registry/index.js';
import { progressBar } from './progress.js';
import { openInput } from './files.js';

function readConfig(path: string | undefined): DetectionConfig {
  if (!path) return detectionConfigSchema.parse({});
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new AppError('invalid', 'detect.config_unreadable', `cannot read detection config ${path}: ${(e as Error).message}`);
  }
  // A full femtoguard config file carries the detection settings under "detection".
  const section = typeof raw === 'object' && raw !== null && 'detection' in raw ? (raw as { detection: unknown }).detection : raw;
  const r = detectionConfigSchema.safeParse(section);
  if (!r.success) throw new AppError('invalid', 'detect.config_invalid', `detection config ${path}: ${formatZodError(r.error)}`);
  return r.data;
}

/** The path, once it is known to be readable (the same error as openInput's, before the worker starts). */
function readable(path: string, what: string): string {
  (openInput(path, what) as unknown as { destroy(): void }).destroy();
  return path;
}

/**
 * `femtoguard detect`: offline replay of an event file through the same engine the server
 * runs. Alerts (FORMATS.md §3) go to --alerts, one per line; the summary goes to stderr.
 */
export function registerDetect(program: Command): void {
  program
    .command('detect')
    .description('replay events through the detection engine and write alerts (NDJSON)')
    .requiredOption('--registry <file>', 'fleet registry CSV')
    .requiredOption('--events <file>', 'events NDJSON, or - for stdin')
    .requiredOption('--alerts <file>', 'where to write alerts NDJSON (- for stdout)')
    .option('--config <file>', 'detection thresholds (JSON; a femtoguard config file with a "detection" section works too)')
    .option('--json', 'print the summary as JSON on stderr')
    .action(async (o: { registry: string; events: string; alerts: string; config?: string; json?: boolean }, cmd: Command) => {
      // `--config` is also the global option: whichever of the two took it, it is the same file.
      const config = readConfig(o.config ?? cmd.optsWithGlobals<{ config?: string }>().config);
      const size = o.events === '-' ? 0 : (statSync(o.events, { throwIfNoEntry: false })?.size ?? 0);
      const bar = progressBar(size, 'bytes');
      const onProgress = (bytes: number, events: number): void => bar.update(bytes, `${events} events`);
      // Files are replayed on a worker thread with a larger young generation (see
      // src/detection/replay-thread.ts); stdin in process. The same replay and engine either way.
      const { alerts, summary } =
        o.events === '-' || o.registry === '-'
          ? await replay({ registry: openInput(o.registry, 'registry') as AsyncIterable<Buffer>, events: openInput(o.events, 'events') as AsyncIterable<Buffer>, config, onProgress })
          : await replayFilesOnThread({ registryPath: readable(o.registry, 'registry'), eventsPath: readable(o.events, 'events'), config, onProgress });
      bar.stop();
      const out = o.alerts === '-' ? process.stdout : createWriteStream(o.alerts);
      for (const a of alerts) {
        if (!out.write(JSON.stringify(a) + '\n')) await once(out, 'drain');
      }
      if (out !== process.stdout) {
        out.end();
        await once(out, 'finish');
      }
      if (o.json) {
        process.stderr.write(JSON.stringify(summary) + '\n');
        return;
      }
      const e = summary.events;
      const lines = [
        `registry: ${summary.registry.devices} devices${summary.registry.rejected.length ? `, ${summary.registry.rejected.length} rows rejected` : ''}`,
        ...summary.registry.rejected.map((r) => `  registry line ${r.line}: ${r.error}`),
        `events: ${e.lines} lines, ${e.accepted} accepted, ${e.rejectedCount} rejected, ${Object.values(e.unknownTypes).reduce((a, b) => a + b, 0)} of unknown type, ${e.duplicates} duplicates, ${e.late} late, ${e.tooOld} too old (dropped)`,
        ...e.rejected.map((r) => `  events line ${r.line}: ${r.error}`),
        ...Object.entries(e.unknownTypes).map(([t, n]) => `  unknown type ${t}: ${n}`),
        `alerts: ${summary.alerts.total} (${Object.entries(summary.alerts.bySeverity).map(([s, n]) => `${n} ${s}`).join(', ') || 'none'})`,
        ...Object.entries(summary.alerts.byRule).map(([r, n]) => `  ${r}: ${n}`),
      ];
      process.stderr.write(lines.join('\n') + '\n');
    });
}
