/**
 * What the server made of a live run, read back through its API (alerts, payment holds, the
 * breach impact analysis) and scored against the ground truth (score.ts), times in event time.
 */
import { score, toScoredAlert, type ScoredAlert, type ScoreReport } from '../score.js';
import type { Truth } from '../types.js';
import { Api } from './http.js';

export interface ServerReport {
  alerts: ScoredAlert[];
  /** alerts by severity */
  bySeverity: Record<string, number>;
  /** txIds the server holds (payment-exposure response) */
  held: string[];
  /** IMSIs the impact analysis lists for each rogue's cells over its window */
  impactImsis: string[];
  score: ScoreReport;
  /** fraudulent payments the server holds, of all the fraudulent ones */
  fraudHeld: number;
}

/** `target`: the API base URL; `token`: one that may read alerts, payment holds and identifiers (admin). */
export async function serverReport(target: string, token: string, truth: Truth): Promise<ServerReport> {
  const api = new Api(new URL(target).origin, token);
  const { items } = await api.json<{ items: unknown[] }>('GET', '/v1/alerts?limit=10000');
  const alerts = items.map(toScoredAlert).filter((a): a is ScoredAlert => a !== null);
  const bySeverity: Record<string, number> = {};
  for (const a of alerts) bySeverity[a.severity] = (bySeverity[a.severity] ?? 0) + 1;
  const holds = await api.json<{ items: { txId: string; status?: string }[] }>('GET', '/v1/payment-holds?limit=10000');
  const held = holds.items.map((h) => h.txId).sort();
  // Per rogue: who was on its cells during its window (the truth's definition of exposed).
  const imsis = new Set<string>();
  for (const r of truth.rogues) {
    if (!r.cellIds.some((c) => (truth.exposedImsis[c] ?? []).length > 0)) continue;
    const q = `/v1/impact?cells=${encodeURIComponent(r.cellIds.join(','))}&from=${encodeURIComponent(r.start)}&to=${Date.parse(r.end) + 1}&view=subscribers`;
    const imp = await api.json<{ items: { imsi: string }[] }>('GET', q);
    for (const s of imp.items) imsis.add(s.imsi);
  }
  const impactImsis = [...imsis].sort();
  const fraud = new Set(truth.fraudTx);
  return { alerts, bySeverity, held, impactImsis, score: score(truth, alerts, impactImsis), fraudHeld: held.filter((t) => fraud.has(t)).length };
}
