import type { Command } from 'commander';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { dirname, resolve } from 'node:path';
import { AppError } from '../core/errors.js';
import type { DetectionConfig } from '../detection/index.js';
import { progressBar } from './progress.js';
import { openInput, openPrivateOutput } from './files.js';
import { usage } from './output.js';

async function readConfig(path: string | undefined): Promise<DetectionConfig> {
  const { detectionConfigSchema } = await import('../detection/index.js');
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
  if (!r.success) {
    const { formatZodError } = await import('../registry/index.js');
    throw new AppError('invalid', 'detect.config_invalid', `detection config ${path}: ${formatZodError(r.error)}`);
  }
  return r.data;
}

const errnoOf = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? 'error';

/**
 * The path, once it is known to be a readable file (a FIFO or /dev/stdin is fine too), before
 * any replay starts: a directory would otherwise fail mid-stream with a bare EISDIR.
 */
function readable(path: string, what: string): string {
  if (path === '-') return path;
  const fail = (why: string): AppError => new AppError('invalid', 'cli.file_unreadable', `cannot read ${what} ${path}: ${why}`);
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
    accessSync(path, constants.R_OK);
  } catch (e) {
    throw fail(errnoOf(e));
  }
  if (isDir) throw fail('it is a directory, not a file');
  return path;
}

/**
 * Checks that the alerts file can be written, before the replay (which may take minutes)
 * rather than after it. Nothing is created or truncated here: a replay that fails on its
 * input leaves an earlier alerts file as it was.
 */
function writable(path: string, what: string): void {
  if (path === '-') return;
  const fail = (why: string): AppError => new AppError('invalid', 'cli.file_unwritable', `cannot write ${what} ${path}: ${why}`);
  const st = statSync(path, { throwIfNoEntry: false });
  if (st?.isDirectory()) throw fail('it is a directory, not a file');
  // The alerts file is made 0600 before it is written (it carries full identifiers); only its
  // owner (or root) can do that, so another user's file is refused now, not after the replay.
  const uid = process.getuid?.();
  if (st?.isFile() && uid !== undefined && uid !== 0 && st.uid !== uid) throw fail('it belongs to another user, so it cannot be made readable by its owner only (0600)');
  const target = st ? path : dirname(resolve(path));
  if (!st) {
    const dir = statSync(target, { throwIfNoEntry: false });
    if (!dir) throw fail(`directory ${target} does not exist`);
    if (!dir.isDirectory()) throw fail(`${target} is not a directory`);
  }
  try {
    accessSync(target, st ? constants.W_OK : constants.W_OK | constants.X_OK);
  } catch (e) {
    throw fail(st ? errnoOf(e) : `directory ${target}: ${errnoOf(e)}`);
  }
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
      // One stdin: the registry would read all of it and leave the events nothing.
      if (o.registry === '-' && o.events === '-') throw usage('--registry and --events cannot both be - (stdin): give at least one of them as a file');
      readable(o.registry, 'registry');
      readable(o.events, 'events');
      writable(o.alerts, 'alerts');
      // `--config` is also the global option: whichever of the two took it, it is the same file.
      const config = await readConfig(o.config ?? cmd.optsWithGlobals<{ config?: string }>().config);
      const size = o.events === '-' ? 0 : (statSync(o.events, { throwIfNoEntry: false })?.size ?? 0);
      const bar = progressBar(size, 'bytes');
      const onProgress = (bytes: number, events: number): void => bar.update(bytes, `${events} events`);
      // Files are replayed on a worker thread with a larger young generation (see
      // src/detection/replay-thread.ts); stdin in process. The same replay and engine either way.
      const { replay, replayFilesOnThread } = await import('../detection/index.js');
      const { alerts, summary } =
        o.events === '-' || o.registry === '-'
          ? await replay({ registry: openInput(o.registry, 'registry') as AsyncIterable<Buffer>, events: openInput(o.events, 'events') as AsyncIterable<Buffer>, config, onProgress })
          : await replayFilesOnThread({ registryPath: o.registry, eventsPath: o.events, config, onProgress });
      bar.stop();
      // Full IMSI/MSISDN (FORMATS.md §3): the file is its owner's only, even one that existed.
      const out = o.alerts === '-' ? process.stdout : openPrivateOutput(o.alerts, 'alerts');
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
