/**
 * The reading half of `femtoguard detect`: NDJSON bytes in, validated events out, deduplicated
 * and in event order, as batches of line bytes and scanner records that can cross to another
 * thread as transferred buffers. The engine's half (`ReplayFeed`) decodes each batch and
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
  EventDecoder,
  NdjsonSplitter,
  OrderedIntake,
  parseLine,
  recordTime,
  scanEvent,
  validateEvent,
  type EventRecords,
  type FgEvent,
  type NdjsonLine,
  type Timed,
} from '../events/index.js';
import type { DetectionConfig } from './config.js';
import type { Engine } from './engine.js';

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
 * `kinds[i]` is SCANNED, row i of `rec` is its scanner record (offsets into `data`).
 */
export interface OrderedBatch {
  rows: number;
  data: Uint8Array;
  kinds: Uint8Array;
  spans: Int32Array;
  rec: EventRecords;
}

/** Buffers a batch hands over to another thread (each once: a transfer list must not repeat one). */
export function batchBuffers(b: OrderedBatch): ArrayBuffer[] {
  return [...new Set([b.data.buffer, b.kinds.buffer, b.spans.buffer, b.rec.i32.buffer, b.rec.f64.buffer])] as ArrayBuffer[];
}

const ROWS = 4096;
const BYTES = 1 << 20;

/** Lines as read, before ordering: where an accepted event waits until its turn. */
class InBatch {
  readonly data: Uint8Array;
  readonly rec = createRecords(ROWS);
  rows = 0;
  pos = 0;
  constructor(bytes: number) {
    this.data = new Uint8Array(bytes);
  }
}

/** An accepted event waiting for its turn (what the reorder buffer holds: no decoded event). */
class Waiting implements Timed {
  constructor(
    readonly t: number,
    readonly id: string | undefined,
    readonly src: InBatch,
    readonly row: number,
    readonly start: number,
    readonly end: number,
    readonly kind: number,
  ) {}
}

function newOut(bytes: number): OrderedBatch {
  return { rows: 0, data: new Uint8Array(new ArrayBuffer(bytes)), kinds: new Uint8Array(ROWS), spans: new Int32Array(ROWS * 2), rec: createRecords(ROWS) };
}

export class ReplayReader {
  private readonly splitter = new NdjsonSplitter();
  private readonly ids = new EventDecoder({ cacheBits: 1 });
  private readonly order: OrderedIntake<Waiting>;
  private readonly ev: EventsSummary = { lines: 0, accepted: 0, rejected: [], rejectedCount: 0, unknownTypes: {}, duplicates: 0, late: 0, tooOld: 0, scanned: 0 };
  private input = new InBatch(BYTES);
  private out = newOut(BYTES);
  private outPos = 0;

  /**
   * `onBatch` receives each full batch (and the last one at `end`); it owns it from then on.
   * `fastScan: false` sends every line through JSON.parse (the reference the scanner is tested against).
   */
  constructor(
    config: DetectionConfig,
    private readonly onBatch: (b: OrderedBatch) => void,
    private readonly fastScan = true,
  ) {
    this.order = new OrderedIntake<Waiting>(config.maxOutOfOrderMs, config.dedupWindowMs, (w) => this.emit(w));
  }

  /** Reads a chunk of the input (any cut: lines may span chunks). */
  push(chunk: Buffer): void {
    this.splitter.pushRaw(chunk, this.onRaw, this.onError);
  }

  /** End of input: everything still waiting goes out, then the last batch. */
  end(): void {
    this.splitter.endRaw(this.onRaw, this.onError);
    this.order.reorder.flush();
    this.send();
  }

  summary(): EventsSummary {
    return { ...this.ev, duplicates: this.order.duplicates, late: this.order.late, tooOld: this.order.tooOld };
  }

  private readonly onError = (l: NdjsonLine): void => {
    this.ev.lines++;
    this.reject(l.line, 'error' in l ? l.error : 'unreadable line');
  };

  private readonly onRaw = (buf: Buffer, start: number, end: number, line: number, bytes: number): void => {
    this.ev.lines++;
    const len = end - start;
    let inb = this.input;
    if (inb.rows === ROWS || inb.pos + len > inb.data.length) this.input = inb = new InBatch(Math.max(BYTES, len));
    const at = inb.pos;
    inb.data.set(buf.subarray(start, end), at);
    const row = inb.rows;
    let w: Waiting;
    if (this.fastScan && scanEvent(inb.data, at, at + len, inb.rec, row)) {
      this.ev.scanned++;
      w = new Waiting(recordTime(inb.rec, row), this.ids.id(inb.data, inb.rec, row), inb, row, at, at + len, SCANNED);
    } else {
      const l = parseLine(buf, start, end, line, bytes);
      if ('error' in l) return this.reject(line, l.error);
      const v = validateEvent(l.value);
      if (!v.ok) {
        if ('unknownType' in v) this.ev.unknownTypes[v.unknownType] = (this.ev.unknownTypes[v.unknownType] ?? 0) + 1;
        else this.reject(line, v.error);
        return;
      }
      w = new Waiting(v.event.t, v.event.id, inb, row, at, at + len, PARSED);
    }
    inb.rows++;
    inb.pos += len;
    this.ev.accepted++;
    this.order.push(w);
  };

  private reject(line: number, error: string): void {
    this.ev.rejectedCount++;
    if (this.ev.rejected.length < MAX_LISTED_ERRORS) this.ev.rejected.push({ line, error });
  }

  /** The event's turn: its bytes (and record) are copied into the outgoing batch. */
  private emit(w: Waiting): void {
    const len = w.end - w.start;
    let out = this.out;
    if (out.rows === ROWS || this.outPos + len > out.data.length) {
      this.send();
      if (len > this.out.data.length) this.out = newOut(len);
      out = this.out;
    }
    const at = this.outPos;
    out.data.set(w.src.data.subarray(w.start, w.end), at);
    const i = out.rows++;
    out.kinds[i] = w.kind;
    out.spans[2 * i] = at;
    out.spans[2 * i + 1] = at + len;
    if (w.kind === SCANNED) copyRecord(w.src.rec, w.row, out.rec, i, at - w.start);
    this.outPos = at + len;
  }

  private send(): void {
    if (this.out.rows === 0) return;
    const b = this.out;
    this.out = newOut(BYTES);
    this.outPos = 0;
    this.onBatch(b);
  }
}

/**
 * The engine's half: decodes each ordered batch and hands the events to the engine in that
 * order (`processOrdered`: the reader has deduplicated and ordered them already).
 */
export class ReplayFeed {
  private readonly decoder = new EventDecoder();

  constructor(private readonly engine: Engine) {}

  consume(b: OrderedBatch): void {
    const buf = Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength);
    for (let i = 0; i < b.rows; i++) this.engine.processOrdered(b.kinds[i] === SCANNED ? this.decoder.decode(buf, b.rec, i) : reparse(buf, b.spans[2 * i] as number, b.spans[2 * i + 1] as number));
  }
}

/** A line the reader validated already, parsed again on this side (lines the scanner left: rare). */
function reparse(buf: Buffer, start: number, end: number): FgEvent {
  const v = validateEvent(JSON.parse(buf.toString('utf8', start, end)));
  if (!v.ok) throw new Error('an event the reader accepted failed validation on the engine side');
  return v.event;
}
