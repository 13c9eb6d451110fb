/**
 * `femtoguard detect` over files runs the replay (the same `replay`, the same engine) on a
 * worker thread, for one reason: the worker's heap can be given a larger young generation
 * than the main thread's default, and the engine's allocation pattern needs one.
 *
 * Every event waits in the reorder buffer for 10 minutes of event time (about 22,000 events
 * of a 20,000-cell fleet, tens of MB as parsed JSON). With V8's default semi-space (16 MiB)
 * each event outlives two scavenges and is promoted to the old generation, where it dies and
 * must be found by a full mark-compact: garbage collection was 15% of the replay. With a
 * 64 MiB semi-space an event is copied once and dies young (measured on 1M events of the
 * benchmark: 10% less CPU; 128 MiB gained nothing more and cost 100 MiB of RSS). The old
 * generation's growth is capped too (see below). The main thread only relays progress.
 *
 * stdin (`-`) stays in process: a worker cannot read the parent's stdin directly.
 */
import { createReadStream } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { AppError, type ErrorKind } from '../core/errors.js';
import type { Alert } from './alerts.js';
import type { DetectionConfig } from './config.js';
import { replay, type ReplaySummary } from './replay.js';

/** Semi-space of 64 MiB: V8 sizes the young generation at three semi-spaces. */
const YOUNG_GENERATION_MB = 3 * 64;
const HEAP_GROWING_PERCENT = 50;

interface Job {
  /** marks this module's own worker (the module is also imported on the main thread) */
  fgReplayThread: true;
  registryPath: string;
  eventsPath: string;
  config: DetectionConfig;
}

type Message =
  | { kind: 'progress'; bytes: number; events: number }
  | { kind: 'done'; alerts: Alert[]; summary: ReplaySummary }
  /** an AppError (bad registry header, ...) crosses the thread as its fields: the CLI maps it to exit 2 as in process */
  | { kind: 'failed'; error: { kind: ErrorKind; code: string; message: string; details: Record<string, unknown> | undefined } };

const open = (path: string): AsyncIterable<Buffer> => createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>;

/** Replays two files on a worker thread; same result as `replay` over the same inputs. */
export function replayFilesOnThread(job: Omit<Job, 'fgReplayThread'> & { onProgress?: (bytes: number, events: number) => void }): Promise<{ alerts: Alert[]; summary: ReplaySummary }> {
  const { onProgress, ...rest } = job;
  const data: Job = { ...rest, fgReplayThread: true };
  // Under tsx (tests, benchmarks from source) this module is the .ts file; compiled, the .js one.
  const self = new URL(import.meta.url);
  // The old generation may grow to 1.5x what survived the last full collection instead of
  // V8's default of up to 4x: peak RSS on the benchmark went from 1,056 to 636-654 MiB at the same
  // CPU time (with fewer promotions, full collections are rare either way). V8 reads this flag
  // when it sizes the heap after a collection; it is process-wide (femtoguard detect only).
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return new Promise((resolve, reject) => {
    // From source (tests and benchmarks run the CLI under tsx) the worker must load TypeScript:
    // tsx's hooks do not follow into worker threads, so the worker registers them first.
    const boot = self.pathname.endsWith('.ts') ? `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => m.register()).then(() => import(${JSON.stringify(self.href)}))` : `import(${JSON.stringify(self.href)})`;
    const w = new Worker(boot, { eval: true, workerData: data, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } });
    let result: { alerts: Alert[]; summary: ReplaySummary } | undefined;
    w.on('message', (m: Message) => {
      if (m.kind === 'progress') onProgress?.(m.bytes, m.events);
      else if (m.kind === 'done') result = { alerts: m.alerts, summary: m.summary };
      else reject(new AppError(m.error.kind, m.error.code, m.error.message, m.error.details));
    });
    w.on('error', reject);
    w.on('exit', (code) => {
      if (result) resolve(result);
      else reject(new Error(`detection worker exited with code ${code} before finishing`));
    });
  });
}

if (!isMainThread && parentPort && (workerData as Partial<Job> | null)?.fgReplayThread === true) {
  const job = workerData as Job;
  const port = parentPort;
  let lastBytes = 0;
  let sent = 0;
  const run = replay({
    registry: open(job.registryPath),
    events: open(job.eventsPath),
    config: job.config,
    onProgress: (bytes, events) => {
      // A message per 16 MiB is plenty for a progress bar.
      lastBytes = bytes;
      if (bytes - sent >= 16 << 20) {
        sent = bytes;
        port.postMessage({ kind: 'progress', bytes, events } satisfies Message);
      }
    },
  });
  try {
    const r = await run;
    port.postMessage({ kind: 'progress', bytes: lastBytes, events: r.summary.events.accepted } satisfies Message);
    port.postMessage({ kind: 'done', alerts: r.alerts, summary: r.summary } satisfies Message);
  } catch (e) {
    // Anything else is thrown on: the worker's 'error' event rejects with it.
    if (!(e instanceof AppError)) throw e;
    port.postMessage({ kind: 'failed', error: { kind: e.kind, code: e.code, message: e.message, details: e.details } } satisfies Message);
  }
}
