import { hashId, hashIdBytes } from '../events/index.js';

/**
 * Cell ids interned as small integers (RuleContext.cellNo), with the ids nothing holds any
 * more freed and their numbers reused.
 *
 * Why freed: the ids come from the devices themselves (a report's `neighbors`: up to 1,024 per
 * check-in, any string), so a dictionary of every id ever heard would grow without limit under
 * one device sending fresh ids. Why this is safe: a number is freed only when no holder has it
 * (the engine marks what its device records hold), so two ids compared by number are equal
 * exactly when the strings are, before and after a sweep: no finding changes.
 */
export class CellNumbers {
  // An open-addressing table of its own, not a Map<string, number>: every neighbour of every
  // report is looked up here, and a probe of one small Int32Array (then one pointer compare: the
  // decoder hands out the same string instance for the same id) touches less memory than a
  // Map's buckets, entries and the key strings of other entries in the chain. A replayed
  // report's neighbours are probed with the line's bytes (numberOfBytes): no string per cell.
  /** slot -> number + 1 (0: empty); at most half full */
  private table = new Int32Array(1024);
  /** each number's hash (for the probe and for rebuilding the table) */
  private hashes = new Int32Array(1024);
  // The ids' characters also as bytes, back to back in one array (`chars`: each number's start
  // in `bytes`, -1 for an id with a character past 255, which no scanned bytes can equal): a
  // lookup from a line's bytes compares bytes with bytes in a few contiguous cache lines, not
  // with a string object of its own somewhere in the heap (a cache miss per neighbour: the
  // device side's working set keeps few of them cached). Compacted by each sweep.
  private chars = new Int32Array(1024);
  private bytes = new Uint8Array(16384);
  private bytesEnd = 0;
  private readonly names: (string | undefined)[] = [];
  private readonly free: number[] = [];
  private count = 0;
  /** the dictionary size at which the next sweep is due */
  private sweepAt: number;
  /** sweeps so far (engine.sizes().cellSweeps) */
  sweeps = 0;

  /** @param sweepMin the dictionary is swept no sooner than at this size */
  constructor(private readonly sweepMin = 4096) {
    this.sweepAt = sweepMin;
  }

  /** The id's number (a new one, or a freed one reused, for an id not held). */
  readonly no = (id: string): number => {
    const h = hashId(id);
    const table = this.table;
    const mask = table.length - 1;
    let i = h & mask;
    for (;;) {
      const v = table[i] as number;
      if (v === 0) break;
      if (this.hashes[v - 1] === h && this.names[v - 1] === id) return v - 1;
      i = (i + 1) & mask;
    }
    let n = this.free.pop();
    if (n === undefined) {
      n = this.names.length;
      this.names.push(id);
      if (n >= this.hashes.length) {
        const grown = new Int32Array(this.hashes.length * 2);
        grown.set(this.hashes);
        this.hashes = grown;
        const chars = new Int32Array(grown.length);
        chars.set(this.chars);
        this.chars = chars;
      }
    } else this.names[n] = id;
    this.hashes[n] = h;
    this.chars[n] = this.putBytes(id);
    table[i] = n + 1;
    if (++this.count * 2 > table.length) this.rebuild(table.length * 2);
    return n;
  };

  /**
   * The number of the id whose characters are the bytes buf[s, s+n) (ASCII, as the byte scanner
   * admits), or -1 when no id of those characters is interned (nor for an id over 255
   * characters, not kept as bytes: `no` finds it): a replayed report's neighbours are looked up
   * from the line's bytes, and only an id not held needs its string made (`no`).
   */
  numberOfBytes(buf: Uint8Array, s: number, n: number): number {
    const h = hashIdBytes(buf, s, n);
    const table = this.table;
    const mask = table.length - 1;
    let i = h & mask;
    const bytes = this.bytes;
    for (;;) {
      const v = table[i] as number;
      if (v === 0) return -1;
      if (this.hashes[v - 1] === h) {
        const at = this.chars[v - 1] as number;
        // the id's length is the byte before its characters (ids are at most 255 long when pooled)
        if (at >= 0 && bytes[at - 1] === n && sameBytes(bytes, at, buf, s, n)) return v - 1;
      }
      i = (i + 1) & mask;
    }
  }

  /**
   * Appends the id's length and characters to `bytes` (grown as needed); returns where the
   * characters start, or -1 for an id not pooled (a character past 255, or longer than 255).
   */
  private putBytes(id: string): number {
    const n = id.length;
    if (n > 255) return -1;
    for (let x = 0; x < n; x++) if (id.charCodeAt(x) > 255) return -1;
    if (this.bytesEnd + n + 1 > this.bytes.length) {
      let size = this.bytes.length * 2;
      while (size < this.bytesEnd + n + 1) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.bytes.subarray(0, this.bytesEnd));
      this.bytes = grown;
    }
    const bytes = this.bytes;
    bytes[this.bytesEnd] = n;
    const at = this.bytesEnd + 1;
    for (let x = 0; x < n; x++) bytes[at + x] = id.charCodeAt(x);
    this.bytesEnd = at + n;
    return at;
  }

  readonly name = (n: number): string => this.names[n] as string;

  /** ids interned now */
  get size(): number {
    return this.count;
  }

  /** numbers in use or free (the largest the dictionary has been) */
  get slots(): number {
    return this.names.length;
  }

  /** Has the dictionary grown enough since the last sweep to pay for another? */
  get sweepDue(): boolean {
    return this.count >= this.sweepAt;
  }

  /**
   * Mark and sweep: `markHeld` sets `mark[n] = 1` for every number a holder keeps and returns
   * how many it visited; every other id is dropped and its number freed. The caller must run it
   * only when no number is in flight outside the holders it marks (the engine: between reports,
   * never while one's neighbours are interned or judged). The next sweep waits until the
   * dictionary has grown by at least what this one cost (`records` visited and numbers held;
   * the slots are at most the largest dictionary seen), so the work per id interned stays
   * bounded whatever a device sends, and the dictionary within about twice what is held (plus
   * `records`, `sweepMin` and what is interned between two checks).
   */
  sweep(markHeld: (mark: Uint8Array) => number, records: number): void {
    this.sweeps++;
    const mark = new Uint8Array(this.names.length);
    const held = markHeld(mark);
    for (let n = 0; n < this.names.length; n++) {
      const id = this.names[n];
      if (id === undefined || mark[n] === 1) continue;
      this.count--;
      this.names[n] = undefined;
      this.free.push(n);
    }
    // The bytes of the ids kept, packed again (freed and reused numbers left theirs behind).
    this.bytes = new Uint8Array(Math.max(16384, this.bytes.length));
    this.bytesEnd = 0;
    for (let n = 0; n < this.names.length; n++) {
      const id = this.names[n];
      if (id !== undefined) this.chars[n] = this.putBytes(id);
    }
    // The table is sized for the ids kept (never below its first size), as the sweep itself is for the slots.
    let size = 1024;
    while (size < 2 * this.count + 2) size *= 2;
    this.rebuild(size);
    this.sweepAt = this.count + Math.max(this.sweepMin, this.count, held + records);
  }

  /** Puts every id held into a fresh table of `size` slots (a power of two). */
  private rebuild(size: number): void {
    const table = new Int32Array(size);
    const mask = size - 1;
    for (let n = 0; n < this.names.length; n++) {
      if (this.names[n] === undefined) continue;
      let i = (this.hashes[n] as number) & mask;
      while (table[i] !== 0) i = (i + 1) & mask;
      table[i] = n + 1;
    }
    this.table = table;
  }
}

/** Whether buf[s, s + n) equal bytes[at, at + n), compared from the end (ids share prefixes: MCC-MNC and more). */
function sameBytes(bytes: Uint8Array, at: number, buf: Uint8Array, s: number, n: number): boolean {
  for (let x = n - 1; x >= 0; x--) if (bytes[at + x] !== buf[s + x]) return false;
  return true;
}
