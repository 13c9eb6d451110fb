/**
 * The decoders' bounded interning caches (fast-decode.ts, fast-decode-subscriber.ts): strings
 * and whole string lists keyed by their bytes, direct-mapped, fixed size. Split from
 * fast-decode.ts.
 */
import { hashBytes, spreadHash } from './fast-scan.js';
import { latin1 } from './fast-scan-values.js';

/** Arrays longer than this (text bytes) are decoded fresh each time, not cached: keeps the array caches' memory small. */
const MAX_INTERNED_LIST_BYTES = 512;
/**
 * Bytes kept per list slot (a length byte, then the text) to verify a hit without touching the
 * array and each of its strings: texts under 128 bytes (a six-cell neighbour scan is about 110).
 * Longer ones are verified against the cached array.
 */
const LIST_STRIDE = 128;
const EMPTY_LIST: readonly string[] = Object.freeze([]);

/** A hashBytes hash's slot in a table of mask + 1 slots. */
function slotOf(h: number, mask: number): number {
  return spreadHash(h) & mask;
}

/**
 * A direct-mapped interning cache of strings keyed by their bytes: the same bytes give the same
 * instance while the slot holds it; a miss creates the string and takes the slot. Fixed size.
 * The hash array is checked first: it is small enough to stay in the CPU cache, so a miss costs
 * no trip to the string itself.
 */
export class StringCache {
  private readonly mask: number;
  private readonly values: string[];
  private readonly hashes: Int32Array;

  constructor(readonly size: number) {
    this.mask = size - 1;
    this.values = Array.from({ length: size }, () => '');
    this.hashes = new Int32Array(size);
  }

  /** The string of buf[s, s+n), whose hashBytes hash is h. */
  get(buf: Uint8Array, s: number, n: number, h: number): string {
    const slot = slotOf(h, this.mask);
    if (this.hashes[slot] === h) {
      const cached = this.values[slot]!;
      if (cached.length === n && sameChars(cached, buf, s)) return cached;
    }
    const fresh = latin1(buf, s, s + n);
    this.values[slot] = fresh;
    this.hashes[slot] = h;
    return fresh;
  }

  held(): number {
    let n = 0;
    for (const v of this.values) if (v !== '') n++;
    return n;
  }
}

/** The same for whole string arrays, keyed by the array's text; arrays are frozen, their elements interned in `elements`. */
export class ListCache {
  private readonly mask: number;
  private readonly values: (readonly string[])[];
  private readonly hashes: Int32Array;
  /** Per slot: [length, bytes...] of a list text shorter than LIST_STRIDE, else length 0. */
  /** allocated at the first list (a decoder that only sees attaches and payments never needs its 8 MiB) */
  private bytes: Uint8Array | null = null;

  constructor(
    size: number,
    private readonly elements: StringCache,
  ) {
    this.mask = size - 1;
    this.values = Array.from({ length: size }, () => EMPTY_LIST);
    this.hashes = new Int32Array(size);
  }

  /** The frozen array of the scanned list text buf[s, e), whose hashBytes hash is h. */
  get(buf: Uint8Array, s: number, e: number, h: number): readonly string[] {
    const slot = slotOf(h, this.mask);
    const n = e - s;
    const bytes = (this.bytes ??= new Uint8Array((this.mask + 1) * LIST_STRIDE));
    const base = slot * LIST_STRIDE;
    if (this.hashes[slot] !== h) {
      // a miss, decided from the small hash array alone
    } else if (n < LIST_STRIDE) {
      if (bytes[base] === n) {
        // From the end: identifiers share prefixes (MCC-MNC, "45008-1000...") and differ last.
        let x = n;
        while (x > 0 && bytes[base + x] === buf[s + x - 1]) x--;
        if (x === 0) return this.values[slot]!;
      }
    } else if (sameList(this.values[slot]!, buf, s, e)) return this.values[slot]!;
    const fresh = this.build(buf, s, e);
    if (n <= MAX_INTERNED_LIST_BYTES) {
      this.values[slot] = fresh;
      this.hashes[slot] = h;
      if (n < LIST_STRIDE) {
        bytes[base] = n;
        for (let x = 0; x < n; x++) bytes[base + 1 + x] = buf[s + x]!;
      } else bytes[base] = 0;
    }
    return fresh;
  }

  held(): number {
    let n = 0;
    for (const v of this.values) if (v !== EMPTY_LIST) n++;
    return n;
  }

  /** Builds the frozen array of a scanned (so well-formed, escape-free) list text. */
  private build(buf: Uint8Array, s: number, e: number): readonly string[] {
    const out: string[] = [];
    for (let j = s + 1; j < e; j++) {
      if (buf[j] !== 34) continue; // whitespace, commas, the closing bracket
      const es = j + 1;
      let k = es;
      while (buf[k] !== 34) k++;
      out.push(this.elements.get(buf, es, k - es, hashBytes(buf, es, k)));
      j = k;
    }
    return Object.freeze(out);
  }
}

export function sameChars(str: string, buf: Uint8Array, s: number): boolean {
  for (let x = 0; x < str.length; x++) if (str.charCodeAt(x) !== buf[s + x]) return false;
  return true;
}

/** Whether the scanned list text buf[s, e) has exactly the elements of `list` (for texts too long to keep a byte copy of). */
function sameList(list: readonly string[], buf: Uint8Array, s: number, e: number): boolean {
  let idx = 0;
  for (let j = s + 1; j < e; j++) {
    if (buf[j] !== 34) continue;
    const str = list[idx++];
    if (str === undefined) return false;
    const n = str.length;
    if (buf[j + 1 + n] !== 34 || !sameChars(str, buf, j + 1)) return false;
    j += n + 1;
  }
  return idx === list.length;
}
