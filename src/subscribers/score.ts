/**
 * The one scoring function for subscriber exposure. The payment risk API, the impact
 * analysis's payments and the agreement test against detection's `payment-exposure` rule all
 * call it, so a payment the rule alerts on is a payment the API calls `high`.
 *
 * The rule (src/detection/rules/payment-exposure.ts): a payment is exposed when its subscriber
 * was on a cell flagged no later than the payment, at most `lookbackMs` before it (the flag
 * may come before or after the subscriber was on the cell), and the cell's flag had not lapsed
 * by then (its latest finding at most `flagRetentionMs` before the payment). `high` here is
 * exactly that condition, given the flags as detection held them at the time scored (`FlagSet.at`
 * in flags.ts); `medium` and `low` widen the look-back for the gateway's own judgement.
 */

export const RISK_LEVELS = ['none', 'low', 'medium', 'high'] as const;
export type RiskLevel = (typeof RISK_LEVELS)[number];

export interface RiskPolicy {
  /** on a flagged cell at most this long before: high (= payment-exposure's lookbackMs) */
  highWithinMs: number;
  /** at most this long before: medium; older (but within maxAge): low */
  mediumWithinMs: number;
}

/** A cell's flag as it stood at the time scored: the episode then current, not lapsed. */
export interface CellFlag {
  /** event time the episode began (the cell's first flag since its flag last lapsed) */
  t: number;
  rules: readonly string[];
}

export interface SuspiciousCell {
  cellId: string;
  /** last time the subscriber was on the cell (at or before the time scored) */
  lastOn: number;
  flaggedAt: number;
  rules: readonly string[];
}

export interface ExposureScore {
  exposed: boolean;
  riskLevel: RiskLevel;
  /** most recent first */
  cells: SuspiciousCell[];
  /** time of the most recent exposure, or null */
  lastExposure: number | null;
}

/**
 * Scores a subscriber at time `at` from the cells they were on (`[cellId, lastOn]`, lastOn
 * being the last time at or before `at`) and the flagged cells. Only cells on at most
 * `maxAgeMs` before `at` and flagged at `at` count: `flagOf(cellId, at)` gives the cell's flag
 * as it stood then (undefined when not flagged yet, or lapsed: `FlagSet.at`).
 */
/** The risk API's futureSkewMs when the caller names none: ingestion's default `live.maxFutureMs` (5 min). */
export const DEFAULT_FUTURE_SKEW_MS = 5 * 60_000;

export function scoreExposure(
  cellsOn: Iterable<readonly [string, number]>,
  flagOf: (cellId: string, at: number) => CellFlag | undefined,
  at: number,
  maxAgeMs: number,
  policy: RiskPolicy,
  futureSkewMs = 0,
): ExposureScore {
  const cells: SuspiciousCell[] = [];
  let latest = -Infinity;
  const since = at - maxAgeMs;
  for (const [cellId, seen] of cellsOn) {
    // With `futureSkewMs` (the risk API, scoring now): an observation dated up to that much
    // after `at` is taken as at `at`: a sender's clock may run ahead (ingestion takes events
    // up to 5 min ahead), and skipping the cell would hide the exposure it stands for (the
    // index keeps only the latest time on each cell). Fail closed. Otherwise (a payment's own
    // time), an observation after `at` does not count.
    if (seen < since || seen > at + futureSkewMs) continue;
    const lastOn = Math.min(seen, at);
    const f = flagOf(cellId, at);
    if (!f || f.t > at) continue;
    cells.push({ cellId, lastOn, flaggedAt: f.t, rules: f.rules });
    if (lastOn > latest) latest = lastOn;
  }
  if (cells.length === 0) return { exposed: false, riskLevel: 'none', cells, lastExposure: null };
  cells.sort((a, b) => b.lastOn - a.lastOn || (a.cellId < b.cellId ? -1 : 1));
  const age = at - latest;
  const riskLevel: RiskLevel = age <= policy.highWithinMs ? 'high' : age <= policy.mediumWithinMs ? 'medium' : 'low';
  return { exposed: true, riskLevel, cells, lastExposure: latest };
}
