/**
 * A binary min-heap for a total, deterministic order: every item carries a sequence number
 * (its arrival, given by the caller or counted here), and `precedes` breaks key ties with it.
 * Used by the event reorder buffer (stragglers), the simulator's job scheduler and idle-device
 * (serials keyed by their last sighting, given as the sequence number).
 */
export class SeqHeap<T> {
  private readonly items: T[] = [];
  private readonly seqs: number[] = [];
  private next = 0;

  /** `precedes(a, as, b, bs)`: a comes out before b; compare keys first, then the sequence numbers. */
  constructor(private readonly precedes: (a: T, as: number, b: T, bs: number) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  /** Calls `fn` on every item, in no particular order. */
  forEach(fn: (x: T) => void): void {
    for (const x of this.items) fn(x);
  }

  /** The first item, or undefined when empty. */
  peek(): T | undefined {
    return this.items[0];
  }

  /** The sequence number of the first item (meaningless when empty). */
  peekSeq(): number {
    return this.seqs[0] as number;
  }

  /** Adds `x`; without `seq`, items pushed later come out later among equal keys. */
  push(x: T, seq: number = this.next++): void {
    const { items, seqs, precedes } = this;
    let i = items.length;
    items.push(x);
    seqs.push(seq);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!precedes(x, seq, items[p] as T, seqs[p] as number)) break;
      items[i] = items[p] as T;
      seqs[i] = seqs[p] as number;
      i = p;
    }
    items[i] = x;
    seqs[i] = seq;
  }

  /** Removes and returns the first item; the caller checks `size` first. */
  pop(): T {
    const { items, seqs, precedes } = this;
    const top = items[0] as T;
    const last = items.pop() as T;
    const ls = seqs.pop() as number;
    const n = items.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && precedes(items[r] as T, seqs[r] as number, items[l] as T, seqs[l] as number) ? r : l;
        if (!precedes(items[c] as T, seqs[c] as number, last, ls)) break;
        items[i] = items[c] as T;
        seqs[i] = seqs[c] as number;
        i = c;
      }
      items[i] = last;
      seqs[i] = ls;
    }
    return top;
  }
}
