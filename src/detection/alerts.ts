import { createHash } from 'node:crypto';
import type { RuleId, Severity } from './config.js';

/** Who or what an alert is about; the fold key is the rule plus these. */
export interface Subject {
  serial?: string;
  cellId?: string;
  imsi?: string;
  msisdn?: string;
  txId?: string;
}

/** What a rule reports for one event. */
export interface Finding extends Subject {
  rule: RuleId;
  severity: Severity;
  /** event time, epoch ms */
  t: number;
  summary: string;
  evidence: Record<string, unknown>;
}

/** FORMATS.md §3, plus the fold fields (count, lastSeen) and firstSeen. */
export interface Alert extends Subject {
  id: string;
  /** RFC 3339 UTC: event time of the first event that raised it */
  ts: string;
  rule: RuleId;
  severity: Severity;
  summary: string;
  evidence: Record<string, unknown>;
  count: number;
  firstSeen: string;
  lastSeen: string;
}

export const SEVERITY_RANK: Readonly<Record<Severity, number>> = { low: 0, medium: 1, high: 2, critical: 3 };

/** Rules whose subject is a cell; payment-exposure's is the payment; the others' the device. */
const CELL_RULES = new Set<RuleId>(['unregistered-cell', 'subscriber-surge', 'ims-downgrade']);

/** The subject key of a finding: rule-specific, so each rule folds on what it is about. */
export function subjectKey(f: Subject & { rule: RuleId }): string {
  if (f.rule === 'payment-exposure') return `${f.rule}|tx:${f.txId ?? ''}`;
  if (CELL_RULES.has(f.rule)) return `${f.rule}|cell:${f.cellId ?? ''}`;
  return `${f.rule}|serial:${f.serial ?? ''}`;
}

/** Stable alert id: the same rule and subject give the same id in every run. */
export function alertId(key: string): string {
  return 'al_' + createHash('sha256').update(key).digest('base64url').slice(0, 22);
}

/**
 * Folds findings into alerts: the first finding for a rule and subject creates the alert;
 * later ones add to its count and move lastSeen (and raise the severity if higher).
 * Returns whether the alert is new, so sinks can tell a raise from an update.
 */
export class AlertBook {
  private readonly byKey = new Map<string, Alert>();
  /** per alert: order numbers of its first finding and of the finding whose severity, summary and evidence it shows */
  private readonly order = new Map<string, { first: number; set: number }>();

  /** `seq`: the order number of the event that raised the finding (for `merge`; 0 when unused). */
  fold(f: Finding, seq = 0): { alert: Alert; isNew: boolean } {
    const key = subjectKey(f);
    const cur = this.byKey.get(key);
    const at = new Date(f.t).toISOString();
    if (cur) {
      cur.count++;
      if (at > cur.lastSeen) cur.lastSeen = at;
      if (SEVERITY_RANK[f.severity] > SEVERITY_RANK[cur.severity]) {
        cur.severity = f.severity;
        cur.summary = f.summary;
        cur.evidence = f.evidence;
        (this.order.get(key) as { set: number }).set = seq;
      }
      return { alert: cur, isNew: false };
    }
    this.order.set(key, { first: seq, set: seq });
    const alert: Alert = {
      id: alertId(key),
      ts: at,
      rule: f.rule,
      severity: f.severity,
      ...(f.serial !== undefined ? { serial: f.serial } : {}),
      ...(f.cellId !== undefined ? { cellId: f.cellId } : {}),
      ...(f.imsi !== undefined ? { imsi: f.imsi } : {}),
      ...(f.msisdn !== undefined ? { msisdn: f.msisdn } : {}),
      ...(f.txId !== undefined ? { txId: f.txId } : {}),
      summary: f.summary,
      evidence: f.evidence,
      count: 1,
      firstSeen: at,
      lastSeen: at,
    };
    this.byKey.set(key, alert);
    return { alert, isNew: true };
  }

  has(f: Subject & { rule: RuleId }): boolean {
    return this.byKey.has(subjectKey(f));
  }

  /** All alerts, most severe first, then by first event time. */
  list(): Alert[] {
    return [...this.byKey.values()].sort(byRank);
  }

  get size(): number {
    return this.byKey.size;
  }

  /** The alerts with their folding order (see `merge`). */
  folds(): FoldedAlert[] {
    return [...this.byKey.entries()].map(([key, alert]) => ({ alert, ...(this.order.get(key) as { first: number; set: number }) }));
  }

  /**
   * The alerts of one stream whose findings were folded by several books (a partitioned
   * replay: each book saw some of the findings, each with its event's order number), as one
   * book folding all of them in order would give them: the first finding's fields, the counts
   * added up, the last time seen, and the severity, summary and evidence of the first finding
   * that reached the highest severity. Sorted as `list` sorts.
   */
  static merge(parts: readonly (readonly FoldedAlert[])[]): Alert[] {
    const byId = new Map<string, FoldedAlert>();
    for (const part of parts) {
      for (const x of part) {
        const cur = byId.get(x.alert.id);
        if (!cur) {
          byId.set(x.alert.id, { alert: { ...x.alert }, first: x.first, set: x.set });
          continue;
        }
        const [early, late] = x.first < cur.first ? [x, cur] : [cur, x];
        const top = SEVERITY_RANK[late.alert.severity] > SEVERITY_RANK[early.alert.severity] || (late.alert.severity === early.alert.severity && late.set < early.set) ? late : early;
        const alert: Alert = { ...early.alert, count: early.alert.count + late.alert.count, lastSeen: early.alert.lastSeen > late.alert.lastSeen ? early.alert.lastSeen : late.alert.lastSeen, severity: top.alert.severity, summary: top.alert.summary, evidence: top.alert.evidence };
        byId.set(x.alert.id, { alert, first: early.first, set: top.set });
      }
    }
    return [...byId.values()].map((x) => x.alert).sort(byRank);
  }
}

/** An alert with the order numbers of its first finding and of the one it shows (AlertBook.merge). */
export interface FoldedAlert {
  alert: Alert;
  first: number;
  set: number;
}

/** Most severe first, then by first event time, then by id. */
function byRank(a: Alert, b: Alert): number {
  return SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.id < b.id ? -1 : 1);
}
