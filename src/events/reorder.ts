import type { FgEvent } from './types.js';

interface Item {
  e: FgEvent;
  seq: number;
}

/** Total order on events: time, then id (so equal times sort the same whatever the arrival order), then arrival. */
function before(a: Item, b: Item): boolean {
  if (a.e.t !== b.e.t) return a.e.t < b.e.t;
  const ai = a.e.id;
  const bi = b.e.id;
  if (ai !== undefined && bi !== undefined && ai !== bi) return ai < bi;
  return a.seq < b.seq;
}

/**
 * Puts a roughly time-ordered stream back in order (FORMATS.md §1: arrival up to 10 minutes
 * out of order must give the same result as sorted input). Events are held in a min-heap
 * until the watermark (newest event time minus `maxDelayMs`) passes them. Memory is bounded
 * by the events of one delay window. Events older than the watermark are "late": they are
 * emitted at once (never dropped) and counted.
 */
export class ReorderBuffer {
  private heap: Item[] = [];
  private seq = 0;
  private maxT = -Infinity;
  late = 0;

  constructor(
    private readonly maxDelayMs: number,
    private readonly emit: (e: FgEvent) => void,
  ) {}

  /** The time up to which every event has been emitted. */
  get watermark(): number {
    return this.maxT - this.maxDelayMs;
  }

  get size(): number {
    return this.heap.length;
  }

  push(e: FgEvent): void {
    if (e.t < this.watermark) {
      this.late++;
      this.emit(e);
      return;
    }
    this.insert({ e, seq: this.seq++ });
    if (e.t > this.maxT) {
      this.maxT = e.t;
      const w = this.watermark;
      while (this.heap.length > 0 && (this.heap[0] as Item).e.t < w) this.emit(this.pop());
    }
  }

  /** Emits everything still held (end of input). */
  flush(): void {
    while (this.heap.length > 0) this.emit(this.pop());
  }

  private insert(it: Item): void {
    const h = this.heap;
    h.push(it);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(it, h[p] as Item)) break;
      h[i] = h[p] as Item;
      i = p;
    }
    h[i] = it;
  }

  private pop(): FgEvent {
    const h = this.heap;
    const top = h[0] as Item;
    const last = h.pop() as Item;
    if (h.length > 0) {
      let i = 0;
      const n = h.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && before(h[r] as Item, h[l] as Item) ? r : l;
        if (!before(h[c] as Item, last)) break;
        h[i] = h[c] as Item;
        i = c;
      }
      h[i] = last;
    }
    return top.e;
  }
}

/**
 * Idempotency on `id` (FORMATS.md §1: the same id twice must not double-count). Ids are
 * remembered for `windowMs` of event time, so memory stays bounded on an endless stream.
 */
export class DedupWindow {
  private seen = new Map<string, number>();
  private order: { id: string; t: number }[] = [];
  private head = 0;
  duplicates = 0;

  constructor(private readonly windowMs: number) {}

  /** True when this id was seen already (the event must be skipped). */
  isDuplicate(id: string, t: number, now: number): boolean {
    if (this.seen.has(id)) {
      this.duplicates++;
      return true;
    }
    this.seen.set(id, t);
    this.order.push({ id, t });
    const horizon = now - this.windowMs;
    while (this.head < this.order.length && (this.order[this.head] as { t: number }).t < horizon) {
      const old = this.order[this.head++] as { id: string; t: number };
      if (this.seen.get(old.id) === old.t) this.seen.delete(old.id);
    }
    if (this.head > 4096 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
    return false;
  }

  get size(): number {
    return this.seen.size;
  }
}
