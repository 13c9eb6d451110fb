/**
 * AlertBook: folding, and the retention a long-running engine (the live server) bounds its
 * book with. Without a retention the book keeps everything (`femtoguard detect`'s output).
 */
import { describe, expect, it } from 'vitest';
import { AlertBook, SEVERITY_RANK, alertId, subjectKey, type Finding } from './alerts.js';

const HOUR = 3_600_000;
const T0 = Date.parse('2025-08-02T00:00:00Z');

/** A payment-exposure finding: its subject is the payment, so each txId is one alert. */
const pay = (txId: string, t: number, severity: Finding['severity'] = 'high', summary = `pay ${txId}`): Finding => ({ rule: 'payment-exposure', severity, t, txId, summary, evidence: { summary } });
const cell = (cellId: string, t: number, severity: Finding['severity'] = 'high'): Finding => ({ rule: 'unregistered-cell', severity, t, cellId, summary: `cell ${cellId} ${severity}`, evidence: { severity } });
const ids = (b: AlertBook): string[] => b.folds().map((x) => x.alert.txId ?? x.alert.cellId ?? '');

describe('AlertBook.fold', () => {
  it('ok/returns the severity rank before the finding, -1 when the finding raised the alert', () => {
    const b = new AlertBook();
    expect(b.fold(cell('c', T0, 'medium'))).toMatchObject({ isNew: true, severityBefore: -1 });
    expect(b.fold(cell('c', T0 + 1, 'critical'))).toMatchObject({ isNew: false, severityBefore: SEVERITY_RANK.medium });
    const last = b.fold(cell('c', T0 + 2, 'low'));
    expect(last.severityBefore).toBe(SEVERITY_RANK.critical);
    expect(last.alert).toMatchObject({ severity: 'critical', summary: 'cell c critical', count: 3, lastSeen: new Date(T0 + 2).toISOString() });
  });

  it('ok/an older finding (a late event) adds to the count but does not move lastSeen back', () => {
    const b = new AlertBook();
    b.fold(cell('c', T0 + HOUR));
    const { alert } = b.fold(cell('c', T0));
    expect(alert).toMatchObject({ count: 2, firstSeen: new Date(T0 + HOUR).toISOString(), lastSeen: new Date(T0 + HOUR).toISOString() });
  });
});

describe('AlertBook retention', () => {
  it('ok/without a retention nothing is dropped: expire is a no-op and the order of folds is that of first findings', () => {
    const b = new AlertBook();
    for (let i = 0; i < 1000; i++) b.fold(pay(`tx${i}`, T0 + i));
    b.fold(pay('tx0', T0 + 5000));
    expect(b.expire(T0 + 1000 * HOUR)).toBe(0);
    expect(b.size).toBe(1000);
    expect(b.evicted).toBe(0);
    expect(ids(b)[0]).toBe('tx0');
  });

  it('ok/evictIdle drops exactly the alerts whose latest finding is before the time, and their folding data', () => {
    const b = new AlertBook({ idleMs: 24 * HOUR });
    b.fold(pay('old', T0));
    b.fold(pay('kept', T0));
    b.fold(pay('recent', T0 + 10 * HOUR));
    b.fold(pay('kept', T0 + 20 * HOUR)); // a later finding keeps it
    expect(b.evictIdle(T0 + 5 * HOUR)).toBe(1);
    expect(b.size).toBe(2);
    expect(b.folds().map((x) => x.alert.txId).sort()).toEqual(['kept', 'recent']);
    expect(b.has({ rule: 'payment-exposure', txId: 'old' })).toBe(false);
    expect(b.list().map((a) => a.txId).sort()).toEqual(['kept', 'recent']);
    expect(b.evicted).toBe(1);
  });

  it('ok/evictIdle is exact even when a late finding folded an old time last', () => {
    const b = new AlertBook({ idleMs: HOUR, max: 10 });
    b.fold(pay('a', T0 + 10 * HOUR));
    b.fold(pay('late', T0)); // folded last, yet the oldest
    b.fold(pay('b', T0 + 11 * HOUR));
    expect(b.evictIdle(T0 + 5 * HOUR)).toBe(1);
    expect(ids(b).sort()).toEqual(['a', 'b']);
  });

  it('ok/expire(t) drops the alerts idle for longer than idleMs before t', () => {
    const b = new AlertBook({ idleMs: 24 * HOUR });
    b.fold(pay('a', T0));
    b.fold(pay('b', T0 + 2 * HOUR));
    expect(b.expire(T0 + 24 * HOUR)).toBe(0); // a's last finding is exactly idleMs old: kept
    expect(b.expire(T0 + 25 * HOUR)).toBe(1);
    expect(ids(b)).toEqual(['b']);
  });

  it('ok/past max the least recently folded alert is dropped; a finding makes an alert the most recent', () => {
    const b = new AlertBook({ max: 3 });
    b.fold(pay('a', T0));
    b.fold(pay('b', T0 + 1));
    b.fold(pay('c', T0 + 2));
    b.fold(pay('a', T0 + 3)); // a is now the most recently folded: b goes first
    expect(ids(b)).toEqual(['b', 'c', 'a']);
    b.fold(pay('d', T0 + 4));
    expect(ids(b)).toEqual(['c', 'a', 'd']);
    b.fold(pay('e', T0 + 5));
    expect(ids(b)).toEqual(['a', 'd', 'e']);
    expect(b.size).toBe(3);
    expect(b.evicted).toBe(2);
    // A repeat of a held alert drops nothing.
    b.fold(pay('d', T0 + 6));
    expect(ids(b)).toEqual(['a', 'e', 'd']);
    expect(b.evicted).toBe(2);
  });

  it('ok/a subject that comes back after its alert was dropped raises a new alert object with the same id', () => {
    const b = new AlertBook({ idleMs: HOUR, max: 2 });
    const first = b.fold(cell('c', T0, 'critical'));
    b.fold(cell('c', T0 + 1, 'critical'));
    b.expire(T0 + 3 * HOUR);
    expect(b.size).toBe(0);
    const again = b.fold(cell('c', T0 + 4 * HOUR, 'medium'));
    expect(again).toMatchObject({ isNew: true, severityBefore: -1 });
    expect(again.alert).not.toBe(first.alert);
    expect(again.alert).toMatchObject({ id: first.alert.id, count: 1, severity: 'medium', ts: new Date(T0 + 4 * HOUR).toISOString() });
    expect(again.alert.id).toBe(alertId(subjectKey({ rule: 'unregistered-cell', cellId: 'c' })));
    // Same for one dropped by the cap.
    b.fold(cell('d', T0 + 5 * HOUR));
    b.fold(cell('e', T0 + 5 * HOUR));
    expect(b.has({ rule: 'unregistered-cell', cellId: 'c' })).toBe(false);
    expect(b.fold(cell('c', T0 + 6 * HOUR))).toMatchObject({ isNew: true, alert: { count: 1 } });
  });

  it('ok/memory does not grow with the stream: ten days of one new payment alert a minute hold a day of them, or the cap', () => {
    const idle = new AlertBook({ idleMs: 24 * HOUR, max: 100_000 });
    const capped = new AlertBook({ idleMs: 24 * HOUR, max: 500 });
    const sizes: number[] = [];
    let nextExpire = T0;
    for (let m = 0; m < 10 * 24 * 60; m++) {
      const t = T0 + m * 60_000;
      // the engine's hourly expiry tick
      if (t >= nextExpire) {
        idle.expire(t);
        capped.expire(t);
        nextExpire = t + HOUR;
      }
      idle.fold(pay(`tx${m}`, t));
      capped.fold(pay(`tx${m}`, t));
      if (m % (24 * 60) === 24 * 60 - 1) sizes.push(idle.size);
      expect(capped.size).toBeLessThanOrEqual(500);
    }
    // After day 1 the idle book holds 24 h and at most an hour more of them, every day.
    for (const s of sizes.slice(1)) {
      expect(s).toBeGreaterThanOrEqual(24 * 60);
      expect(s).toBeLessThanOrEqual(25 * 60);
    }
    expect(idle.folds().length).toBe(idle.size);
    expect(idle.evicted + idle.size).toBe(10 * 24 * 60);
  });

  it('fail/a retention max under 1 or a negative idleMs is refused', () => {
    expect(() => new AlertBook({ max: 0 })).toThrow(/max must be at least 1/);
    expect(() => new AlertBook({ max: Number.NaN })).toThrow(/max/);
    expect(() => new AlertBook({ idleMs: -1 })).toThrow(/idleMs/);
  });
});
