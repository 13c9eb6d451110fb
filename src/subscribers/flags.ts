import { SEVERITY_RANK, type Alert, type RuleId } from '../detection/index.js';
import type { CellFlag } from './score.js';

/**
 * Rules whose alerts do not make a cell suspicious: they are about a payment or an idle
 * device (the same set as NON_FLAGGING in src/detection/engine.ts).
 */
const NON_FLAGGING = new Set<RuleId>(['payment-exposure', 'idle-device']);

/** What an alert says about cells, for flagging: the fields the engine flags from. */
export type FlaggingAlert = Pick<Alert, 'rule' | 'severity' | 'ts'> & { cellId?: string | undefined; serial?: string | undefined; evidence?: Record<string, unknown> | undefined };

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

/** Flagged cells: first flag time and the rules, as CellFlags in src/detection/state.ts. */
export class FlagSet {
  private readonly flags = new Map<string, { t: number; rules: string[] }>();

  /** Flags a cell; returns true when the cell was not flagged before. */
  flag(cellId: string, t: number, rule: string): boolean {
    const f = this.flags.get(cellId);
    if (!f) {
      this.flags.set(cellId, { t, rules: [rule] });
      return true;
    }
    if (!f.rules.includes(rule)) f.rules.push(rule);
    if (t < f.t) f.t = t;
    return false;
  }

  /** Flags every cell an alert flags; returns the cells newly flagged. */
  flagFromAlert(a: FlaggingAlert, deviceCells?: (serial: string) => Iterable<string>): string[] {
    const t = Date.parse(a.ts);
    const fresh: string[] = [];
    for (const c of cellsFlaggedBy(a, deviceCells)) if (this.flag(c, t, a.rule)) fresh.push(c);
    return fresh;
  }

  get(cellId: string): CellFlag | undefined {
    return this.flags.get(cellId);
  }

  has(cellId: string): boolean {
    return this.flags.has(cellId);
  }

  cells(): string[] {
    return [...this.flags.keys()];
  }

  get size(): number {
    return this.flags.size;
  }
}
