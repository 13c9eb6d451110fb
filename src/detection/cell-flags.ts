import type { RuleId } from './config.js';

/** A flagged cell: first and latest flag times, and the rules that flagged it in order of first flag. */
interface CellFlag {
  t: number;
  last: number;
  rules: Set<RuleId>;
}

/** A cell's flag as it is kept across restarts (CellFlagStore): its episode's first and latest flag times and rules. */
export interface CellFlagRecord {
  cellId: string;
  t: number;
  last: number;
  /** in the order they first flagged the cell */
  rules: RuleId[];
}

/**
 * Cells flagged by any rule, with the first time and the rules in the order they first flagged
 * the cell. Flags come in the order of the events that raised them: in one engine as raised; a
 * partitioned subscriber side (EngineOptions.partition) takes in the device side's flags raised
 * before an event before it flags, pays or expires at that event. A flag lapses
 * `flagRetentionMs` after the latest finding that flagged the cell (payment-exposure): a later
 * flag starts a new episode, and the engine forgets lapsed flags: memory follows the cells
 * flagged recently, not the stream's length.
 *
 * With `track`, the cells flagged since the last `takeChanged` are remembered, so the live
 * server can write them to its store (a restart then restores them: see `restore`).
 */
export class CellFlags {
  private readonly flags = new Map<string, CellFlag>();
  private readonly changed: Set<string> | undefined;

  /** `retentionMs`: a flag more than this after the cell's latest one starts a new episode (the old one lapsed). */
  constructor(
    private readonly retentionMs = Infinity,
    track = false,
  ) {
    this.changed = track ? new Set() : undefined;
  }

  /** Flags `cellId` at event time `t`; callers flag in event order (a partitioned subscriber side takes in the device side's earlier flags first). */
  flag(cellId: string, t: number, rule: RuleId): void {
    this.changed?.add(cellId);
    const f = this.flags.get(cellId);
    // A cell flagged again after its flag lapsed is flagged anew: its first time and rules are
    // this episode's, so forgetting a lapsed flag (expire) changes nothing that follows.
    if (!f || t - f.last > this.retentionMs) {
      this.flags.set(cellId, { t, last: t, rules: new Set([rule]) });
      return;
    }
    if (t < f.t) f.t = t;
    if (t > f.last) f.last = t;
    f.rules.add(rule); // a Set keeps the order rules first flagged the cell
  }

  get(cellId: string): { t: number; last: number; rules: ReadonlySet<RuleId> } | undefined {
    return this.flags.get(cellId);
  }

  /** The flags of the cells flagged since the last call (with `track`; none without), in no particular order. */
  takeChanged(): CellFlagRecord[] {
    const out: CellFlagRecord[] = [];
    if (!this.changed) return out;
    for (const cellId of this.changed) {
      const f = this.flags.get(cellId);
      if (f) out.push({ cellId, t: f.t, last: f.last, rules: [...f.rules] });
    }
    this.changed.clear();
    return out;
  }

  /**
   * Puts back a flag kept from before a restart. The stored flag was written after the events
   * it counts were processed, so it holds at least what replaying the recent ones rebuilt: when
   * it is of the same episode as the rebuilt one and no older, it replaces it (its first time
   * and rules are the whole episode's; any rule only the rebuilt one has is kept, after).
   * A stored episode that began after the rebuilt one lapsed replaces it whole. A rebuilt
   * flag newer than the stored one (events the store had not seen) is left alone.
   */
  restore(r: CellFlagRecord): void {
    const f = this.flags.get(r.cellId);
    if (f && r.last < f.last) return;
    // A stored episode that began more than the retention after the rebuilt one's latest flag
    // is a later episode: the rebuilt one had lapsed before it, so nothing of it carries over.
    if (!f || r.t - f.last > this.retentionMs) {
      this.flags.set(r.cellId, { t: r.t, last: r.last, rules: new Set(r.rules) });
      return;
    }
    const rules = new Set(r.rules);
    for (const x of f.rules) rules.add(x);
    this.flags.set(r.cellId, { t: Math.min(f.t, r.t), last: r.last, rules });
  }

  /** Forgets the cells whose latest flag is older than `before` (the engine's expiry: see `flagRetentionMs`). */
  expire(before: number): void {
    for (const [cellId, f] of this.flags) if (f.last < before) this.flags.delete(cellId);
  }

  get size(): number {
    return this.flags.size;
  }
}
