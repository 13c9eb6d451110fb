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
  private readonly nos = new Map<string, number>();
  private readonly names: (string | undefined)[] = [];
  private readonly free: number[] = [];
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
    let n = this.nos.get(id);
    if (n === undefined) {
      n = this.free.pop();
      if (n === undefined) {
        n = this.names.length;
        this.names.push(id);
      } else this.names[n] = id;
      this.nos.set(id, n);
    }
    return n;
  };

  readonly name = (n: number): string => this.names[n] as string;

  /** ids interned now */
  get size(): number {
    return this.nos.size;
  }

  /** numbers in use or free (the largest the dictionary has been) */
  get slots(): number {
    return this.names.length;
  }

  /** Has the dictionary grown enough since the last sweep to pay for another? */
  get sweepDue(): boolean {
    return this.nos.size >= this.sweepAt;
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
      this.nos.delete(id);
      this.names[n] = undefined;
      this.free.push(n);
    }
    this.sweepAt = this.nos.size + Math.max(this.sweepMin, this.nos.size, held + records);
  }
}
