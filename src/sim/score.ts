/**
 * Scores a detector's alerts (FORMATS.md §3) against the simulator's ground truth: each rogue
 * found or not and how fast, benign entities wrongly flagged, payment precision and recall,
 * and whether an impact analysis named exactly the exposed subscribers.
 */
import type { Truth } from './types.js';

const SEV = { low: 0, medium: 1, high: 2, critical: 3 } as const;
type Severity = keyof typeof SEV;

/** The alert fields scoring reads; everything else in an alert line is ignored. */
export interface ScoredAlert {
  ts: string;
  rule: string;
  severity: Severity;
  serial?: string;
  cellId?: string;
  txId?: string;
}

export interface RogueScore {
  name: string;
  detected: boolean;
  /** first high/critical alert (payment-exposure aside) on the rogue's serials or cells, minus its start (ms); null when not detected */
  timeToDetectMs: number | null;
  firstAlert: string | null;
  rules: string[];
}

export interface ScoreReport {
  rogues: RogueScore[];
  detected: number;
  /** benign serials and cells with a medium+ alert (payment-exposure alerts are scored as payments) */
  falsePositives: { entity: string; rules: string[] }[];
  payments: { flagged: number; fraud: number; truePositives: number; precision: number; recall: number; missed: string[]; wrong: string[] };
  impact?: { expected: number; listed: number; missing: string[]; extra: string[]; exact: boolean };
}

const isSeverity = (v: unknown): v is Severity => typeof v === 'string' && v in SEV;

/** Parses alert NDJSON; lines that are not alerts are counted, not fatal. */
export function parseAlerts(text: string): { alerts: ScoredAlert[]; skipped: number } {
  const alerts: ScoredAlert[] = [];
  let skipped = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      skipped++;
      continue;
    }
    const a = toScoredAlert(v);
    if (a) alerts.push(a);
    else skipped++;
  }
  return { alerts, skipped };
}

/** The fields scoring reads from an alert (FORMATS.md §2), or null when `v` is not an alert. */
export function toScoredAlert(v: unknown): ScoredAlert | null {
  const a = v as Record<string, unknown>;
  if (typeof a !== 'object' || a === null || typeof a.rule !== 'string' || typeof a.ts !== 'string' || !isSeverity(a.severity)) return null;
  return {
    ts: a.ts,
    rule: a.rule,
    severity: a.severity,
    ...(typeof a.serial === 'string' ? { serial: a.serial } : {}),
    ...(typeof a.cellId === 'string' ? { cellId: a.cellId } : {}),
    ...(typeof a.txId === 'string' ? { txId: a.txId } : {}),
  };
}

/** Precision of an empty set of flags is 1 (nothing flagged wrongly); recall of an empty truth is 1. */
const ratio = (num: number, den: number): number => (den === 0 ? 1 : num / den);

export function score(truth: Truth, alerts: readonly ScoredAlert[], impactImsis?: readonly string[]): ScoreReport {
  const rogues: RogueScore[] = truth.rogues.map((r) => {
    const serials = new Set(r.serials);
    const cells = new Set(r.cellIds);
    // payment-exposure names a cell only because another rule flagged it first: that rule is the detection.
    const hits = alerts.filter((a) => SEV[a.severity] >= SEV.high && a.rule !== 'payment-exposure' && ((a.serial !== undefined && serials.has(a.serial)) || (a.cellId !== undefined && cells.has(a.cellId))));
    if (hits.length === 0) return { name: r.name, detected: false, timeToDetectMs: null, firstAlert: null, rules: [] };
    const first = Math.min(...hits.map((a) => Date.parse(a.ts)));
    return { name: r.name, detected: true, timeToDetectMs: first - Date.parse(r.start), firstAlert: new Date(first).toISOString(), rules: [...new Set(hits.map((a) => a.rule))].sort() };
  });

  const benignS = new Set(truth.benignSerials);
  const benignC = new Set(truth.benignCellIds);
  const fp = new Map<string, Set<string>>();
  const note = (entity: string, rule: string): void => {
    let s = fp.get(entity);
    if (!s) fp.set(entity, (s = new Set()));
    s.add(rule);
  };
  for (const a of alerts) {
    if (SEV[a.severity] < SEV.medium || a.rule === 'payment-exposure') continue;
    if (a.serial !== undefined && benignS.has(a.serial)) note(`serial ${a.serial}`, a.rule);
    if (a.cellId !== undefined && benignC.has(a.cellId)) note(`cell ${a.cellId}`, a.rule);
  }

  const fraud = new Set(truth.fraudTx);
  const flagged = new Set(alerts.filter((a) => a.rule === 'payment-exposure' && a.txId !== undefined).map((a) => a.txId as string));
  const tp = [...flagged].filter((t) => fraud.has(t)).length;

  const report: ScoreReport = {
    rogues,
    detected: rogues.filter((r) => r.detected).length,
    falsePositives: [...fp].map(([entity, rules]) => ({ entity, rules: [...rules].sort() })).sort((a, b) => a.entity.localeCompare(b.entity)),
    payments: {
      flagged: flagged.size,
      fraud: fraud.size,
      truePositives: tp,
      precision: ratio(tp, flagged.size),
      recall: ratio(tp, fraud.size),
      missed: [...fraud].filter((t) => !flagged.has(t)).sort(),
      wrong: [...flagged].filter((t) => !fraud.has(t)).sort(),
    },
  };
  if (impactImsis) {
    const expected = new Set(Object.values(truth.exposedImsis).flat());
    const listed = new Set(impactImsis);
    const missing = [...expected].filter((i) => !listed.has(i)).sort();
    const extra = [...listed].filter((i) => !expected.has(i)).sort();
    report.impact = { expected: expected.size, listed: listed.size, missing, extra, exact: missing.length === 0 && extra.length === 0 };
  }
  return report;
}

const minutes = (ms: number): string => `${(ms / 60_000).toFixed(1)} min`;
const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const few = (xs: readonly string[]): string => (xs.length <= 8 ? xs.join(' ') : `${xs.slice(0, 8).join(' ')} … (${xs.length})`);

/** The report a person reads. */
export function formatScore(r: ScoreReport): string {
  const out = [`rogues detected: ${r.detected}/${r.rogues.length}`];
  for (const g of r.rogues) {
    out.push(g.detected ? `  ${g.name}: detected in ${minutes(g.timeToDetectMs as number)} (${g.rules.join(', ')})` : `  ${g.name}: NOT detected`);
  }
  out.push(`false-positive entities (medium+ on benign serials/cells): ${r.falsePositives.length}`);
  for (const f of r.falsePositives) out.push(`  ${f.entity}: ${f.rules.join(', ')}`);
  const p = r.payments;
  out.push(`payments: ${p.flagged} flagged, ${p.fraud} fraudulent, precision ${pct(p.precision)}, recall ${pct(p.recall)}`);
  if (p.missed.length) out.push(`  missed: ${few(p.missed)}`);
  if (p.wrong.length) out.push(`  flagged but not fraud: ${few(p.wrong)}`);
  if (r.impact) {
    const i = r.impact;
    out.push(`impact: ${i.listed} listed, ${i.expected} exposed, ${i.exact ? 'exact' : `${i.missing.length} missing, ${i.extra.length} extra`}`);
    if (i.missing.length) out.push(`  missing: ${few(i.missing)}`);
    if (i.extra.length) out.push(`  extra: ${few(i.extra)}`);
  }
  return out.join('\n') + '\n';
}
