import { describe, expect, it } from 'vitest';
import { DEFAULT_FUTURE_SKEW_MS, scoreExposure, type CellFlag, type RiskPolicy } from './score.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const T = Date.parse('2025-08-05T12:00:00Z');
const policy: RiskPolicy = { highWithinMs: 2 * HOUR, mediumWithinMs: 24 * HOUR };
const flags = new Map<string, CellFlag>([
  ['ROGUE', { t: T - 3 * HOUR, rules: ['unregistered-cell'] }],
  ['LATE', { t: T + MIN, rules: ['subscriber-surge'] }],
]);
const flagOf = (c: string): CellFlag | undefined => flags.get(c);
const score = (cells: [string, number][], maxAgeMs = 7 * 24 * HOUR, at = T) => scoreExposure(cells, flagOf, at, maxAgeMs, policy);

describe('scoreExposure (the one scoring function: API, impact, payment-exposure)', () => {
  it('ok/on a flagged cell minutes ago: exposed, high, the cell with its last time and the rules', () => {
    const s = score([['HOME', T - 5 * MIN], ['ROGUE', T - 10 * MIN]]);
    expect(s).toEqual({ exposed: true, riskLevel: 'high', lastExposure: T - 10 * MIN, cells: [{ cellId: 'ROGUE', lastOn: T - 10 * MIN, flaggedAt: T - 3 * HOUR, rules: ['unregistered-cell'] }] });
  });

  it('fail/scoring now (the risk API): an observation a few minutes ahead (a sender clock running fast) counts as now, not as nothing', () => {
    const now = (cells: [string, number][]) => scoreExposure(cells, flagOf, T, 7 * 24 * HOUR, policy, DEFAULT_FUTURE_SKEW_MS);
    expect(now([['ROGUE', T + 3 * MIN]])).toMatchObject({ exposed: true, riskLevel: 'high', lastExposure: T, cells: [{ cellId: 'ROGUE', lastOn: T }] });
    // beyond what ingestion accepts ahead (5 min): not an observation of now
    expect(now([['ROGUE', T + 6 * MIN]]).exposed).toBe(false);
  });

  it('ok/exactly at the look-back is still high (payment-exposure counts lastOn >= t - lookback)', () => {
    expect(score([['ROGUE', T - 2 * HOUR]]).riskLevel).toBe('high');
    expect(score([['ROGUE', T - 2 * HOUR - 1]]).riskLevel).toBe('medium');
  });

  it('ok/medium within a day, low beyond it but within maxAge', () => {
    expect(score([['ROGUE', T - 23 * HOUR]]).riskLevel).toBe('medium');
    expect(score([['ROGUE', T - 25 * HOUR]]).riskLevel).toBe('low');
  });

  it('ok/the most recent exposure decides, cells listed most recent first', () => {
    flags.set('B', { t: T - HOUR, rules: ['ims-downgrade'] });
    const s = score([['ROGUE', T - 30 * HOUR], ['B', T - 30 * MIN]]);
    expect(s.riskLevel).toBe('high');
    expect(s.cells.map((c) => c.cellId)).toEqual(['B', 'ROGUE']);
    flags.delete('B');
  });

  it('fail/no flagged cell: none', () => {
    expect(score([['HOME', T - MIN]])).toEqual({ exposed: false, riskLevel: 'none', cells: [], lastExposure: null });
    expect(score([])).toMatchObject({ exposed: false, riskLevel: 'none' });
  });

  it('fail/a cell flagged only after the time scored does not count (as payment-exposure)', () => {
    expect(score([['LATE', T - 10 * MIN]]).riskLevel).toBe('none');
    expect(score([['LATE', T - 10 * MIN]], undefined, T + 2 * MIN).riskLevel).toBe('high');
  });

  it('fail/a cell not flagged at the time scored (its flag lapsed) does not count: flagOf is asked about that time', () => {
    const asked: number[] = [];
    const lapsedBefore = (c: string, at: number): CellFlag | undefined => (asked.push(at), at < T ? flags.get(c) : undefined);
    expect(scoreExposure([['ROGUE', T - 10 * MIN]], lapsedBefore, T, HOUR, policy).riskLevel).toBe('none');
    expect(scoreExposure([['ROGUE', T - 10 * MIN]], lapsedBefore, T - MIN, HOUR, policy).riskLevel).toBe('high');
    expect(asked).toEqual([T, T - MIN]);
  });

  it('fail/older than maxAge does not count', () => {
    expect(score([['ROGUE', T - 2 * HOUR]], HOUR).riskLevel).toBe('none');
  });

  it('fail/an observation after the time scored does not count', () => {
    expect(score([['ROGUE', T + 1]]).riskLevel).toBe('none');
  });
});
