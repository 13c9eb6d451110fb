/**
 * Deduplication on event ids (FORMATS.md §1), shared by the engine's intake (OrderedIntake)
 * and the reader of `femtoguard detect`, which checks ids from their bytes.
 */
/**
 * 32-bit FNV-1a over the UTF-16 code units, finished with the murmur3 mix so low bits spread:
 * the ids' hash here, and the string hash of the detection engine's own open-addressing tables
 * (cell numbers, device records).
 */
export function hashId(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

/** hashId of the id whose characters are the bytes buf[s, s+n) (each byte one UTF-16 code unit: ASCII ids, as the byte scanner admits). */
export function hashIdBytes(buf: Uint8Array, s: number, n: number): number {
  let h = 0x811c9dc5;
  for (let i = s; i < s + n; i++) h = Math.imul(h ^ (buf[i] as number), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

const MIN_SLOTS = 1 << 12;
const NO_BYTES = new Uint8Array(0);
const MIN_ENTRIES = 1 << 11;
/** Slots in use (live or expired) may fill this share of the table (as n/8) before it is swept. */
const MAX_USED_EIGHTHS = 6;
/** Slot values count entries from `base`; the table is swept (`base` moved up to `head`) before they could overflow an Int32. */
const MAX_NUMBER_SPAN = 2 ** 30;

/**
 * Idempotency on `id` (FORMATS.md §1: the same id twice must not double-count). Ids are
 * remembered for `windowMs` of event time, so memory stays bounded on an endless stream.
 *
 * This is the largest piece of the engine's memory (one entry per id in the window: 780,000
 * for six hours of a 20,000-cell fleet) and is on the hot path, so it holds no JavaScript
 * object per id. The ids' characters sit in a ring of UTF-16 code units, each entry's time
 * and place in that ring in parallel rings (oldest first: the expiry queue), and an
 * open-addressing table (linear probing) maps a hash to its entry. All typed arrays: nothing
 * for the garbage collector to trace or copy, and a JS Set's periodic rehash of a table of
 * hundreds of thousands of entries (garbage of tens of MB each time) does not happen.
 *
 * The table is far larger than the caches, so what an id costs is the random cache lines (and
 * pages) it touches. So:
 * - each slot holds its entry's number and full 32-bit hash side by side: a probe compares
 *   hashes inside the table and reads the entry's characters only on a full hash match, which
 *   for a new id (nearly every id) almost never happens;
 * - expiry does not touch the table: a slot whose entry number is below `head` is expired,
 *   never matches, and is reused by the next insert whose probe passes it. Expired slots are
 *   swept in place, in one pass in slot order, once slots in use pass 6/8 of the table; a
 *   resize walks the old table in order, so it writes the new one nearly in order too.
 * Per new id that is one random place in memory (the probe, whose insert lands in the same
 * line) instead of one per probed entry plus a second probe and shift on expiry.
 */
export class DedupWindow {
  /** slot i is the pair [2i] = entry number - base + 1 (0 for an empty slot), [2i+1] = that entry's hash */
  private slots = new Int32Array(MIN_SLOTS * 2);
  /** number of slots - 1 (a power of two minus one) */
  private slotMask = MIN_SLOTS - 1;
  /** entry number that slot value 1 stands for (`head` when the table was last built) */
  private base = 0;
  /** slots holding an entry, live or expired */
  private used = 0;
  /** where the last unsuccessful `find` would put that id: its first expired slot, else the empty slot it stopped at */
  private freeSlot = 0;
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
    if (this.find(h, id, NO_BYTES, 0, id.length) !== -1) {
      this.duplicates++;
      return true;
    }
    this.append(h, id, NO_BYTES, 0, id.length, t);
    this.expire(now);
    return false;
  }

  /**
   * isDuplicate of the id whose characters are the bytes buf[s, s+n), one UTF-16 code unit per
   * byte (ASCII: what the byte scanner admits), without making it a string. The same window as
   * isDuplicate's: an id given either way matches the same id given the other way. `h` is
   * hashIdBytes(buf, s, n), which the caller has computed already (to touch its slot early).
   */
  isDuplicateBytes(buf: Uint8Array, s: number, n: number, h: number, t: number, now: number): boolean {
    if (this.find(h, null, buf, s, n) !== -1) {
      this.duplicates++;
      return true;
    }
    this.append(h, null, buf, s, n, t);
    this.expire(now);
    return false;
  }

  /**
   * Reads the table slot where an id of hash `h` starts its probe, so that a later isDuplicate
   * of it finds that cache line (and page) loaded: a caller that knows the next ids can have
   * their cache misses overlap instead of waiting for each in turn. Answers nothing.
   */
  touch(h: number): number {
    return this.slots[2 * (h & this.slotMask)] as number;
  }

  /** Drops the entries older than the window at `now`. */
  private expire(now: number): void {
    // The queue is in arrival order: it stops at the first id still inside the window, as a
    // queue must (an id leaves only from the head).
    const horizon = now - this.windowMs;
    const em = this.times.length - 1;
    while (this.head < this.tail && (this.times[this.head & em] as number) < horizon) {
      const r = this.head & em;
      this.head++;
      this.charHead = (this.starts[r] as number) + (this.lengths[r] as number);
    }
    const slotCount = this.slotMask + 1;
    if (this.tail - this.head < slotCount >> 3 && slotCount > MIN_SLOTS) this.rebuild(slotCount >> 1);
  }

  get size(): number {
    return this.tail - this.head;
  }

  /**
   * Ring index of the live entry holding the id, or -1 (and then `freeSlot` is where it would
   * go). The id is the string `id` (of length n), or when that is null the bytes buf[s, s+n).
   */
  private find(h: number, id: string | null, buf: Uint8Array, s0: number, n: number): number {
    const slots = this.slots;
    const mask = this.slotMask;
    // Slot values below this belong to expired entries.
    const firstLive = this.head - this.base + 1;
    let free = -1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const s = slots[2 * i] as number;
      if (s === 0) {
        this.freeSlot = free === -1 ? i : free;
        return -1;
      }
      if (s < firstLive) {
        if (free === -1) free = i;
      } else if (slots[2 * i + 1] === h) {
        const r = (s - 1 + this.base) & (this.times.length - 1);
        if (this.holds(r, id, buf, s0, n)) return r;
      }
    }
  }

  /** Whether entry `r` is the id (as in `find`; called only when the hashes match). */
  private holds(r: number, id: string | null, buf: Uint8Array, s: number, n: number): boolean {
    if (this.lengths[r] !== n) return false;
    const start = this.starts[r] as number;
    const chars = this.chars;
    const cm = chars.length - 1;
    if (id !== null) {
      for (let k = 0; k < n; k++) if (chars[(start + k) & cm] !== id.charCodeAt(k)) return false;
    } else {
      for (let k = 0; k < n; k++) if (chars[(start + k) & cm] !== buf[s + k]) return false;
    }
    return true;
  }

  /** Adds the id (as in `find`) as the newest entry, in `freeSlot` (from the `find` that just missed it). */
  private append(h: number, id: string | null, buf: Uint8Array, s: number, len: number, t: number): void {
    if (this.tail - this.head === this.times.length) this.growEntries();
    while (this.charTail - this.charHead + len > this.chars.length) this.growChars();
    const n = this.tail;
    const r = n & (this.times.length - 1);
    this.tail++;
    this.times[r] = t;
    this.starts[r] = this.charTail;
    this.lengths[r] = len;
    const cm = this.chars.length - 1;
    const chars = this.chars;
    const at = this.charTail;
    if (id !== null) for (let k = 0; k < len; k++) chars[(at + k) & cm] = id.charCodeAt(k);
    else for (let k = 0; k < len; k++) chars[(at + k) & cm] = buf[s + k] as number;
    this.charTail += len;
    const slot = this.freeSlot;
    if (this.slots[2 * slot] === 0) this.used++;
    this.slots[2 * slot] = n - this.base + 1;
    this.slots[2 * slot + 1] = h;
    const slotCount = this.slotMask + 1;
    const live = this.tail - this.head;
    if (live * 2 > slotCount) this.rebuild(slotCount << 1);
    else if (this.used * 8 > slotCount * MAX_USED_EIGHTHS || this.tail - this.base > MAX_NUMBER_SPAN) this.sweep();
  }

  /**
   * Empties every expired slot in place and renumbers the live ones from `head`. One pass in
   * slot order, starting after an empty slot (so no probe chain is entered in its middle):
   * each live entry moves back to the first hole between its home and where it is, which
   * keeps every slot from an entry's home up to the entry occupied, the linear-probing rule.
   * Holes behind the pass are never refilled except by such a move, so the rule holds at the end.
   */
  private sweep(): void {
    const slots = this.slots;
    const mask = this.slotMask;
    const firstLive = this.head - this.base + 1;
    const shift = this.base - this.head;
    let e = 0;
    while (slots[2 * e] !== 0) e++;
    for (let k = 1; k <= mask + 1; k++) {
      const j = (e + k) & mask;
      const s = slots[2 * j] as number;
      if (s === 0) continue;
      if (s < firstLive) {
        slots[2 * j] = 0;
        continue;
      }
      const h = slots[2 * j + 1] as number;
      let p = h & mask;
      while (p !== j && slots[2 * p] !== 0) p = (p + 1) & mask;
      if (p !== j) slots[2 * j] = 0;
      slots[2 * p] = s + shift;
      slots[2 * p + 1] = h;
    }
    this.base = this.head;
    this.used = this.tail - this.head;
  }

  /**
   * A table of `size` slots (a power of two) holding every live entry and no expired one.
   * Walks the old table in slot order, so the inserts (at the same or a doubled/halved home)
   * go through the new table nearly in order as well.
   */
  private rebuild(size: number): void {
    const old = this.slots;
    const oldBase = this.base;
    const count = Math.max(MIN_SLOTS, size);
    const slots = new Int32Array(count * 2);
    const mask = count - 1;
    const firstLive = this.head - oldBase + 1;
    const shift = oldBase - this.head;
    for (let i = 0; i < old.length; i += 2) {
      const s = old[i] as number;
      if (s < firstLive) continue; // empty (0) or expired
      const h = old[i + 1] as number;
      let j = h & mask;
      while (slots[2 * j] !== 0) j = (j + 1) & mask;
      slots[2 * j] = s + shift;
      slots[2 * j + 1] = h;
    }
    this.slots = slots;
    this.slotMask = mask;
    this.base = this.head;
    this.used = this.tail - this.head;
  }

  /** Doubles the entry rings; each live entry keeps its number, so the table stays valid. */
  private growEntries(): void {
    const old = { times: this.times, starts: this.starts, lengths: this.lengths };
    const size = old.times.length * 2;
    this.times = new Float64Array(size);
    this.starts = new Float64Array(size);
    this.lengths = new Int32Array(size);
    const om = old.times.length - 1;
    const nm = size - 1;
    for (let n = this.head; n < this.tail; n++) {
      this.times[n & nm] = old.times[n & om] as number;
      this.starts[n & nm] = old.starts[n & om] as number;
      this.lengths[n & nm] = old.lengths[n & om] as number;
    }
  }

  /** Doubles the character ring, the live characters moved to the front in order. */
  private growChars(): void {
    const old = this.chars;
    const om = old.length - 1;
    this.chars = new Uint16Array(old.length * 2);
    const used = this.charTail - this.charHead;
    for (let k = 0; k < used; k++) this.chars[k] = old[(this.charHead + k) & om] as number;
    const em = this.times.length - 1;
    for (let n = this.head; n < this.tail; n++) {
      const r = n & em;
      this.starts[r] = (this.starts[r] as number) - this.charHead;
    }
    this.charHead = 0;
    this.charTail = used;
  }
}
