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

/** The subject fields of `s` that are set, and no others (an alert carries only those it has). */
export function subjectOf(s: Subject): Subject {
  const out: Subject = {};
  if (s.serial !== undefined) out.serial = s.serial;
  if (s.cellId !== undefined) out.cellId = s.cellId;
  if (s.imsi !== undefined) out.imsi = s.imsi;
  if (s.msisdn !== undefined) out.msisdn = s.msisdn;
  if (s.txId !== undefined) out.txId = s.txId;
  return out;
}

/** Stable alert id: the same rule and subject give the same id in every run. */
export function alertId(key: string): string {
  return 'al_' + createHash('sha256').update(key).digest('base64url').slice(0, 22);
}

/**
 * How long a long-running engine keeps an alert in its book (the live server; `femtoguard
 * detect` keeps everything: its book is its output). The alert store keeps the alert: a subject
 * that comes back after its alert was dropped here starts a new alert object with the same id,
 * whose findings the store adds to the stored row.
 */
export interface AlertRetention {
  /** `expire(t)` drops alerts whose last finding is older than `t - idleMs` (event time) */
  idleMs?: number | undefined;
  /** at most this many alerts are held; past it the least recently folded one is dropped */
  max?: number | undefined;
}

/** What `AlertBook.fold` made of a finding. */
export interface Folded {
  alert: Alert;
  isNew: boolean;
  /** the alert's severity rank before this finding (`SEVERITY_RANK`), -1 when the finding raised it */
  severityBefore: number;
}

/** One alert held by the book, with what folding and retention need about it. */
interface Entry {
  alert: Alert;
  /** order number of the alert's first finding (see `merge`) */
  first: number;
  /** order number of the finding whose severity, summary and evidence the alert shows */
  set: number;
  /** event time of its latest finding, epoch ms (`lastSeen` as a number, for `evictIdle`) */
  lastT: number;
}

/**
 * Folds findings into alerts: the first finding for a rule and subject creates the alert;
 * later ones add to its count and move lastSeen (and raise the severity if higher).
 * Returns whether the alert is new, so sinks can tell a raise from an update, and the
 * severity before the finding, so they can tell an escalation.
 *
 * With a retention (long-running engines) the book holds only the alerts of live subjects:
 * memory follows the number of live entities, not the length of the stream. Entries are then
 * kept in the order they were last folded (delete and set again on each finding: findings are
 * rare next to events), so the least recently folded one is the first.
 */
export class AlertBook {
  private readonly byKey = new Map<string, Entry>();
  private readonly idleMs: number | undefined;
  private readonly max: number;
  private evictedCount = 0;

  constructor(retention: AlertRetention = {}) {
    this.idleMs = retention.idleMs;
    this.max = retention.max ?? Infinity;
    if (!(this.max >= 1)) throw new RangeError(`AlertBook: retention max must be at least 1 (got ${String(retention.max)})`);
    if (this.idleMs !== undefined && !(this.idleMs >= 0)) throw new RangeError(`AlertBook: retention idleMs must be 0 or more (got ${String(this.idleMs)})`);
  }

  /** `seq`: the order number of the event that raised the finding (for `merge`; 0 when unused). */
  fold(f: Finding, seq = 0): Folded {
    const key = subjectKey(f);
    const cur = this.byKey.get(key);
    if (cur) {
      const alert = cur.alert;
      const severityBefore = SEVERITY_RANK[alert.severity];
      alert.count++;
      if (f.t > cur.lastT) {
        cur.lastT = f.t;
        alert.lastSeen = new Date(f.t).toISOString();
      }
      if (SEVERITY_RANK[f.severity] > severityBefore) {
        alert.severity = f.severity;
        alert.summary = f.summary;
        alert.evidence = f.evidence;
        cur.set = seq;
      }
      if (this.max !== Infinity) {
        this.byKey.delete(key);
        this.byKey.set(key, cur);
      }
      return { alert, isNew: false, severityBefore };
    }
    const at = new Date(f.t).toISOString();
    const alert: Alert = {
      id: alertId(key),
      ts: at,
      rule: f.rule,
      severity: f.severity,
      ...subjectOf(f),
      summary: f.summary,
      evidence: f.evidence,
      count: 1,
      firstSeen: at,
      lastSeen: at,
    };
    if (this.byKey.size >= this.max) this.evictOldest();
    this.byKey.set(key, { alert, first: seq, set: seq, lastT: f.t });
    return { alert, isNew: true, severityBefore: -1 };
  }

  /** Drops the alerts whose latest finding's event time is before `before` (epoch ms); returns how many. */
  evictIdle(before: number): number {
    let n = 0;
    // Exact, not stopped at the first recent entry: a late event can fold an old time last.
    // Run once an hour of event time over at most `max` entries.
    for (const [key, e] of this.byKey) {
      if (e.lastT < before) {
        this.byKey.delete(key);
        n++;
      }
    }
    this.evictedCount += n;
    return n;
  }

  /** At event time `t`: drops the alerts idle for longer than the retention's `idleMs` (none without one). */
  expire(t: number): number {
    return this.idleMs === undefined ? 0 : this.evictIdle(t - this.idleMs);
  }

  private evictOldest(): void {
    const oldest = this.byKey.keys().next();
    if (oldest.done === true) return;
    this.byKey.delete(oldest.value);
    this.evictedCount++;
  }

  /** Whether the book holds an alert for this rule and subject (one dropped by the retention is not held). */
  has(f: Subject & { rule: RuleId }): boolean {
    return this.byKey.has(subjectKey(f));
  }

  /** All alerts held, most severe first, then by first event time. */
  list(): Alert[] {
    return [...this.byKey.values()].map((e) => e.alert).sort(byRank);
  }

  /** Number of alerts held. */
  get size(): number {
    return this.byKey.size;
  }

  /** Number of alerts dropped by the retention so far. */
  get evicted(): number {
    return this.evictedCount;
  }

  /** The alerts with their folding order (see `merge`). */
  folds(): FoldedAlert[] {
    return [...this.byKey.values()].map((e) => ({ alert: e.alert, first: e.first, set: e.set }));
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
