import { hashKey, imsiKeyOf, type SubscriberIds } from './subscriber-table.js';

/** the smallest table a set with members has (a power of two) */
const MIN_SLOTS = 16;

/**
 * The distinct IMSIs of one surge window (subscriber-surge counts them per cell per window).
 * A Set of strings per cell per window made the collector trace and promote every window's
 * table and reach each IMSI string (a miss) to hash it. Here an IMSI of digits is a number
 * (`digitsKey`, exact for up to 15 digits) in an open-addressing table of doubles, off the
 * collector's heap and reused window after window; any other IMSI (the input is
 * attacker-controlled) goes to a Set of strings. Membership is by the IMSI's value, as a Set's.
 */
export class DistinctImsis {
  /** open addressing, linear probing; 0 = empty (no key is 0) */
  private keys: Float64Array | undefined;
  private count = 0;
  private others: Set<string> | undefined;

  constructor(imsis?: Iterable<string>) {
    if (imsis) for (const imsi of imsis) this.addIds({ imsi });
  }

  /** Adds an event's IMSI by its key (SubscriberIds: the decoder's, if it has one); the string is read only when not digits. */
  addIds(ids: SubscriberIds): void {
    const k = imsiKeyOf(ids);
    if (k !== k) (this.others ??= new Set()).add(ids.imsi);
    else this.addKey(k);
  }

  /** Adds the IMSI of digits key `k` (not NaN). */
  private addKey(k: number): void {
    let keys = this.keys;
    if (keys === undefined) this.keys = keys = new Float64Array(MIN_SLOTS);
    else if (2 * (this.count + 1) > keys.length) keys = this.grow(keys);
    const mask = keys.length - 1;
    let i = hashKey(k) & mask;
    for (;;) {
      const sk = keys[i] as number;
      if (sk === k) return;
      if (sk === 0) break;
      i = (i + 1) & mask;
    }
    keys[i] = k;
    this.count++;
  }

  private grow(old: Float64Array): Float64Array {
    const keys = new Float64Array(old.length * 2);
    const mask = keys.length - 1;
    for (let j = 0; j < old.length; j++) {
      const k = old[j] as number;
      if (k === 0) continue;
      let i = hashKey(k) & mask;
      while ((keys[i] as number) !== 0) i = (i + 1) & mask;
      keys[i] = k;
    }
    this.keys = keys;
    return keys;
  }

  get size(): number {
    return this.count + (this.others?.size ?? 0);
  }

  /**
   * Empties the set for the next window. The table is kept for it (a cell's crowd is much the
   * same window after window) unless it is far bigger than this window needed, so a cell's
   * memory follows its recent crowd, not its biggest ever.
   */
  clear(): void {
    const keys = this.keys;
    if (keys !== undefined) {
      if (keys.length > MIN_SLOTS && 8 * this.count < keys.length) this.keys = this.count === 0 ? undefined : new Float64Array(Math.max(MIN_SLOTS, 4 * nextPow2(this.count)));
      else keys.fill(0);
    }
    this.count = 0;
    this.others = undefined;
  }

  /** Empties the set and lets its table go (a cell gone quiet). */
  release(): void {
    this.keys = undefined;
    this.count = 0;
    this.others = undefined;
  }
}

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
