/**
 * The events the reader of `femtoguard detect` holds for the out-of-order horizon, as integer
 * handles into typed arrays (a handle is reused once its event has gone out or was dropped).
 * The ordering (OrderedIntake) holds the handles: no object and no id string per event, so
 * the tens of thousands of events of ten minutes of event time are nothing for the garbage
 * collector to copy or trace (they were most of the reader's garbage collection).
 *
 * An event's id is its line's bytes where the scanner read one (printable ASCII: one byte is
 * one UTF-16 code unit), or the string the ordinary path parsed. Order and dedup read either
 * exactly as they read the string: the same order and the same drops as the engine's own intake.
 */
import { hashIdBytes, type DedupWindow } from '../events/index.js';

/** Where an event's line lives (ReplayReader's input batch). */
export interface LineStore {
  readonly data: Uint8Array;
}

const NO_ID = -1;

export class HeldEvents<B extends LineStore> {
  /** event time `t` */
  t: Float64Array = new Float64Array(1024);
  /** row of the event's record in its batch, and its line's bytes `data[start, end)` */
  row: Int32Array = new Int32Array(1024);
  start: Int32Array = new Int32Array(1024);
  end: Int32Array = new Int32Array(1024);
  /** id bytes at `data[start + idOff, + idLen)`, idOff -1 when none there (none at all, or a parsed id in `parsedIds`) */
  idOff: Int32Array = new Int32Array(1024);
  idLen: Int32Array = new Int32Array(1024);
  /** hashIdBytes of the id bytes (when idOff is not -1) */
  idHash: Int32Array = new Int32Array(1024);
  /** ReplayReader's SCANNED / PARSED, and recordType's numbering */
  kind: Uint8Array = new Uint8Array(1024);
  type: Uint8Array = new Uint8Array(1024);
  /** the batch holding the line */
  src: (B | undefined)[] = [];
  /** ids of events the ordinary path parsed (rare: undefined for every scanned event) */
  parsedIds: (string | undefined)[] = [];
  private free = new Int32Array(1024);
  private freeCount = 0;
  /** handles ever handed out (the next new one) */
  private top = 0;

  /** A handle for a new event: `idOff` is its id's offset in the line (-1: none) unless `parsedId` gives it. */
  alloc(src: B, row: number, start: number, end: number, t: number, kind: number, type: number, idOff: number, idLen: number, parsedId: string | undefined): number {
    let h: number;
    if (this.freeCount > 0) h = this.free[--this.freeCount] as number;
    else {
      h = this.top++;
      if (h === this.t.length) this.grow();
    }
    this.src[h] = src;
    this.row[h] = row;
    this.start[h] = start;
    this.end[h] = end;
    this.t[h] = t;
    this.kind[h] = kind;
    this.type[h] = type;
    this.idOff[h] = parsedId === undefined ? idOff : NO_ID;
    this.idLen[h] = idLen;
    if (parsedId === undefined && idOff !== NO_ID) this.idHash[h] = hashIdBytes(src.data, start + idOff, idLen);
    if (parsedId !== undefined) this.parsedIds[h] = parsedId;
    return h;
  }

  /** The event went out (or was dropped): its handle may be reused. */
  release(h: number): void {
    this.src[h] = undefined;
    if (this.idOff[h] === NO_ID && h < this.parsedIds.length) this.parsedIds[h] = undefined;
    if (this.freeCount === this.free.length) {
      const f = new Int32Array(this.free.length * 2);
      f.set(this.free);
      this.free = f;
    }
    this.free[this.freeCount++] = h;
  }

  /** handles in use */
  get size(): number {
    return this.top - this.freeCount;
  }

  private grow(): void {
    const n = this.t.length * 2;
    const f64 = (a: Float64Array): Float64Array => {
      const b = new Float64Array(n);
      b.set(a);
      return b;
    };
    const i32 = (a: Int32Array): Int32Array => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    const u8 = (a: Uint8Array): Uint8Array => {
      const b = new Uint8Array(n);
      b.set(a);
      return b;
    };
    this.t = f64(this.t);
    this.row = i32(this.row);
    this.start = i32(this.start);
    this.end = i32(this.end);
    this.idOff = i32(this.idOff);
    this.idLen = i32(this.idLen);
    this.idHash = i32(this.idHash);
    this.kind = u8(this.kind);
    this.type = u8(this.type);
  }

  time = (h: number): number => this.t[h] as number;

  /** reorder.ts `precedes` on handles: time, then id when both have one and they differ (code unit order), then arrival. */
  precedes = (a: number, as: number, b: number, bs: number): boolean => {
    const ta = this.t[a] as number;
    const tb = this.t[b] as number;
    if (ta !== tb) return ta < tb;
    const c = this.compareIds(a, b);
    if (c !== 0) return c < 0;
    return as < bs;
  };

  /** OrderedIntake's dedup check on the event's id (bytes or parsed string). */
  isDuplicate = (dedup: DedupWindow, h: number, now: number): boolean => {
    const off = this.idOff[h] as number;
    if (off !== NO_ID) return dedup.isDuplicateBytes((this.src[h] as B).data, (this.start[h] as number) + off, this.idLen[h] as number, this.idHash[h] as number, this.t[h] as number, now);
    const id = this.parsedIds[h];
    return id !== undefined && dedup.isDuplicate(id, this.t[h] as number, now);
  };

  /** Sign of the comparison of the ids of a and b (as strings compare: UTF-16 code units), 0 when they are equal or either has none. */
  private compareIds(a: number, b: number): number {
    const ao = this.idOff[a] as number;
    const bo = this.idOff[b] as number;
    const as = ao === NO_ID ? this.parsedIds[a] : undefined;
    const bs = bo === NO_ID ? this.parsedIds[b] : undefined;
    if ((ao === NO_ID && as === undefined) || (bo === NO_ID && bs === undefined)) return 0;
    if (as !== undefined && bs !== undefined) return as === bs ? 0 : as < bs ? -1 : 1;
    const al = as !== undefined ? as.length : (this.idLen[a] as number);
    const bl = bs !== undefined ? bs.length : (this.idLen[b] as number);
    const ad = (this.src[a] as B).data;
    const bd = (this.src[b] as B).data;
    const ap = (this.start[a] as number) + ao;
    const bp = (this.start[b] as number) + bo;
    const n = Math.min(al, bl);
    for (let k = 0; k < n; k++) {
      const x = as !== undefined ? as.charCodeAt(k) : (ad[ap + k] as number);
      const y = bs !== undefined ? bs.charCodeAt(k) : (bd[bp + k] as number);
      if (x !== y) return x < y ? -1 : 1;
    }
    return al === bl ? 0 : al < bl ? -1 : 1;
  }
}
