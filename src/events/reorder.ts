import { SeqHeap } from '../core/index.js';

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
export class ReorderBuffer<T extends Timed> {
  // Sorted run: run[head..] in order; runSeq holds each event's arrival number.
  private run: (T | undefined)[] = [];
  private runSeq: number[] = [];
  private head = 0;
  // Min-heap of the events that arrived behind the run's tail.
  private readonly heap = new SeqHeap<T>(precedes);
  private seq = 0;
  private maxT = -Infinity;
  late = 0;

  constructor(
    private readonly maxDelayMs: number,
    private readonly emit: (e: T) => void,
  ) {}

  /** The time up to which every event has been emitted. */
  get watermark(): number {
    return this.maxT - this.maxDelayMs;
  }

  get size(): number {
    return this.run.length - this.head + this.heap.size;
  }

  push(e: T): void {
    if (e.t < this.maxT - this.maxDelayMs) {
      this.late++;
      this.emit(e);
      return;
    }
    const s = this.seq++;
    const n = this.run.length;
    if (n === this.head || !precedes(e, s, this.run[n - 1] as T, this.runSeq[n - 1] as number)) {
      this.run.push(e);
      this.runSeq.push(s);
    } else {
      this.heap.push(e, s);
    }
    if (e.t > this.maxT) {
      this.maxT = e.t;
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
    for (;;) {
      const r = this.head < run.length ? (run[this.head] as T) : undefined;
      const h = heap.peek();
      let fromRun: boolean;
      if (r === undefined) {
        if (h === undefined) break;
        fromRun = false;
      } else if (h === undefined) fromRun = true;
      else fromRun = precedes(r, this.runSeq[this.head] as number, h, heap.peekSeq());
      if (fromRun) {
        const x = r as T;
        if (!(x.t < w)) break;
        run[this.head++] = undefined;
        this.emit(x);
      } else {
        if (!((h as T).t < w)) break;
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
export class OrderedIntake<T extends Timed> {
  readonly reorder: ReorderBuffer<T>;
  private readonly dedup: DedupWindow;
  duplicates = 0;
  /** older than the dedup window: dropped, since idempotency can no longer be guaranteed for them */
  tooOld = 0;

  constructor(
    private readonly maxOutOfOrderMs: number,
    private readonly dedupWindowMs: number,
    emit: (e: T) => void,
  ) {
    this.reorder = new ReorderBuffer(maxOutOfOrderMs, emit);
    this.dedup = new DedupWindow(dedupWindowMs);
  }

  /** False when the event was dropped (a repeated id, or older than the dedup window). */
  push(e: T): boolean {
    const newest = this.reorder.watermark + this.maxOutOfOrderMs;
    if (e.t < newest - this.dedupWindowMs) {
      this.tooOld++;
      return false;
    }
    if (e.id !== undefined && this.dedup.isDuplicate(e.id, e.t, Math.max(e.t, newest))) {
      this.duplicates++;
      return false;
    }
    this.reorder.push(e);
    return true;
  }

  get late(): number {
    return this.reorder.late;
  }

  /** ids remembered */
  get dedupSize(): number {
    return this.dedup.size;
  }
}

/** 32-bit FNV-1a over the UTF-16 code units, finished with the murmur3 mix so low bits spread. */
function hashId(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

const MIN_SLOTS = 1 << 12;
const MIN_ENTRIES = 1 << 11;

/**
 * Idempotency on `id` (FORMATS.md §1: the same id twice must not double-count). Ids are
 * remembered for `windowMs` of event time, so memory stays bounded on an endless stream.
 *
 * This is the largest piece of the engine's memory (one entry per id in the window: 780,000
 * for six hours of a 20,000-cell fleet) and is on the hot path, so it holds no JavaScript
 * object per id. The ids' characters sit in a ring of UTF-16 code units, each entry's hash,
 * time and place in that ring in parallel rings (oldest first: the expiry queue), and an
 * open-addressing table (linear probing) maps a hash to its entry. All typed arrays: nothing
 * for the garbage collector to trace or copy, and a JS Set's periodic rehash of a table of
 * hundreds of thousands of entries (garbage of tens of MB each time) does not happen.
 */
export class DedupWindow {
  /** entry ring index + 1, or 0 for an empty slot */
  private slots = new Int32Array(MIN_SLOTS);
  private hashes = new Int32Array(MIN_ENTRIES);
  private times = new Float64Array(MIN_ENTRIES);
  /** where the entry's id starts in `chars` (a position counting up, taken modulo the ring size) */
  private starts = new Float64Array(MIN_ENTRIES);
  private lengths = new Int32Array(MIN_ENTRIES);
  private chars = new Uint16Array(MIN_ENTRIES * 16);
  /** entries head..tail-1 are live (numbers count up; ring index = number modulo ring size) */
  private head = 0;
  private tail = 0;
  private charHead = 0;
  private charTail = 0;
  duplicates = 0;

  constructor(private readonly windowMs: number) {}

  /** True when this id was seen already (the event must be skipped). */
  isDuplicate(id: string, t: number, now: number): boolean {
    const h = hashId(id);
    if (this.find(id, h) !== -1) {
      this.duplicates++;
      return true;
    }
    this.append(id, h, t);
    // The queue is in arrival order: it stops at the first id still inside the window, as a
    // queue must (an id leaves only from the head).
    const horizon = now - this.windowMs;
    const em = this.hashes.length - 1;
    while (this.head < this.tail && (this.times[this.head & em] as number) < horizon) this.removeHead();
    if (this.tail - this.head < this.slots.length >> 3 && this.slots.length > MIN_SLOTS) this.rebuild(this.slots.length >> 1);
    return false;
  }

  get size(): number {
    return this.tail - this.head;
  }

  /** Ring index of the entry holding `id`, or -1. */
  private find(id: string, h: number): number {
    const slots = this.slots;
    const mask = slots.length - 1;
    const cm = this.chars.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const s = slots[i] as number;
      if (s === 0) return -1;
      const r = s - 1;
      if (this.hashes[r] === h && this.lengths[r] === id.length) {
        const start = this.starts[r] as number;
        let k = 0;
        while (k < id.length && this.chars[(start + k) & cm] === id.charCodeAt(k)) k++;
        if (k === id.length) return r;
      }
    }
  }

  private append(id: string, h: number, t: number): void {
    if (this.tail - this.head === this.hashes.length) this.growEntries();
    while (this.charTail - this.charHead + id.length > this.chars.length) this.growChars();
    const r = this.tail & (this.hashes.length - 1);
    this.tail++;
    this.hashes[r] = h;
    this.times[r] = t;
    this.starts[r] = this.charTail;
    this.lengths[r] = id.length;
    const cm = this.chars.length - 1;
    for (let k = 0; k < id.length; k++) this.chars[(this.charTail + k) & cm] = id.charCodeAt(k);
    this.charTail += id.length;
    if ((this.tail - this.head) * 2 > this.slots.length) this.rebuild(this.slots.length << 1);
    else this.insertSlot(r);
  }

  private insertSlot(r: number): void {
    const slots = this.slots;
    const mask = slots.length - 1;
    let i = (this.hashes[r] as number) & mask;
    while (slots[i] !== 0) i = (i + 1) & mask;
    slots[i] = r + 1;
  }

  /** Forgets the oldest entry; backward-shift deletion keeps every probe chain unbroken. */
  private removeHead(): void {
    const r = this.head & (this.hashes.length - 1);
    this.head++;
    this.charHead = (this.starts[r] as number) + (this.lengths[r] as number);
    const slots = this.slots;
    const mask = slots.length - 1;
    let i = (this.hashes[r] as number) & mask;
    while (slots[i] !== r + 1) i = (i + 1) & mask;
    for (let j = (i + 1) & mask; slots[j] !== 0; j = (j + 1) & mask) {
      const home = (this.hashes[(slots[j] as number) - 1] as number) & mask;
      // The entry at j may move back to i unless its home lies cyclically in (i, j].
      if (i <= j ? i < home && home <= j : i < home || home <= j) continue;
      slots[i] = slots[j] as number;
      i = j;
    }
    slots[i] = 0;
  }

  /** A table of `size` slots (a power of two) holding every live entry. */
  private rebuild(size: number): void {
    this.slots = new Int32Array(Math.max(MIN_SLOTS, size));
    const em = this.hashes.length - 1;
    for (let n = this.head; n < this.tail; n++) this.insertSlot(n & em);
  }

  /** Doubles the entry rings, the live entries moved to the front in order. */
  private growEntries(): void {
    const old = { hashes: this.hashes, times: this.times, starts: this.starts, lengths: this.lengths };
    const size = old.hashes.length * 2;
    this.hashes = new Int32Array(size);
    this.times = new Float64Array(size);
    this.starts = new Float64Array(size);
    this.lengths = new Int32Array(size);
    const om = old.hashes.length - 1;
    const count = this.tail - this.head;
    for (let k = 0; k < count; k++) {
      const r = (this.head + k) & om;
      this.hashes[k] = old.hashes[r] as number;
      this.times[k] = old.times[r] as number;
      this.starts[k] = old.starts[r] as number;
      this.lengths[k] = old.lengths[r] as number;
    }
    this.head = 0;
    this.tail = count;
    this.rebuild(this.slots.length);
  }

  /** Doubles the character ring, the live characters moved to the front in order. */
  private growChars(): void {
    const old = this.chars;
    const om = old.length - 1;
    this.chars = new Uint16Array(old.length * 2);
    const used = this.charTail - this.charHead;
    for (let k = 0; k < used; k++) this.chars[k] = old[(this.charHead + k) & om] as number;
    const em = this.hashes.length - 1;
    for (let n = this.head; n < this.tail; n++) {
      const r = n & em;
      this.starts[r] = (this.starts[r] as number) - this.charHead;
    }
    this.charHead = 0;
    this.charTail = used;
  }
}
