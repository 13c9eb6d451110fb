import type { Logger } from '../core/logger.js';
import type { EventBus, EventStore, FgEvent } from '../events/index.js';
import type { DecisionStore, DecisionWrite } from './store.js';

interface Pending {
  write: DecisionWrite;
  events: FgEvent[];
  resolve: () => void;
  reject: (e: unknown) => void;
}

export interface RecorderOptions {
  /**
   * At most one commit per this many milliseconds, or per four times as long as the last
   * commit took, whichever is longer (up to 250 ms). A commit is an fsync (0.2 ms on a quiet
   * disk, tens of ms on a busy one) that blocks the event loop, and each batch costs three
   * (decision records with their audit events, the events, detection's cursor): committing
   * per check-in would cap admission far below what the TLS handshakes allow, and a slow
   * disk would stall the listener. A lone check-in is committed at once; only a busy stream
   * waits for the window. 50 ms rather than 20: at a few hundred check-ins a second the
   * per-commit work (WAL frames of the same index pages, three fsyncs, detection's cursor)
   * cost ~3% more CPU per check-in at 20 ms (A/B in one `npm run bench:admission -- --ab`
   * run, 6 rounds); a device waits at most 50 ms more for an answer it gets once per
   * check-in interval.
   */
  windowMs?: number;
  /** a batch this large is committed without waiting for the window */
  maxBatch?: number;
}

/**
 * Group commit of decision records (with their audit events) and the events they publish.
 * Each caller still waits for its own record to be durable before answering the device.
 */
export function createRecorder(deps: { decisions: DecisionStore; events: EventStore; bus: EventBus; logger: Logger }, opts: RecorderOptions = {}) {
  const windowMs = opts.windowMs ?? 50;
  const maxBatch = opts.maxBatch ?? 1000;
  let queue: Pending[] = [];
  let timer: NodeJS.Timeout | null = null;
  let immediate: NodeJS.Immediate | null = null;
  let lastFlush = 0;
  let lastCostMs = 0;
  let inflight: Promise<void> = Promise.resolve();

  async function flush(batch: Pending[]): Promise<void> {
    const t0 = Date.now();
    try {
      await deps.decisions.record(batch.map((p) => p.write));
      const events = batch.flatMap((p) => p.events);
      const { stored } = events.length ? await deps.events.append(events) : { stored: [] };
      if (stored.length) deps.bus.publish(stored).catch((e: unknown) => deps.logger.error({ err: String(e) }, 'admission event publish failed'));
      for (const p of batch) p.resolve();
    } catch (e) {
      deps.logger.error({ err: String(e) }, 'admission decision record failed');
      for (const p of batch) p.reject(e);
    } finally {
      lastCostMs = Date.now() - t0;
    }
  }

  function run(): void {
    if (timer) clearTimeout(timer);
    if (immediate) clearImmediate(immediate);
    timer = null;
    immediate = null;
    const batch = queue;
    queue = [];
    lastFlush = Date.now();
    if (batch.length) inflight = inflight.then(() => flush(batch));
  }

  function schedule(): void {
    if (queue.length >= maxBatch) return run();
    if (timer || immediate) return;
    const wait = lastFlush + Math.min(250, Math.max(windowMs, 4 * lastCostMs)) - Date.now();
    if (wait <= 0) immediate = setImmediate(run);
    else timer = setTimeout(run, wait);
  }

  return {
    /** Resolves once the record, its audit event and the events are committed. */
    write(write: DecisionWrite, events: FgEvent[]): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        queue.push({ write, events, resolve, reject });
        schedule();
      });
    },
    /** Writes what is queued and waits for it. */
    async drain(): Promise<void> {
      run();
      await inflight;
    },
  };
}

export type Recorder = ReturnType<typeof createRecorder>;
