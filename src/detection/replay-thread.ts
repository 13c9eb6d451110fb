/**
 * `femtoguard detect` over files runs on two threads. The main thread reads the events file
 * (ReplayReader, replay-reader.ts): it splits lines, reads each with the byte scanner
 * (src/events/fast-scan.ts; JSON.parse and validation for lines the scanner leaves), drops
 * duplicates and puts events in order, holding records rather than parsed events; batches of
 * ordered line bytes and records cross to a worker as transferred buffers (no copy, no
 * structured clone of objects). The worker decodes them and runs the engine (ReplayFeed).
 * `replay` (stdin, in process) runs the same two halves on one thread: same alerts, same
 * summary.
 *
 * The worker's heap is shaped for the engine: it decodes each event just before processing it,
 * and most of what it allocates per event dies at once, but the engine's own state keeps
 * growing and changing (subscribers, windows). Its young generation is 3 x 32 MiB (V8's default
 * semi-space is 16 MiB); measured on the benchmark's 5M events: 16 MiB 42.5 s and 672 MiB peak
 * RSS, 32 MiB 40.6 s and 694 MiB, 64 MiB 39.9 s and 813 MiB. The old generation's growth is
 * capped too (see below).
 */
import { createReadStream } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { AppError, type ErrorKind } from '../core/errors.js';
import type { Alert } from './alerts.js';
import type { DetectionConfig } from './config.js';
import { createReplayEngine, loadRegistry, type ReplaySummary } from './replay.js';
import { batchBuffers, ReplayReader, type EventsSummary, type OrderedBatch } from './replay-reader.js';

/** Semi-space of 32 MiB: V8 sizes the young generation at three semi-spaces. */
const YOUNG_GENERATION_MB = 3 * 32;
const HEAP_GROWING_PERCENT = 50;
/** Batches handed to the worker and not yet processed: bounds the memory between the threads. */
const MAX_IN_FLIGHT = 4;

interface Job {
  /** marks this module's own worker (the module is also imported on the main thread) */
  fgReplayThread: true;
  registryPath: string;
  config: DetectionConfig;
}

type ToWorker = { kind: 'batch'; batch: OrderedBatch } | { kind: 'end'; events: EventsSummary };

type FromWorker =
  | { kind: 'ack' }
  | { kind: 'done'; alerts: Alert[]; summary: ReplaySummary }
  /** an AppError (bad registry header, ...) crosses the thread as its fields: the CLI maps it to exit 2 as in process */
  | { kind: 'failed'; error: { kind: ErrorKind; code: string; message: string; details: Record<string, unknown> | undefined } };

const open = (path: string): AsyncIterable<Buffer> => createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>;

/** Replays two files on two threads; same result as `replay` over the same inputs. */
export function replayFilesOnThread(job: { registryPath: string; eventsPath: string; config: DetectionConfig; onProgress?: (bytes: number, events: number) => void }): Promise<{ alerts: Alert[]; summary: ReplaySummary }> {
  const { onProgress, eventsPath, registryPath, config } = job;
  const data: Job = { registryPath, config, fgReplayThread: true };
  // Under tsx (tests, benchmarks from source) this module is the .ts file; compiled, the .js one.
  const self = new URL(import.meta.url);
  // The old generation may grow to 1.5x what survived the last full collection instead of
  // V8's default of up to 4x: peak RSS on the benchmark went from 1,056 to 636-654 MiB at the same
  // CPU time (with fewer promotions, full collections are rare either way). V8 reads this flag
  // when it sizes the heap after a collection; it is process-wide (femtoguard detect only).
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  // From source (tests and benchmarks run the CLI under tsx) the worker must load TypeScript:
  // tsx's hooks do not follow into worker threads, so the worker registers them first.
  const boot = self.pathname.endsWith('.ts') ? `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => m.register()).then(() => import(${JSON.stringify(self.href)}))` : `import(${JSON.stringify(self.href)})`;
  const w = new Worker(boot, { eval: true, workerData: data, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } });

  let inFlight = 0;
  let wake: (() => void) | null = null;
  let failed = false;
  const result = new Promise<{ alerts: Alert[]; summary: ReplaySummary }>((resolve, reject) => {
    let done: { alerts: Alert[]; summary: ReplaySummary } | undefined;
    const fail = (e: unknown): void => {
      failed = true;
      wake?.();
      reject(e);
    };
    w.on('message', (m: FromWorker) => {
      if (m.kind === 'ack') {
        inFlight--;
        wake?.();
      } else if (m.kind === 'done') done = { alerts: m.alerts, summary: m.summary };
      else fail(new AppError(m.error.kind, m.error.code, m.error.message, m.error.details));
    });
    w.on('error', fail);
    w.on('exit', (code) => {
      if (done) resolve(done);
      else fail(new Error(`detection worker exited with code ${code} before finishing`));
    });
  });
  // The caller gets the first failure through `result`; the reader below only stops on it.
  result.catch(() => undefined);

  const reader = new ReplayReader(config, (batch) => {
    inFlight++;
    w.postMessage({ kind: 'batch', batch } satisfies ToWorker, batchBuffers(batch));
  });
  let bytes = 0;
  async function read(): Promise<void> {
    for await (const chunk of open(eventsPath)) {
      bytes += chunk.length;
      reader.push(chunk);
      while (inFlight >= MAX_IN_FLIGHT && !failed) await new Promise<void>((r) => (wake = r));
      wake = null;
      if (failed) return;
      onProgress?.(bytes, reader.summary().accepted);
    }
    reader.end();
    w.postMessage({ kind: 'end', events: reader.summary() } satisfies ToWorker);
  }

  return read().then(
    () =>
      result.then((r) => {
        onProgress?.(bytes, r.summary.events.accepted);
        return r;
      }),
    async (e: unknown) => {
      // The file could not be read (a directory, gone, unreadable): the worker is stopped.
      await w.terminate();
      throw e;
    },
  );
}

if (!isMainThread && parentPort && (workerData as Partial<Job> | null)?.fgReplayThread === true) {
  const job = workerData as Job;
  const port = parentPort;
  try {
    const side = createReplayEngine(await loadRegistry(open(job.registryPath)), job.config);
    port.on('message', (m: ToWorker) => {
      if (m.kind === 'batch') {
        side.consume(m.batch);
        port.postMessage({ kind: 'ack' } satisfies FromWorker);
        return;
      }
      const r = side.finish(m.events);
      port.postMessage({ kind: 'done', alerts: r.alerts, summary: r.summary } satisfies FromWorker);
      port.close();
    });
  } catch (e) {
    // Anything else is thrown on: the worker's 'error' event rejects with it.
    if (!(e instanceof AppError)) throw e;
    port.postMessage({ kind: 'failed', error: { kind: e.kind, code: e.code, message: e.message, details: e.details } } satisfies FromWorker);
  }
}
