/**
 * The reading half of `femtoguard detect`: NDJSON bytes in, validated events out, deduplicated
 * and in event order, as batches of line bytes and scanner records that can cross to another
 * thread as transferred buffers. The engine's half (`ReplayFeed`, replay-feed.ts) decodes each batch and
 * processes it in that order, so the engine's thread never parses, validates, deduplicates
 * or holds an event for ten minutes of event time (it holds records here instead: a few
 * typed-array slots per event, nothing for its garbage collector).
 *
 * Order and idempotency come from the same OrderedIntake the engine's `push` uses (the live
 * server's path), so a replay and the live server order and drop the same events.
 */
import {
  copyRecord,
  createRecords,
  NdjsonSplitter,
  OrderedIntake,
  parseLine,
  REC_F64,
  REC_I32,
  recordIdLength,
  recordIdStart,
  recordTime,
  recordType,
  scanEvent,
  validateEvent,
  type EventRecords,
  type NdjsonLine,
} from '../events/index.js';
import { HeldEvents } from './held-events.js';
import type { DetectionConfig } from './config.js';
import { TypeCounts } from './type-counts.js';

export interface LineError {
  line: number;
  error: string;
}

/** The events part of `femtoguard detect`'s summary. */
export interface EventsSummary {
  lines: number;
  accepted: number;
  rejected: LineError[];
  rejectedCount: number;
  unknownTypes: Record<string, number>;
  duplicates: number;
  late: number;
  tooOld: number;
  /** lines the byte scanner read (the rest went through JSON.parse) */
  scanned: number;
}

const MAX_LISTED_ERRORS = 1000;

/** A line the scanner decoded into its record; any other accepted line is re-parsed from its bytes. */
export const SCANNED = 0;
export const PARSED = 1;

/**
 * Events in processing order: event i is the bytes `data[spans[2i], spans[2i+1])`; when
 * `kinds[i]` is SCANNED, row i of `rec` is its scanner record (offsets into `data`; the slots of
 * fields absent from it mean nothing: a reused batch keeps an older record's values there).
 */
export interface OrderedBatch {
  /** order number of the batch's first event in the stream (event i is number base + i) */
  base: number;
  rows: number;
  data: Uint8Array;
  kinds: Uint8Array;
  spans: Int32Array;
  rec: EventRecords;
}

const ROWS = 4096;
/**
 * Lines a batch takes as it is read: fewer than its rows as an outgoing batch, so that the few
 * events of other batches that go out among its own (stragglers) fit in it too (see Slab).
 */
const IN_ROWS = ROWS - 256;
const BYTES = 1 << 20;
/** Room after a batch's lines for the bytes of other batches' events that go out in it. */
const FOREIGN_ROOM = 1 << 17;

/**
 * A batch's memory in both of its roles. As read (`input`), lines are copied into `data` in the
 * order read and scanned into `rec` (this thread's); there an accepted event waits for its turn.
 * As the outgoing batch (`out`: shared with the engine threads), its rows are the events in
 * processing order: its own events point at their bytes where they were read (no copy), and the
 * events of other batches that go out among them (events read out of order, and any after the
 * batch could take no more) are copied in after its lines (`foreignPos`). A stream in time order
 * so copies each line once, from the chunk read, where it used to be copied a second time into
 * the outgoing batch.
 */
class Slab {
  readonly out: OrderedBatch;
  readonly data: Uint8Array;
  /** room for lines as read: data[0, cap); the rest is for other batches' events (FOREIGN_ROOM) */
  readonly cap: number;
  /** scanner records of the lines as read (row k: the k-th line read into the batch) */
  readonly rec = createRecords(IN_ROWS);
  rows = 0;
  pos = 0;
  /** its events accepted and not emitted yet: while any, the batch stays in memory */
  held = 0;
  /** where the next event of another batch goes, while this is the outgoing batch */
  foreignPos = 0;
  /** handed to the consumer, and not handed back (`reuse`) yet: nothing may write into it */
  sent = false;
  /** has been the outgoing batch since it was last recycled (it can be only once) */
  wasOut = false;
  constructor(bytes: number, shared: boolean) {
    this.cap = bytes;
    this.out = newOut(bytes + FOREIGN_ROOM, shared);
    this.data = this.out.data;
  }
}

/**
 * Batches none of whose events is held, out of the consumer's hands, kept for reuse:
 * allocating (and zeroing) the megabytes of a batch every 4,096 lines was a third of the
 * reader's garbage collection, since V8 runs a full collection per 64 MB of array buffers
 * allocated, and shared memory is freed only once every thread that saw it has collected it.
 */
const POOLED = 8;

/**
 * Events enter the intake in groups of this many lines, after the dedup table slots of the
 * whole group have been read one after the other: the table (megabytes: the ids of six hours)
 * misses the caches on nearly every new id, and this way the misses of a group overlap instead
 * of each stalling the thread in turn. The intake sees the same events in the same order.
 */
const LOOKAHEAD = 16;

/**
 * Batches kept alive by held events, besides the one being filled, past which the held
 * events are copied into fresh batches (ReplayReader.compact). A stream in time order holds
 * the ten minutes of the reorder horizon, a handful of batches; this bounds the case where
 * each batch keeps one event that waits while the rest of it, late, went out at once.
 */
const MAX_PINNED = 32;

/** The buffers of a batch: shared memory when two engine threads read the same batch. */
function newOut(bytes: number, shared: boolean): OrderedBatch {
  const mem = (n: number): ArrayBuffer => (shared ? (new SharedArrayBuffer(n) as unknown as ArrayBuffer) : new ArrayBuffer(n));
  return {
    base: 0,
    rows: 0,
    data: new Uint8Array(mem(bytes)),
    kinds: new Uint8Array(mem(ROWS)),
    spans: new Int32Array(mem(ROWS * 2 * 4)),
    rec: { i32: new Int32Array(mem(ROWS * REC_I32 * 4)), f64: new Float64Array(mem(ROWS * REC_F64 * 8)) },
  };
}

/** Event types in the order of the engine's count (EngineStats.byType keys appear in order first seen). */
const TYPE_NAMES = ['', 'femto.report', 'femto.session', 'ue.attach', 'ims.register', 'payment.auth', 'registry.update'] as const;
const TYPE_CODE: Record<string, number> = { 'femto.report': 1, 'femto.session': 2, 'ue.attach': 3, 'ims.register': 4, 'payment.auth': 5, 'registry.update': 6 };

export class ReplayReader {
  private readonly splitter = new NdjsonSplitter();
  /** accepted events waiting for their turn (what the reorder buffer holds: handles, no decoded event) */
  private readonly held = new HeldEvents<Slab>();
  private readonly order: OrderedIntake<number>;
  /** the last events read, not yet in the intake (handles, in the order read) */
  private readonly pending = new Int32Array(LOOKAHEAD);
  private pendingCount = 0;
  /**
   * The piece of the chunk being read that was copied into the input batch in one go: chunk
   * bytes [segStart, segEnd) are at segAt in segBatch. A line inside it needs no copy of its
   * own (one copy per chunk and batch instead of one per line, and no view object per line).
   */
  private segBuf: Buffer | null = null;
  private segStart = 0;
  private segEnd = 0;
  private segAt = 0;
  private segBatch: Slab | null = null;
  /** sum of the slots touched (kept so the reads are not optimized away) */
  private touched = 0;
  private readonly ev: EventsSummary = { lines: 0, accepted: 0, rejected: [], rejectedCount: 0, unknownTypes: {}, duplicates: 0, late: 0, tooOld: 0, scanned: 0 };
  private input: Slab;
  /** the outgoing batch being filled, or none (the next event's turn picks one) */
  private outSlab: Slab | null = null;
  /** spare batches (see POOLED) */
  private readonly pool: Slab[] = [];
  /** the batch of each outgoing batch handed out, for `reuse` */
  private readonly slabOf = new WeakMap<OrderedBatch, Slab>();
  /** earlier batches that held events keep alive */
  private readonly pinned = new Set<Slab>();
  /** compact past this many pinned batches (doubles when the events held really fill that many) */
  private pinLimit = MAX_PINNED;
  /** events emitted so far (the next one's order number) */
  private emitted = 0;
  /** events emitted per type, and the types in the order first emitted (the engine's byType) */
  private readonly typeCounts = new TypeCounts(TYPE_NAMES);

  private readonly fastScan: boolean;
  private readonly shared: boolean;

  /** `onBatch` receives each full batch (and the last one at `end`); it owns it until it hands it back through `reuse`. */
  constructor(
    config: DetectionConfig,
    private readonly onBatch: (b: OrderedBatch) => void,
    opts: {
      /** false: every line through JSON.parse (the reference the scanner is tested against) */
      fastScan?: boolean;
      /** batches in shared memory (two engine threads read each) */
      shared?: boolean;
    } = {},
  ) {
    this.fastScan = opts.fastScan !== false;
    this.shared = opts.shared === true;
    this.input = this.newBatch(0);
    this.order = new OrderedIntake<number>(config.maxOutOfOrderMs, config.dedupWindowMs, (h) => this.emit(h), this.held);
  }

  /**
   * The consumer is done with batch `b` (sent through `onBatch`), and nothing reads its memory
   * any more: a later batch may be written into it. Allocating (and zeroing) fresh memory for
   * every batch was gigabytes over a long replay, and shared memory is freed only once every
   * thread that saw the batch has collected it. A batch never handed back is left to the
   * garbage collector once its events have all gone out.
   */
  reuse(b: OrderedBatch): void {
    const s = this.slabOf.get(b);
    if (s === undefined || !s.sent) return;
    s.sent = false;
    this.letGo(s);
  }

  /** Reads a chunk of the input (any cut: lines may span chunks). */
  push(chunk: Buffer): void {
    this.splitter.pushRaw(chunk, this.onRaw, this.onError);
    this.segBuf = null; // the caller may reuse the chunk's memory
  }

  /** End of input: everything still waiting goes out, then the last batch. */
  end(): void {
    this.splitter.endRaw(this.onRaw, this.onError);
    this.segBuf = null;
    this.drainPending();
    this.order.reorder.flush();
    this.send();
  }

  summary(): EventsSummary {
    return { ...this.ev, duplicates: this.order.duplicates, late: this.order.late, tooOld: this.order.tooOld };
  }

  /** Events emitted in order, by type in the order first emitted: what one engine counts as `byType`. */
  emittedByType(): Record<string, number> {
    return this.typeCounts.byType();
  }

  private readonly onError = (l: NdjsonLine): void => {
    this.ev.lines++;
    this.reject(l.line, 'error' in l ? l.error : 'unreadable line');
  };

  private readonly onRaw = (buf: Buffer, start: number, end: number, line: number, bytes: number): void => {
    this.ev.lines++;
    const len = end - start;
    let inb = this.input;
    const copied = buf === this.segBuf && this.segBatch === inb && start >= this.segStart && end <= this.segEnd;
    if (inb.rows === IN_ROWS || (!copied && inb.pos + len > inb.cap)) {
      this.retireInput(len);
      inb = this.input;
    }
    let at: number;
    if (copied && this.segBatch === inb) at = this.segAt + (start - this.segStart);
    else {
      // This line and the rest of the chunk, as far as the batch has room: the lines after it come from there.
      at = inb.pos;
      const n = Math.min(buf.length - start, inb.cap - at);
      inb.data.set(buf.subarray(start, start + n), at);
      this.segBuf = buf;
      this.segStart = start;
      this.segEnd = start + n;
      this.segAt = at;
      this.segBatch = inb;
    }
    const row = inb.rows;
    let h: number;
    if (this.fastScan && scanEvent(inb.data, at, at + len, inb.rec, row)) {
      this.ev.scanned++;
      const id = recordIdStart(inb.rec, row);
      h = this.held.alloc(inb, row, at, at + len, recordTime(inb.rec, row), SCANNED, recordType(inb.rec, row), id === -1 ? -1 : id - at, recordIdLength(inb.rec, row), undefined);
    } else {
      const l = parseLine(buf, start, end, line, bytes);
      if ('error' in l) return this.reject(line, l.error);
      const v = validateEvent(l.value);
      if (!v.ok) {
        if ('unknownType' in v) this.ev.unknownTypes[v.unknownType] = (this.ev.unknownTypes[v.unknownType] ?? 0) + 1;
        else this.reject(line, v.error);
        return;
      }
      h = this.held.alloc(inb, row, at, at + len, v.event.t, PARSED, TYPE_CODE[v.event.type] as number, -1, 0, v.event.id);
    }
    inb.rows++;
    inb.pos = at + len;
    this.ev.accepted++;
    inb.held++;
    this.pending[this.pendingCount++] = h;
    if (this.pendingCount === LOOKAHEAD) {
      // The group's dedup slots first (see LOOKAHEAD), then the group.
      let sum = 0;
      const held = this.held;
      for (let k = 0; k < LOOKAHEAD; k++) {
        const p = this.pending[k] as number;
        if (held.idOff[p] !== -1) sum += this.order.touchId(held.idHash[p] as number);
      }
      this.touched += sum;
      this.drainPending();
    }
  };

  /** The input batch is done (full, or sent as the outgoing batch): a fresh one, with room for a line of `len` bytes. */
  private retireInput(len: number): void {
    const full = this.input;
    this.input = this.newBatch(len);
    if (full.held > 0) this.pinned.add(full);
    else this.letGo(full);
    if (this.pinned.size > this.pinLimit) this.compact();
    // A window that needed more room once need not keep it: back to the bound when it shrank.
    else if (this.pinned.size <= MAX_PINNED) this.pinLimit = MAX_PINNED;
  }

  /** The event's turn to enter the intake (dedup, then order). */
  private intake(h: number): void {
    if (!this.order.push(h)) {
      this.release(this.held.src[h] as Slab);
      this.held.release(h);
    }
  }

  /** Every event read goes into the intake, in the order read. */
  private drainPending(): void {
    const n = this.pendingCount;
    this.pendingCount = 0;
    for (let k = 0; k < n; k++) this.intake(this.pending[k] as number);
  }

  /** One event of `b` went out (or was dropped): the batch may be let go. */
  private release(b: Slab): void {
    if (--b.held === 0) {
      this.pinned.delete(b);
      this.letGo(b);
    }
  }

  /** Recycles `b` if nothing needs it any more: no event held, not being filled, not in the consumer's hands. */
  private letGo(b: Slab): void {
    if (b.held !== 0 || b.sent || b === this.input || b === this.outSlab) return;
    if (b.cap !== BYTES || this.pool.length >= POOLED) return;
    // Its records need no zeroing: readers go by each record's presence mask.
    b.rows = 0;
    b.pos = 0;
    b.wasOut = false;
    b.out.rows = 0;
    this.pool.push(b);
  }

  /** An empty batch with room for a line of `len` bytes: a pooled one when it has. */
  private newBatch(len: number): Slab {
    const s = len > BYTES ? new Slab(len, this.shared) : (this.pool.pop() ?? new Slab(BYTES, this.shared));
    this.slabOf.set(s.out, s);
    return s;
  }

  /**
   * Copies every held event that lives in an earlier batch into fresh batches, so those
   * batches can be collected: memory then follows the events held, not the batches they came in.
   */
  private compact(): void {
    let to = this.newBatch(0);
    const held = this.held;
    const move = (h: number): void => {
      const src = held.src[h] as Slab;
      if (src === this.input) return;
      const start = held.start[h] as number;
      const len = (held.end[h] as number) - start;
      if (to.rows === IN_ROWS || to.pos + len > to.cap) to = this.newBatch(len);
      const at = to.pos;
      to.data.set(src.data.subarray(start, start + len), at);
      if (held.kind[h] === SCANNED) copyRecord(src.rec, held.row[h] as number, to.rec, to.rows, at - start);
      held.src[h] = to;
      held.row[h] = to.rows++;
      held.start[h] = at;
      held.end[h] = at + len;
      to.pos = at + len;
      if (to.held++ === 0) this.pinned.add(to);
      this.release(src);
    };
    this.order.reorder.forEachHeld(move);
    for (let k = 0; k < this.pendingCount; k++) move(this.pending[k] as number);
    if (to.held === 0) this.letGo(to);
    this.compactions++;
    // Densely packed now: if they still fill the limit, a bigger horizon needs more room.
    this.pinLimit = Math.max(MAX_PINNED, 2 * this.pinned.size);
  }

  /** batches kept alive by held events (for the bounded-memory test) */
  get pinnedBatches(): number {
    return this.pinned.size;
  }

  /** times held events were moved out of their batches (see MAX_PINNED) */
  compactions = 0;

  private reject(line: number, error: string): void {
    this.ev.rejectedCount++;
    if (this.ev.rejected.length < MAX_LISTED_ERRORS) this.ev.rejected.push({ line, error });
  }

  /** The event's turn: its row of the outgoing batch (its bytes copied only when they are in another batch). */
  private emit(h: number): void {
    const held = this.held;
    const src = held.src[h] as Slab;
    const start = held.start[h] as number;
    const len = (held.end[h] as number) - start;
    const kind = held.kind[h] as number;
    let s = this.outSlab;
    // The outgoing batch moves on to the batch of this event once its own events have all gone
    // out (and no more lines come into it): from there on, that batch's events need no copy.
    if (s !== src && !src.wasOut && (s === null || (s.held === 0 && s !== this.input))) {
      this.send();
      s = this.begin(src);
    } else if (s === null || s.out.rows === ROWS || (s !== src && s.foreignPos + len > s.data.length)) {
      this.send();
      s = this.begin(src.wasOut ? this.newBatch(len) : src);
    }
    const out = s.out;
    let at = start;
    if (s !== src) {
      at = s.foreignPos;
      s.data.set(src.data.subarray(start, start + len), at);
      s.foreignPos = at + len;
    }
    this.emitted++;
    this.typeCounts.add(held.type[h] as number);
    const i = out.rows++;
    out.kinds[i] = kind;
    out.spans[2 * i] = at;
    out.spans[2 * i + 1] = at + len;
    if (kind === SCANNED) copyRecord(src.rec, held.row[h] as number, out.rec, i, at - start);
    this.release(src);
    held.release(h);
  }

  /** `s` becomes the outgoing batch; other batches' events go after its lines (after all it may take, while lines still come in). */
  private begin(s: Slab): Slab {
    this.outSlab = s;
    s.wasOut = true;
    s.out.base = this.emitted;
    s.out.rows = 0;
    s.foreignPos = s === this.input ? s.cap : s.pos;
    return s;
  }

  /** Hands the outgoing batch to the consumer (an empty one is only let go). */
  private send(): void {
    const s = this.outSlab;
    if (s === null) return;
    this.outSlab = null;
    if (s.out.rows === 0) {
      this.letGo(s);
      return;
    }
    s.sent = true;
    // No line may be written into memory the consumer reads from now on.
    if (s === this.input) this.retireInput(0);
    this.onBatch(s.out);
  }
}
