/**
 * Events counted per type, reported in the order the types were first seen: EngineStats.byType,
 * which the engine and the replay reader (counting what it hands on) must give alike.
 */
export class TypeCounts {
  private readonly counts: Float64Array;
  /** type numbers in the order first seen */
  private readonly order: number[] = [];

  /** `names[k]` is the event type that number `k` stands for. */
  constructor(private readonly names: readonly string[]) {
    this.counts = new Float64Array(names.length);
  }

  add(k: number): void {
    if (this.counts[k] === 0) this.order.push(k);
    this.counts[k] = (this.counts[k] as number) + 1;
  }

  byType(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const k of this.order) out[this.names[k] as string] = this.counts[k] as number;
    return out;
  }
}
