import { SEVERITY_RANK, type Alert, type RuleId } from '../detection/index.js';
import type { CellFlag } from './score.js';

/**
 * Rules whose alerts do not make a cell suspicious: they are about a payment or an idle
 * device (the same set as NON_FLAGGING in src/detection/engine.ts).
 */
const NON_FLAGGING = new Set<RuleId>(['payment-exposure', 'idle-device']);

/**
 * What an alert says about cells, for flagging: the fields the engine flags from, and the time
 * of its latest finding (`lastSeen`; a stored or live alert always has it, a bare finding in a
 * file may not).
 */
export type FlaggingAlert = Pick<Alert, 'rule' | 'severity' | 'ts'> & {
  lastSeen?: string | undefined;
  cellId?: string | undefined;
  serial?: string | undefined;
  evidence?: Record<string, unknown> | undefined;
};

/**
 * The cells an alert flags, as the detection engine flags them (engine.ts `raise`): for a
 * medium-or-higher alert of a flagging rule, its cell, and for an alert about a device the
 * cells the device announced (evidence `cellIds`, or what the caller saw it announce) and the
 * cells it is registered for. Returns [] for alerts that flag nothing.
 */
export function cellsFlaggedBy(a: FlaggingAlert, deviceCells?: (serial: string) => Iterable<string>): string[] {
  const rank = (SEVERITY_RANK as Readonly<Record<string, number | undefined>>)[a.severity];
  if (NON_FLAGGING.has(a.rule) || rank === undefined || rank < SEVERITY_RANK.medium) return [];
  const out = new Set<string>();
  if (a.cellId) out.add(a.cellId);
  const ev = a.evidence?.cellIds;
  if (Array.isArray(ev)) for (const c of ev) if (typeof c === 'string' && c) out.add(c);
  if (a.serial && deviceCells) for (const c of deviceCells(a.serial)) out.add(c);
  return [...out];
}

/**
 * One flag episode of a cell: findings no more than the retention apart. `rules` maps each
 * rule to the first time it flagged the cell within the episode.
 */
interface Episode {
  t: number;
  last: number;
  rules: Map<string, number>;
}

/**
 * Flagged cells with detection's flag semantics (CellFlags in src/detection/state.ts, read by
 * payment-exposure): a flag lapses `retentionMs` after the latest finding that flagged the
 * cell, and a finding after a lapse starts a new episode with its own first time and rules.
 *
 * Detection sees flags in event order and keeps only the current episode; here flags may come
 * in any order (the alert store is read newest first at start, then the live stream follows),
 * so every episode is kept, each a maximal run of finding times no more than `retentionMs`
 * apart, and `at(cell, t)` answers what detection's CellFlags held for the cell when it
 * processed an event at `t`. The episodes depend only on the set of finding times, never on
 * the order they arrived in.
 */
export class FlagSet {
  /** per cell, episodes sorted by time and more than `retentionMs` apart */
  private readonly flags = new Map<string, Episode[]>();

  /** `retentionMs`: detection's `rules['payment-exposure'].flagRetentionMs`. */
  constructor(readonly retentionMs: number) {
    if (!(retentionMs >= 0)) throw new RangeError(`FlagSet: retentionMs must be 0 or more (got ${String(retentionMs)})`);
  }

  /** Flags a cell at event time `t`; returns true when the cell had never been flagged before. */
  flag(cellId: string, t: number, rule: string): boolean {
    if (Number.isNaN(t)) return false;
    const eps = this.flags.get(cellId);
    if (!eps) {
      this.flags.set(cellId, [{ t, last: t, rules: new Map([[rule, t]]) }]);
      return true;
    }
    this.insert(eps, t, rule);
    return false;
  }

  /**
   * Flags every cell an alert flags, at the time of its first finding (`ts`) and of its latest
   * (`lastSeen`); returns the cells never flagged before. The live stream delivers an alert at
   * each finding, so each finding time is seen. An alert read from the store carries only those
   * two: a finding in between, if any, is unknown, so after a restart the latest episode of
   * such a cell may start later than detection's (its `flaggedTime`); whether the cell is
   * flagged at any time after `lastSeen` is exact.
   */
  flagFromAlert(a: FlaggingAlert, deviceCells?: (serial: string) => Iterable<string>): string[] {
    const first = Date.parse(a.ts);
    const latest = a.lastSeen === undefined ? first : Date.parse(a.lastSeen);
    const fresh: string[] = [];
    for (const c of cellsFlaggedBy(a, deviceCells)) {
      const isNew = this.flag(c, first, a.rule);
      if (latest !== first) this.flag(c, latest, a.rule);
      if (isNew) fresh.push(c);
    }
    return fresh;
  }

  /**
   * The cell's flag as detection held it when processing an event at `at`: the episode begun
   * at or before `at` whose latest finding up to `at` is at most `retentionMs` before `at`,
   * with the rules that had flagged it by then (in the order they first did). Undefined when
   * the cell was not flagged then, or its flag had lapsed.
   */
  at(cellId: string, at: number): CellFlag | undefined {
    const eps = this.flags.get(cellId);
    if (!eps) return undefined;
    const i = lastStartingAtOrBefore(eps, at);
    const ep = i < 0 ? undefined : eps[i];
    // Inside an episode (at < last) the findings are no more than retentionMs apart, so the
    // latest one up to `at` is within the retention: only the time after its last can lapse.
    if (!ep || at - ep.last > this.retentionMs) return undefined;
    const rules = [...ep.rules].filter(([, t]) => t <= at).sort(([, x], [, y]) => x - y).map(([r]) => r);
    return { t: ep.t, rules };
  }

  /** Whether the cell was ever flagged (lapsed or not): the hot index keeps exposures to these. */
  has(cellId: string): boolean {
    return this.flags.has(cellId);
  }

  /** Every cell ever flagged. */
  cells(): string[] {
    return [...this.flags.keys()];
  }

  get size(): number {
    return this.flags.size;
  }

  /** Adds a finding time to sorted episodes, joining the episodes it bridges. */
  private insert(eps: Episode[], t: number, rule: string): void {
    const r = this.retentionMs;
    // The episodes the finding touches: those whose span widened by the retention holds t.
    let lo = lastStartingAtOrBefore(eps, t);
    if (lo < 0 || t - (eps[lo] as Episode).last > r) lo++;
    let hi = lo;
    while (hi < eps.length && (eps[hi] as Episode).t - t <= r) hi++;
    const joined: Episode = { t, last: t, rules: new Map() };
    for (const ep of eps.slice(lo, hi)) {
      joined.t = Math.min(joined.t, ep.t);
      joined.last = Math.max(joined.last, ep.last);
      for (const [x, first] of ep.rules) addRule(joined.rules, x, first);
    }
    // After the rules already known, so rules first flagging at the same time keep arrival order.
    addRule(joined.rules, rule, t);
    eps.splice(lo, hi - lo, joined);
  }
}

/** Records that `rule` flagged at `t`, keeping its earliest time. */
function addRule(rules: Map<string, number>, rule: string, t: number): void {
  const cur = rules.get(rule);
  if (cur === undefined || t < cur) rules.set(rule, t);
}

/** Index of the last episode starting at or before `t`, or -1. */
function lastStartingAtOrBefore(eps: readonly Episode[], t: number): number {
  let lo = 0;
  let hi = eps.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((eps[mid] as Episode).t <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}
