import { describe, expect, it } from 'vitest';
import { cellsFlaggedBy, FlagSet, type FlaggingAlert } from './flags.js';

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

describe('FlagSet', () => {
  it('ok/keeps the earliest flag time and every rule; reports only new cells', () => {
    const f = new FlagSet();
    expect(f.flagFromAlert(alert({ cellId: 'C1', ts: '2025-08-02T16:00:00Z' }))).toEqual(['C1']);
    expect(f.flagFromAlert(alert({ cellId: 'C1', rule: 'subscriber-surge', severity: 'high', ts: '2025-08-02T15:00:00Z' }))).toEqual([]);
    expect(f.get('C1')).toEqual({ t: Date.parse('2025-08-02T15:00:00Z'), rules: ['unregistered-cell', 'subscriber-surge'] });
    expect(f.size).toBe(1);
    expect(f.has('C2')).toBe(false);
  });
});
