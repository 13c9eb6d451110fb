import { SeqHeap } from '../core/heap.js';
import { DedupWindow } from './dedup.js';

/** What ordering needs of an event: its time and its id. */
export interface Timed {
  readonly t: number;
  readonly id?: string | undefined;
}

/** Total order on events: time, then id (so equal times sort the same whatever the arrival order), then arrival. */
function precedes(a: Timed, as: number, b: Timed, bs: number): boolean {
  if (a.t !== b.t) return a.t < b.t;
  const ai = a.id;
  const bi = b.id;
  if (ai !== undefined && bi !== undefined && ai !== bi) return ai < bi;
  return as < bs;
}

/**
 * How the ordering reads an event of type T. Events are objects with `t` and `id` (`Timed`,
 * the default) or anything else that can answer the same: the reader of `femtoguard detect`
 * orders integer handles to events whose time and id bytes sit in typed arrays, so that the
 * events it holds for the out-of-order horizon are nothing for the garbage collector.
 * Whatever T is, the order is the one `precedes` defines on (t, id, arrival).
 */
export interface OrderKeys<T> {
  time(e: T): number;
  /** a comes out before b (as, bs: arrival numbers): time, then id (UTF-16 code unit order) when both have one and they differ, then arrival */
  precedes(a: T, as: number, b: T, bs: number): boolean;
}

/** What the intake needs besides the order: the dedup check on the event's id. */
export interface IntakeKeys<T> extends OrderKeys<T> {
  /** Whether the event's id is in `dedup` already (false when it has no id); when not, the id is added (DedupWindow.isDuplicate). */
  isDuplicate(dedup: DedupWindow, e: T, now: number): boolean;
}

const TIMED_KEYS: IntakeKeys<Timed> = {
  time: (e) => e.t,
  precedes,
  isDuplicate: (dedup, e, now) => e.id !== undefined && dedup.isDuplicate(e.id, e.t, now),
};

/** The keys argument: optional for `Timed` events (TIMED_KEYS), required for any other T. */
type KeysArg<T> = T extends Timed ? [keys?: IntakeKeys<T>] : [keys: IntakeKeys<T>];

/** Slots emitted from the front of the run are reclaimed once they are this many and half the array. */
const COMPACT_AT = 4096;

/**
 * Puts a roughly time-ordered stream back in order (FORMATS.md §1: arrival up to 10 minutes
 * out of order must give the same result as sorted input). Events are held until the
 * watermark (newest event time minus `maxDelayMs`) passes them. Memory is bounded by the
 * events of one delay window. Events older than the watermark are "late": they are emitted
 * at once (never dropped) and counted.
 *
 * Hot path (every event of `femtoguard detect` and of ingestion goes through it): the stream
 * is mostly in order, so an event that sorts after everything held is appended to a sorted
 * run (a queue: O(1) in, O(1) out, no comparisons against a deep heap whose entries are all
 * cache misses). Only stragglers go to a min-heap, and the two are merged on the way out in
 * the same total order, so the output is exactly that of a single priority queue.
 */
export class ReorderBuffer<T> {
  // Sorted run: run[head..] in order; runSeq holds each event's arrival number.
  private run: (T | undefined)[] = [];
  private runSeq: number[] = [];
  private head = 0;
  // Min-heap of the events that arrived behind the run's tail.
  private readonly heap: SeqHeap<T>;
  private seq = 0;
  private maxT = -Infinity;
  private readonly keys: OrderKeys<T>;
  late = 0;

  constructor(
    private readonly maxDelayMs: number,
    private readonly emit: (e: T) => void,
    ...keys: KeysArg<T>
  ) {
    const k = (keys[0] ?? TIMED_KEYS) as OrderKeys<T>;
    this.keys = k;
    this.heap = new SeqHeap<T>(k.precedes);
  }

  /** The time up to which every event has been emitted. */
  get watermark(): number {
    return this.maxT - this.maxDelayMs;
  }

  get size(): number {
    return this.run.length - this.head + this.heap.size;
  }

  push(e: T): void {
    const keys = this.keys;
    const t = keys.time(e);
    if (t < this.maxT - this.maxDelayMs) {
      this.late++;
      this.emit(e);
      return;
    }
    const s = this.seq++;
    const n = this.run.length;
    if (n === this.head || !keys.precedes(e, s, this.run[n - 1] as T, this.runSeq[n - 1] as number)) {
      this.run.push(e);
      this.runSeq.push(s);
    } else {
      this.heap.push(e, s);
    }
    if (t > this.maxT) {
      this.maxT = t;
      this.drain(this.maxT - this.maxDelayMs);
    }
  }

  /** Calls `fn` on every event held, in no particular order (the holder may move their storage). */
  forEachHeld(fn: (e: T) => void): void {
    for (let i = this.head; i < this.run.length; i++) fn(this.run[i] as T);
    this.heap.forEach(fn);
  }

  /** Emits everything still held (end of input). */
  flush(): void {
    this.drain(Infinity);
  }

  /** Emits, in order, every held event with a time before `w`. */
  private drain(w: number): void {
    const run = this.run;
    const heap = this.heap;
    const keys = this.keys;
    for (;;) {
      const r = this.head < run.length ? (run[this.head] as T) : undefined;
      const h = heap.peek();
      let fromRun: boolean;
      if (r === undefined) {
        if (h === undefined) break;
        fromRun = false;
      } else if (h === undefined) fromRun = true;
      else fromRun = keys.precedes(r, this.runSeq[this.head] as number, h, heap.peekSeq());
      if (fromRun) {
        const x = r as T;
        if (!(keys.time(x) < w)) break;
        run[this.head++] = undefined;
        this.emit(x);
      } else {
        if (!(keys.time(h as T) < w)) break;
        this.emit(heap.pop());
      }
    }
    if (this.head === run.length) {
      run.length = 0;
      this.runSeq.length = 0;
      this.head = 0;
    } else if (this.head > COMPACT_AT && this.head * 2 > run.length) {
      run.splice(0, this.head);
      this.runSeq.splice(0, this.head);
      this.head = 0;
    }
  }
}

/**
 * The way into detection's event order, for every stream (the engine's `push`, and the reader
 * of `femtoguard detect` that orders records before they cross to the engine's thread): drop
 * an event older than the dedup window (its id can no longer be checked), drop a repeated id,
 * and put the rest in order (ReorderBuffer). One implementation, so both give the same order.
 */
export class OrderedIntake<T> {
  readonly reorder: ReorderBuffer<T>;
  private readonly dedup: DedupWindow;
  private readonly keys: IntakeKeys<T>;
  duplicates = 0;
  /** older than the dedup window: dropped, since idempotency can no longer be guaranteed for them */
  tooOld = 0;

  constructor(
    private readonly maxOutOfOrderMs: number,
    private readonly dedupWindowMs: number,
    emit: (e: T) => void,
    ...keys: KeysArg<T>
  ) {
    this.keys = (keys[0] ?? TIMED_KEYS) as IntakeKeys<T>;
    this.reorder = new ReorderBuffer<T>(maxOutOfOrderMs, emit, ...([this.keys] as KeysArg<T>));
    this.dedup = new DedupWindow(dedupWindowMs);
  }

  /** False when the event was dropped (a repeated id, or older than the dedup window). */
  push(e: T): boolean {
    const newest = this.reorder.watermark + this.maxOutOfOrderMs;
    const t = this.keys.time(e);
    if (t < newest - this.dedupWindowMs) {
      this.tooOld++;
      return false;
    }
    if (this.keys.isDuplicate(this.dedup, e, Math.max(t, newest))) {
      this.duplicates++;
      return false;
    }
    this.reorder.push(e);
    return true;
  }

  get late(): number {
    return this.reorder.late;
  }

  /**
   * Loads the memory the dedup check of an id with hash `h` (hashId) will read
   * (DedupWindow.touch), for a caller that has the next few events before it pushes them: the
   * cache misses of their checks then overlap. Changes nothing.
   */
  touchId(h: number): number {
    return this.dedup.touch(h);
  }

  /** ids remembered */
  get dedupSize(): number {
    return this.dedup.size;
  }
}
