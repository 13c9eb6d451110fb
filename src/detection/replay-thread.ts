/**
 * `femtoguard detect` over files runs on three threads. The main thread reads the events file
 * (ReplayReader, replay-reader.ts): it splits lines, reads each with the byte scanner
 * (src/events/fast-scan.ts; JSON.parse and validation for lines the scanner leaves), drops
 * duplicates and puts events in order, holding records rather than parsed events; batches of
 * ordered line bytes and records go to both workers in shared memory (no copy, no structured
 * clone of objects), and are written again once both have acknowledged them. Each worker
 * decodes them (ReplayFeed, replay-feed.ts) and runs its side of the engine.
 * `replay` (stdin, in process) runs the same two halves on one thread: same alerts, same
 * summary.
 *
 * The worker's heap is shaped for the engine: it decodes each event just before processing it,
 * and most of what it allocates per event dies at once, but the engine's own state keeps
 * growing and changing (subscribers, windows). Each worker's young generation is 3 x 16 MiB
 * (V8's default semi-space is 16 MiB). When the device side allocated an object or more per
 * report, 32 MiB semi-spaces paid for it (on the benchmark's 5M events, one worker then: 16 MiB
 * 42.5 s and 672 MiB peak RSS, 32 MiB 40.6 s and 694 MiB, 64 MiB 39.9 s and 813 MiB); once it
 * allocated little per report, 16 MiB was faster again (device side at 32 and at 16 MiB, five
 * alternating pairs of whole runs: 16 MiB faster in four, by about 4%, and 35 MiB less peak RSS;
 * 8 MiB slower). The old generation's growth is capped too (see below).
 */
import { createReadStream } from 'node:fs';
import { open as fsOpen } from 'node:fs/promises';
import { deserialize, serialize, setFlagsFromString } from 'node:v8';
import { isMainThread, MessageChannel, parentPort, receiveMessageOnPort, Worker, workerData, type MessagePort } from 'node:worker_threads';
import type { Alert } from './alerts.js';
import type { DetectionConfig } from './config.js';
import type { FlagEvent } from './partition.js';
import type { DeviceInput } from '../registry/index.js';
import { createReplayEngine, readRegistry, replayResult, type ReplayEngineResult, type ReplaySummary } from './replay.js';
import { RegistryView } from './state.js';
import { ReplayReader, type OrderedBatch } from './replay-reader.js';

/** Young generation per side (V8 sizes it at three semi-spaces): see the measurements above. */
const YOUNG_GENERATION_MB: Record<Side, number> = { device: 3 * 16, subscriber: 3 * 16 };
const HEAP_GROWING_PERCENT = 50;

type Side = 'device' | 'subscriber';
/** Batches handed to a worker and not yet processed: bounds the memory between the threads. */
const MAX_IN_FLIGHT = 4;
/**
 * `sync` slots: batches each side has finished (DONE, by side); 1 once the replay failed (nobody
 * waits any more); 1 while the reader waits for that side to finish a batch (WAITING, by side).
 */
const DEVICE_DONE = 0;
const FAILED = 1;
const SUBSCRIBER_DONE = 2;
const DONE: Record<Side, number> = { device: DEVICE_DONE, subscriber: SUBSCRIBER_DONE };
const WAITING: Record<Side, number> = { device: 3, subscriber: 4 };
const SYNC_SLOTS = 5;

interface Job {
  /** marks this module's own worker (the module is also imported on the main thread) */
  fgReplayThread: true;
  side: Side;
  config: DetectionConfig;
  /** device side: where its cell flags go; subscriber side: where they come from */
  flags: MessagePort;
  sync: Int32Array;
}

/**
 * `registry` comes first, once: the registry's devices as the main thread read them (once: a pipe
 * can be read only once), v8.serialize'd once for both workers (a structured clone per worker
 * serialized them twice). The workers are started before it is read, so that their start-up (a
 * thread, the engine's modules) overlaps the reading.
 */
type ToWorker = { kind: 'registry'; devices: Uint8Array } | { kind: 'batch'; batch: OrderedBatch } | { kind: 'end' };

/** `wake`: the worker finished a batch while the reader waited for it (WAITING). */
type FromWorker =
  | { kind: 'wake' }
  | { kind: 'done'; result: ReplayEngineResult };

const open = (path: string): AsyncIterable<Buffer> => createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>;

/**
 * The events file in chunks of up to 1 MiB, all read into the same buffer: a chunk is valid only
 * until the next is asked for (ReplayReader.push copies what it keeps). A stream's fresh 1 MiB
 * buffer per chunk was more than a gigabyte of array buffers on the benchmark, and V8 runs a full
 * collection per 64 MB of those: 68 of the reader's full collections, 4 with this. Errors are the
 * stream's (same messages: ENOENT on open, EISDIR on the first read).
 */
async function* chunksOf(path: string): AsyncGenerator<Buffer> {
  const file = await fsOpen(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const { bytesRead } = await file.read(buf, 0, buf.length, null);
      if (bytesRead === 0) return;
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await file.close();
  }
}

/**
 * Replays two files on three threads; same result as `replay` over the same inputs. The main
 * thread reads (the registry once, handed to both workers; then the events); one worker runs
 * the engine for device events, the other for subscriber events
 * (EngineOptions.partition); both read the same batches from shared memory. The device side's
 * cell flags cross to the subscriber side through a message port, and the subscriber side
 * judges a payment only once the device side has finished the payment's batch (a counter in
 * shared memory), so payment-exposure sees exactly the flags one engine would have. Any
 * failure stops the reader and terminates both workers.
 */
export async function replayFilesOnThread(job: { registryPath: string; eventsPath: string; config: DetectionConfig; onProgress?: (bytes: number, events: number) => void }): Promise<{ alerts: Alert[]; summary: ReplaySummary }> {
  const { onProgress, eventsPath, registryPath, config } = job;
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
  const sync = new Int32Array(new SharedArrayBuffer(4 * SYNC_SLOTS));
  const channel = new MessageChannel();
  const start = (side: Side, flags: MessagePort): Worker => {
    const data: Job = { fgReplayThread: true, side, config, flags, sync };
    return new Worker(boot, { eval: true, workerData: data, transferList: [flags], resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB[side] } });
  };
  const workers = [start('device', channel.port1), start('subscriber', channel.port2)];

  const sides: Side[] = ['device', 'subscriber'];
  /**
   * Batches sent and not yet acknowledged by both workers, in the order sent (each worker
   * processes and acknowledges them in that order). A worker acknowledges a batch once it has
   * consumed it, by counting it in `sync` (DONE): the engine keeps decoded events (strings
   * copied out of the batch), never a view of its memory. Once both have, the reader writes a
   * later batch into it (ReplayReader.reuse). The counts are read between chunks; a message
   * per batch to this thread cost each worker more than its batch's other overhead, so a
   * worker sends one (`wake`) only when the reader waits for it.
   */
  const unacked: OrderedBatch[] = [];
  let sent = 0;
  let released = 0;
  const inFlight = (i: number): number => sent - Atomics.load(sync, DONE[sides[i] as Side]);
  const full = (): boolean => inFlight(0) >= MAX_IN_FLIGHT || inFlight(1) >= MAX_IN_FLIGHT;
  /** Hands the batches both workers have finished back to the reader. */
  const collect = (): void => {
    const done = Math.min(Atomics.load(sync, DEVICE_DONE), Atomics.load(sync, SUBSCRIBER_DONE));
    for (; released < done; released++) reader.reuse(unacked.shift() as OrderedBatch);
  };
  let wake: (() => void) | null = null;
  let failed = false;
  /** Stops everything: the reader, a side waiting for the other, and both workers (a live one would keep the process up). */
  const stop = (): void => {
    failed = true;
    Atomics.store(sync, FAILED, 1);
    Atomics.notify(sync, DEVICE_DONE);
    wake?.();
    for (const w of workers) void w.terminate();
  };
  const fail = (e: unknown, reject: (e: unknown) => void): void => {
    stop();
    reject(e);
  };
  const results = workers.map(
    (w) =>
      new Promise<ReplayEngineResult>((resolve, reject) => {
        let done: ReplayEngineResult | undefined;
        w.on('message', (m: FromWorker) => {
          if (m.kind === 'wake') wake?.();
          else done = m.result;
        });
        w.on('error', (e) => fail(e, reject));
        w.on('exit', (code) => {
          if (done) resolve(done);
          else fail(new Error(`detection worker exited with code ${code} before finishing`), reject);
        });
      }),
  );
  // The caller gets the first failure through `all`; the reader below only stops on it.
  const all = Promise.all(results);
  all.catch(() => undefined);

  // Read here, once, while the workers start (a bad header throws the same AppError as in
  // process: the CLI exits 2, and the workers are stopped).
  let registry: ReplaySummary['registry'];
  try {
    const { devices, rejected } = await readRegistry(open(registryPath));
    registry = { devices: devices.length, rejected };
    const bytes = serialize(devices);
    for (const w of workers) w.postMessage({ kind: 'registry', devices: bytes } satisfies ToWorker);
  } catch (e) {
    stop();
    throw e;
  }

  const reader = new ReplayReader(
    config,
    (batch) => {
      unacked.push(batch);
      sent++;
      for (const w of workers) w.postMessage({ kind: 'batch', batch } satisfies ToWorker);
    },
    { shared: true },
  );
  let bytes = 0;
  async function read(): Promise<void> {
    for await (const chunk of chunksOf(eventsPath)) {
      bytes += chunk.length;
      collect();
      reader.push(chunk);
      while (!failed && full()) {
        // Each side at the limit is asked to wake this thread; then the counts are read again: a
        // side that finished a batch before it saw the request has counted it by then.
        for (let i = 0; i < sides.length; i++) if (inFlight(i) >= MAX_IN_FLIGHT) Atomics.store(sync, WAITING[sides[i] as Side], 1);
        if (!full()) break;
        await new Promise<void>((r) => (wake = r));
        collect();
      }
      wake = null;
      if (failed) return;
      onProgress?.(bytes, reader.summary().accepted);
    }
    reader.end();
    for (const w of workers) w.postMessage({ kind: 'end' } satisfies ToWorker);
  }

  return read().then(
    async () => {
      const r = replayResult(registry, reader, await all);
      onProgress?.(bytes, r.summary.events.accepted);
      return r;
    },
    (e: unknown) => {
      // The file could not be read (a directory, gone, unreadable): the workers are stopped.
      stop();
      throw e;
    },
  );
}

/**
 * Subscriber side: the device side's flags raised before order number `seq`; with `wait`, once
 * the device side has finished batch `batch` (all of them), else those that have arrived.
 * Pending flags are those raised at or after `seq`: at most the device side's lead in batches.
 */
function deviceFlags(job: Job) {
  const pending: FlagEvent[] = [];
  let head = 0;
  return (seq: number, batch: number, wait: boolean): readonly FlagEvent[] => {
    for (; wait; ) {
      const done = Atomics.load(job.sync, DEVICE_DONE);
      if (done > batch) break;
      if (Atomics.load(job.sync, FAILED) === 1) throw new Error('the device side of the replay failed');
      Atomics.wait(job.sync, DEVICE_DONE, done, 1000);
    }
    for (let m = receiveMessageOnPort(job.flags); m !== undefined; m = receiveMessageOnPort(job.flags)) {
      // One by one: a batch's flags can be many (each finding flags all of a device's cells), too many to spread as arguments.
      for (const f of m.message as FlagEvent[]) pending.push(f);
    }
    const from = head;
    while (head < pending.length && (pending[head] as FlagEvent).seq < seq) head++;
    const out = pending.slice(from, head);
    if (head > 4096 && head * 2 > pending.length) {
      pending.splice(0, head);
      head = 0;
    }
    return out;
  };
}

if (!isMainThread && parentPort && (workerData as Partial<Job> | null)?.fgReplayThread === true) {
  const job = workerData as Job;
  const port = parentPort;
  const raised: FlagEvent[] = [];
  let batches = 0;
  const flagsBefore = deviceFlags(job);
  let side: ReturnType<typeof createReplayEngine> | undefined;
  port.on('message', (m: ToWorker) => {
    if (m.kind === 'registry') {
      side = createReplayEngine(
        RegistryView.from(deserialize(m.devices) as DeviceInput[], { flat: true }),
        job.config,
        job.side === 'device' ? { side: 'device', onFlag: (f) => raised.push(f) } : { side: 'subscriber', flagsBefore: (seq, wait) => flagsBefore(seq, batches, wait) },
      );
      return;
    }
    if (side === undefined) throw new Error(`detection worker: a ${m.kind} message came before the registry`);
    if (m.kind === 'batch') {
      side.consume(m.batch);
      // Flags first, then the count: a subscriber side that sees the count finds the flags.
      if (job.side === 'device' && raised.length > 0) job.flags.postMessage(raised.splice(0));
      // The count acknowledges the batch (the reader may write into it from now on).
      Atomics.store(job.sync, DONE[job.side], batches + 1);
      if (job.side === 'device') Atomics.notify(job.sync, DEVICE_DONE);
      batches++;
      if (Atomics.exchange(job.sync, WAITING[job.side], 0) === 1) port.postMessage({ kind: 'wake' } satisfies FromWorker);
      return;
    }
    port.postMessage({ kind: 'done', result: side.finish() } satisfies FromWorker);
    job.flags.close();
    port.close();
  });
}
