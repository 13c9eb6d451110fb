import { describe, expect, it } from 'vitest';
import { CellFlags, type RuleId } from '../detection/index.js';
import { cellsFlaggedBy, FlagSet, type FlaggingAlert } from './flags.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
const T = Date.parse('2025-08-02T00:00:00Z');

const alert = (o: Partial<FlaggingAlert>): FlaggingAlert => ({ rule: 'unregistered-cell', severity: 'critical', ts: '2025-08-02T15:30:39.485Z', ...o });

describe('cellsFlaggedBy (the engine flag semantics, from alerts)', () => {
  it('ok/the alert cell, the announced cells of its evidence, the cells of its device', () => {
    expect(cellsFlaggedBy(alert({ cellId: 'C1' }))).toEqual(['C1']);
    expect(cellsFlaggedBy(alert({ rule: 'inactive-device', serial: 'S1', evidence: { cellIds: ['C2', 'C3', 7] } }), () => ['C4']).sort()).toEqual(['C2', 'C3', 'C4']);
  });

  it('fail/low severity, payment-exposure and idle-device flag nothing', () => {
    expect(cellsFlaggedBy(alert({ cellId: 'C1', severity: 'low' }))).toEqual([]);
    expect(cellsFlaggedBy(alert({ cellId: 'C1', rule: 'payment-exposure', severity: 'high' }))).toEqual([]);
    expect(cellsFlaggedBy(alert({ serial: 'S', rule: 'idle-device', severity: 'high' }), () => ['C1'])).toEqual([]);
  });

  it('fail/an unknown severity flags nothing', () => {
    expect(cellsFlaggedBy(alert({ cellId: 'C1', severity: 'urgent' as never }))).toEqual([]);
  });
});

describe('FlagSet (detection\'s cell flags, as they stood at any time)', () => {
  it('ok/keeps the earliest flag time of an episode and every rule; reports only new cells', () => {
    const f = new FlagSet(WEEK);
    expect(f.flagFromAlert(alert({ cellId: 'C1', ts: '2025-08-02T16:00:00Z' }))).toEqual(['C1']);
    expect(f.flagFromAlert(alert({ cellId: 'C1', rule: 'subscriber-surge', severity: 'high', ts: '2025-08-02T15:00:00Z' }))).toEqual([]);
    expect(f.at('C1', Date.parse('2025-08-02T17:00:00Z'))).toEqual({ t: Date.parse('2025-08-02T15:00:00Z'), rules: ['subscriber-surge', 'unregistered-cell'] });
    expect(f.size).toBe(1);
    expect(f.has('C2')).toBe(false);
  });

  it('fail/not flagged before its first finding; rules only once they flagged', () => {
    const f = new FlagSet(WEEK);
    f.flag('C1', T, 'unregistered-cell');
    f.flag('C1', T + HOUR, 'ims-downgrade');
    expect(f.at('C1', T - 1)).toBeUndefined();
    expect(f.at('C1', T + HOUR - 1)).toEqual({ t: T, rules: ['unregistered-cell'] });
    expect(f.at('C1', T + HOUR)).toEqual({ t: T, rules: ['unregistered-cell', 'ims-downgrade'] });
  });

  it('fail/a flag lapses flagRetentionMs after its latest finding (a cell flagged 20 days ago is not flagged now)', () => {
    const f = new FlagSet(WEEK);
    f.flag('C1', T, 'source-ip-mismatch');
    f.flag('C1', T + 2 * DAY, 'source-ip-mismatch');
    expect(f.at('C1', T + 2 * DAY + WEEK)).toEqual({ t: T, rules: ['source-ip-mismatch'] });
    expect(f.at('C1', T + 2 * DAY + WEEK + 1)).toBeUndefined();
    expect(f.at('C1', T + 20 * DAY)).toBeUndefined();
    // Still a cell the hot index keeps exposures to: a new finding counts earlier visits.
    expect(f.has('C1')).toBe(true);
  });

  it('ok/a finding after a lapse starts a new episode with its own first time and rules; the old one answers for its own time', () => {
    const f = new FlagSet(WEEK);
    f.flag('C1', T, 'source-ip-mismatch');
    expect(f.flag('C1', T + 20 * DAY, 'unregistered-cell')).toBe(false);
    expect(f.at('C1', T + 20 * DAY + HOUR)).toEqual({ t: T + 20 * DAY, rules: ['unregistered-cell'] });
    expect(f.at('C1', T + 3 * DAY)).toEqual({ t: T, rules: ['source-ip-mismatch'] });
    expect(f.at('C1', T + 10 * DAY)).toBeUndefined();
  });

  it('ok/flagFromAlert flags at the first and the latest finding (ts, lastSeen): 20 days apart, two episodes', () => {
    const f = new FlagSet(WEEK);
    const ts = new Date(T).toISOString();
    const lastSeen = new Date(T + 20 * DAY).toISOString();
    expect(f.flagFromAlert(alert({ rule: 'source-ip-mismatch', severity: 'high', serial: 'S1', ts, lastSeen }), () => ['C1'])).toEqual(['C1']);
    expect(f.at('C1', T + 10 * DAY)).toBeUndefined();
    expect(f.at('C1', T + 21 * DAY)).toEqual({ t: T + 20 * DAY, rules: ['source-ip-mismatch'] });
  });

  it('fail/an alert with an unreadable time flags nothing; a negative retention is refused', () => {
    const f = new FlagSet(WEEK);
    expect(f.flagFromAlert(alert({ cellId: 'C1', ts: 'yesterday' }))).toEqual([]);
    expect(f.has('C1')).toBe(false);
    expect(() => new FlagSet(-1)).toThrow(/retentionMs/);
  });

  it('ok/in any order of arrival, at(t) is what detection\'s CellFlags held at t (findings in event order)', () => {
    const R = 5 * DAY;
    const rules: RuleId[] = ['unregistered-cell', 'source-ip-mismatch', 'ims-downgrade'];
    let seed = 7;
    const rnd = (): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648);
    for (let round = 0; round < 40; round++) {
      // Findings on 2 cells over 60 days, gaps often near the retention (joins and lapses).
      const findings = Array.from({ length: 12 }, () => ({ cell: rnd() < 0.5 ? 'A' : 'B', t: T + Math.floor(rnd() * 60) * DAY + Math.floor(rnd() * 4) * HOUR, rule: rules[Math.floor(rnd() * 3)] as RuleId }));
      const f = new FlagSet(R);
      for (const x of [...findings].sort(() => rnd() - 0.5)) f.flag(x.cell, x.t, x.rule);
      const inOrder = [...findings].sort((a, b) => a.t - b.t);
      for (let day = -1; day < 70; day++) {
        const at = T + day * DAY + 2 * HOUR;
        const ref = new CellFlags(R);
        for (const x of inOrder) if (x.t <= at) ref.flag(x.cell, x.t, x.rule);
        for (const cell of ['A', 'B']) {
          const g = ref.get(cell);
          const want = g && g.last >= at - R ? { t: g.t, rules: [...g.rules].sort() } : undefined;
          const got = f.at(cell, at);
          expect(got && { t: got.t, rules: [...got.rules].sort() }, `round ${round}, day ${day}, cell ${cell}`).toEqual(want);
        }
      }
    }
  });
});
