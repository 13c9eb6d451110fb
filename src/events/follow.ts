import type { NdjsonLine } from './ndjson.js';
import { NdjsonSplitter } from './ndjson.js';
import type { EventBus, EventStore, StoredEvent } from './store.js';

/**
 * Streams NDJSON input through the splitter, line by line, reporting bytes read after each
 * chunk: the loop every offline reader (`detect`, `impact`) needs.
 */
export async function forEachNdjsonLine(input: AsyncIterable<Buffer | string> | Iterable<Buffer | string>, onLine: (l: NdjsonLine) => void, onProgress?: (bytes: number) => void): Promise<void> {
  const splitter = new NdjsonSplitter();
  let bytes = 0;
  for await (const chunk of input) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    bytes += buf.length;
    splitter.push(buf, onLine);
    onProgress?.(bytes);
  }
  splitter.end(onLine);
}

/**
 * How a consumer of the event log (live detection, the exposure index) catches up and then
 * follows the bus without missing or repeating a batch: it subscribes first (batches
 * published meanwhile wait), reads the stored log after `afterSeq` page by page, then hands
 * over the waiting batches minus what the log already gave, and from then on takes the bus.
 * Resolves with the last seq handled and the unsubscribe function.
 */
export async function followEventLog(opts: {
  events: EventStore;
  bus: EventBus;
  afterSeq: number;
  pageSize: number;
  handle: (batch: readonly StoredEvent[]) => Promise<void> | void;
}): Promise<{ seq: number; unsubscribe: () => void }> {
  const early: (readonly StoredEvent[])[] = [];
  let caughtUp = false;
  const unsubscribe = opts.bus.subscribe((b) => (caughtUp ? opts.handle(b) : void early.push(b)));
  let seq = opts.afterSeq;
  for (;;) {
    const batch = await opts.events.readSince(seq, opts.pageSize);
    if (batch.length === 0) break;
    await opts.handle(batch);
    seq = (batch[batch.length - 1] as StoredEvent).seq;
  }
  // Batches that arrive while these are handled are appended and picked up by the loop.
  for (const b of early) {
    const fresh = b.filter((x) => x.seq > seq);
    if (fresh.length === 0) continue;
    await opts.handle(fresh);
    seq = (fresh[fresh.length - 1] as StoredEvent).seq;
  }
  caughtUp = true;
  return { seq, unsubscribe };
}
