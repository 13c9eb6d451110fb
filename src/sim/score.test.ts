import { describe, expect, it } from 'vitest';
import { formatScore, parseAlerts, score, type ScoredAlert } from './score.js';
import type { Truth } from './types.js';

const truth: Truth = {
  seed: 1,
  rogues: [
    { name: 'lost-credential-rogue', serials: ['R1'], cellIds: ['C-R1a', 'C-R1b'], start: '2025-08-04T17:00:00.000Z', end: '2025-08-04T20:00:00.000Z' },
    { name: 'clone', serials: ['V1'], cellIds: ['C-V1'], start: '2025-08-05T16:00:00.000Z', end: '2025-08-05T18:00:00.000Z' },
  ],
  expected: [],
  fraudTx: ['tx1', 'tx2'],
  exposedImsis: { 'C-R1a': ['450080000000001', '450080000000002'], 'C-R1b': ['450080000000003'], 'C-V1': [] },
  compromised: { serials: ['R1', 'V1'], cellIds: ['C-R1a', 'C-R1b', 'C-V1'] },
  benignSerials: ['B1', 'B2'],
  benignCellIds: ['C-B1', 'C-B2'],
  counts: { events: 0, devices: 4, fraudTx: 2, exposed: 3 },
};

const al = (a: Partial<ScoredAlert> & Pick<ScoredAlert, 'rule' | 'severity'>): ScoredAlert => ({ ts: '2025-08-04T17:02:00.000Z', ...a });

describe('sim/score', () => {
  it('ok/a perfect run: every rogue with its time to detect, no false positive, payments and impact exact', () => {
    const r = score(
      truth,
      [
        al({ rule: 'unregistered-cell', severity: 'critical', cellId: 'C-R1b', ts: '2025-08-04T17:05:00.000Z' }),
        al({ rule: 'inactive-device', severity: 'critical', serial: 'R1', ts: '2025-08-04T17:00:00.000Z' }),
        al({ rule: 'credential-shared', severity: 'critical', serial: 'V1', ts: '2025-08-05T16:03:00.000Z' }),
        al({ rule: 'payment-exposure', severity: 'high', txId: 'tx1', cellId: 'C-R1a' }),
        al({ rule: 'payment-exposure', severity: 'high', txId: 'tx2', cellId: 'C-R1a' }),
        al({ rule: 'idle-device', severity: 'low', serial: 'B1' }),
      ],
      ['450080000000003', '450080000000001', '450080000000002'],
    );
    expect(r.detected).toBe(2);
    expect(r.rogues.map((g) => g.timeToDetectMs)).toEqual([0, 3 * 60_000]);
    expect(r.rogues[0]?.rules).toEqual(['inactive-device', 'unregistered-cell']);
    expect(r.falsePositives).toEqual([]);
    expect(r.payments).toMatchObject({ precision: 1, recall: 1, flagged: 2, truePositives: 2 });
    expect(r.impact).toEqual({ expected: 3, listed: 3, missing: [], extra: [], exact: true });
    expect(formatScore(r)).toMatch(/rogues detected: 2\/2\n {2}lost-credential-rogue: detected in 0\.0 min/);
  });

  it('fail/low-severity alerts on a rogue do not count as detection', () => {
    const r = score(truth, [al({ rule: 'idle-device', severity: 'low', serial: 'V1' }), al({ rule: 'location-mismatch', severity: 'medium', cellId: 'C-V1' })]);
    expect(r.rogues.map((g) => g.detected)).toEqual([false, false]);
    expect(r.rogues[1]?.timeToDetectMs).toBeNull();
    expect(formatScore(r)).toMatch(/clone: NOT detected/);
  });

  it('fail/medium+ alerts on benign serials and cells are false-positive entities; low ones and payment alerts are not', () => {
    const r = score(truth, [
      al({ rule: 'source-ip-mismatch', severity: 'high', serial: 'B1' }),
      al({ rule: 'location-mismatch', severity: 'medium', serial: 'B1' }),
      al({ rule: 'subscriber-surge', severity: 'high', cellId: 'C-B2' }),
      al({ rule: 'idle-device', severity: 'low', serial: 'B2' }),
      al({ rule: 'payment-exposure', severity: 'high', txId: 'tx9', cellId: 'C-B1' }),
    ]);
    expect(r.falsePositives).toEqual([
      { entity: 'cell C-B2', rules: ['subscriber-surge'] },
      { entity: 'serial B1', rules: ['location-mismatch', 'source-ip-mismatch'] },
    ]);
  });

  it('fail/a benign payment flagged lowers precision, a fraud one missed lowers recall', () => {
    const r = score(truth, [al({ rule: 'payment-exposure', severity: 'high', txId: 'tx1' }), al({ rule: 'payment-exposure', severity: 'high', txId: 'tx7' })]);
    expect(r.payments).toMatchObject({ precision: 0.5, recall: 0.5, missed: ['tx2'], wrong: ['tx7'] });
    expect(formatScore(r)).toMatch(/precision 50\.0%, recall 50\.0%/);
  });

  it('fail/impact lists with missing or extra subscribers are not exact', () => {
    const r = score(truth, [], ['450080000000001', '450080000000999']);
    expect(r.impact).toEqual({ expected: 3, listed: 2, missing: ['450080000000002', '450080000000003'], extra: ['450080000000999'], exact: false });
    expect(r.payments.recall).toBe(0);
    expect(r.payments.precision).toBe(1);
  });

  it('fail/parseAlerts skips lines that are not alerts and keeps going', () => {
    const text = ['{"ts":"2025-08-04T17:00:00Z","rule":"x","severity":"high","serial":"R1"}', 'not json', '{"rule":"x"}', '{"ts":"t","rule":"x","severity":"urgent"}', ''].join('\n');
    const { alerts, skipped } = parseAlerts(text);
    expect(alerts).toEqual([{ ts: '2025-08-04T17:00:00Z', rule: 'x', severity: 'high', serial: 'R1' }]);
    expect(skipped).toBe(3);
  });
});
