/**
 * One scoring, two users: the payments that detection's payment-exposure rule alerts on
 * (femtoguard's engine replaying the kt-small sample) are exactly the payments the shared
 * scoring function (src/subscribers/score.ts, behind the risk API and the impact analysis)
 * calls `high` at the time of payment, given the cells the alerts flag. Flags lapse on both
 * sides alike (`flagRetentionMs`): a cell flagged weeks before a payment and not since is
 * not suspicious, and one flagged again later is flagged anew.
 */
import { createReadStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createEngine, detectionConfigSchema, loadRegistry, RegistryView, replay, type Alert, type DetectionConfig } from '../../src/detection/index.js';
import { validateEvent, type FgEvent } from '../../src/events/index.js';
import type { DeviceInput } from '../../src/registry/index.js';
import { FlagSet, scoreExposure, type ExposureScore } from '../../src/subscribers/index.js';
import { expected, SAMPLE } from '../helpers/subscribers-sample.js';

function sampleEvents(): FgEvent[] {
  const out: FgEvent[] = [];
  for (const line of readFileSync(join(SAMPLE, 'events.ndjson'), 'utf8').split('\n')) {
    try {
      const v = validateEvent(JSON.parse(line));
      if (v.ok) out.push(v.event);
    } catch {
      // the sample's deliberately broken lines
    }
  }
  // Time order, as the engine processes them (ties by id, as its reorder buffer does).
  return out.sort((a, b) => a.t - b.t || ((a.id ?? '') < (b.id ?? '') ? -1 : 1));
}

describe('payment-exposure (detection) and scoreExposure (subscribers) agree', () => {
  for (const lookbackMs of [7_200_000, 1_800_000, 21_600_000]) {
    it(`ok/on kt-small, the same payments, look-back ${lookbackMs / 60_000} min`, async () => {
      const config = detectionConfigSchema.parse({ rules: { 'payment-exposure': { lookbackMs } } });
      const { alerts } = await replay({ registry: createReadStream(join(SAMPLE, 'registry.csv')), events: createReadStream(join(SAMPLE, 'events.ndjson')), config });
      const byRule = new Set(alerts.filter((a) => a.rule === 'payment-exposure').map((a) => a.txId));
      const { view } = await loadRegistry(createReadStream(join(SAMPLE, 'registry.csv')));
      const flags = new FlagSet(config.rules['payment-exposure'].flagRetentionMs);
      for (const a of alerts) flags.flagFromAlert(a, (serial) => view.get(serial)?.cellIds ?? []);

      const imsiOf = new Map<string, string>();
      const cellsOf = new Map<string, Map<string, number>>();
      const byScore = new Set<string>();
      const policy = { highWithinMs: lookbackMs, mediumWithinMs: 86_400_000 };
      for (const e of sampleEvents()) {
        if (e.type === 'ue.attach' || e.type === 'ims.register') {
          if (e.msisdn) imsiOf.set(e.msisdn, e.imsi);
          if (!e.cellId) continue;
          let m = cellsOf.get(e.imsi);
          if (!m) cellsOf.set(e.imsi, (m = new Map()));
          m.set(e.cellId, Math.max(m.get(e.cellId) ?? -Infinity, e.t));
        } else if (e.type === 'payment.auth') {
          const imsi = imsiOf.get(e.msisdn);
          const s = scoreExposure(cellsOf.get(imsi ?? '') ?? [], (c, t) => flags.at(c, t), e.t, lookbackMs, policy);
          if (s.riskLevel === 'high') byScore.add(e.txId);
        }
      }
      expect(byRule.size).toBeGreaterThan(0);
      expect([...byScore].sort()).toEqual([...byRule].sort());
      if (lookbackMs === 7_200_000) expect([...byScore].sort()).toEqual([...expected.fraudTx].sort());
    });
  }
});

const MIN = 60_000;
const DAY = 24 * 60 * MIN;
/** The payment's time in the scenarios below; everything else is days or minutes before it. */
const P = Date.parse('2026-11-28T10:00:00Z');
const CELL = '45008-200';
const UNIT: DeviceInput = { serial: 'KTF2', status: 'active', cellIds: [CELL], siteLat: null, siteLon: null, siteRadiusM: 300, ipPrefixes: ['10.0.0.0/8'], expectedNeighbors: [], certFingerprints: [], owner: null };
const SUBSCRIBER = { imsi: '450082222222222', msisdn: '+821033334444' };

function event(raw: Record<string, unknown>): FgEvent {
  const v = validateEvent(raw);
  if (!v.ok) throw new Error(`invalid test event ${JSON.stringify(raw)}`);
  return v.event;
}

/** KTF2 connects from outside its registered line (source-ip-mismatch: flags its cell) `daysBefore` P, for a minute. */
const strayFromLine = (daysBefore: number): FgEvent[] => {
  const t = P - daysBefore * DAY;
  return [
    event({ type: 'femto.session', ts: t, id: `up${daysBefore}`, serial: 'KTF2', phase: 'up', sourceIp: '192.0.2.1', cellIds: [CELL] }),
    event({ type: 'femto.session', ts: t + MIN, id: `down${daysBefore}`, serial: 'KTF2', phase: 'down', sourceIp: '192.0.2.1' }),
  ];
};

/** The subscriber on the cell 10 minutes before P, and a payment a minute before P (the reviewer's lapse.sh). */
const payment: FgEvent[] = [
  event({ type: 'ue.attach', ts: P - 10 * MIN, id: 'b1', cellId: CELL, ...SUBSCRIBER }),
  event({ type: 'payment.auth', ts: P - MIN, id: 'p1', txId: 'tx-lapse', msisdn: SUBSCRIBER.msisdn, amountMinor: 9000, currency: 'KRW', method: 'sms-otp' }),
];

interface Both {
  /** detection's payment-exposure alert for tx-lapse, if any */
  rule: Alert | undefined;
  /** the score at the payment from flags taken as the live server takes them (an alert per finding) */
  live: ExposureScore;
  /** the same from the alerts as stored at the end (first and latest finding each: a restart) */
  stored: ExposureScore;
  /** the cell flagged at all (so a lapse is a lapse, not a flag never made) */
  flagged: boolean;
}

/** Runs the engine over the events and scores the payment from the flags its alerts give. */
function both(events: readonly FgEvent[], config: DetectionConfig): Both {
  const delivered: Alert[] = [];
  const engine = createEngine({ registry: RegistryView.from([UNIT]), config, onAlert: (a) => delivered.push({ ...a }) });
  const sorted = [...events].sort((a, b) => a.t - b.t);
  for (const e of sorted) engine.push(e);
  engine.finish();
  const retention = config.rules['payment-exposure'].flagRetentionMs;
  const lookbackMs = config.rules['payment-exposure'].lookbackMs;
  const policy = { highWithinMs: lookbackMs, mediumWithinMs: DAY };
  const pay = sorted.find((e) => e.type === 'payment.auth') as FgEvent;
  // The subscriber's last time on each cell up to the payment, as the exposure index has it.
  const on = new Map<string, number>();
  for (const e of sorted) if (e.type === 'ue.attach' && e.t <= pay.t) on.set(e.cellId, Math.max(on.get(e.cellId) ?? -Infinity, e.t));
  const score = (alerts: readonly Alert[]): { s: ExposureScore; flagged: boolean } => {
    const flags = new FlagSet(retention);
    for (const a of alerts) flags.flagFromAlert(a, () => UNIT.cellIds);
    return { s: scoreExposure(on, (c, t) => flags.at(c, t), pay.t, lookbackMs, policy), flagged: flags.has(CELL) };
  };
  const live = score(delivered);
  return { rule: engine.alerts().find((a) => a.rule === 'payment-exposure' && a.txId === 'tx-lapse'), live: live.s, stored: score(engine.alerts()).s, flagged: live.flagged };
}

/** The episode start detection reported for the cell (evidence.exposures[].flaggedAt). */
const ruleFlaggedAt = (a: Alert): number => Date.parse(((a.evidence.exposures as { cellId: string; flaggedAt: string }[]).find((x) => x.cellId === CELL) as { flaggedAt: string }).flaggedAt);

describe('payment-exposure and the risk scoring agree on lapsed and renewed cell flags (flagRetentionMs)', () => {
  const defaults = detectionConfigSchema.parse({});

  it('fail/a cell flagged 20 days before the payment (retention 7 days): detection raises nothing, the risk is not high', () => {
    const r = both([...strayFromLine(20), ...payment], defaults);
    expect(r.flagged).toBe(true);
    expect(r.rule).toBeUndefined();
    for (const s of [r.live, r.stored]) expect(s).toMatchObject({ exposed: false, riskLevel: 'none', cells: [] });
  });

  it('ok/the same cell flagged again the day before: a new episode; detection alerts, the risk is high, both from the new flag', () => {
    const r = both([...strayFromLine(20), ...strayFromLine(1), ...payment], defaults);
    expect(r.rule).toBeDefined();
    expect(ruleFlaggedAt(r.rule as Alert)).toBe(P - DAY);
    for (const s of [r.live, r.stored]) {
      expect(s.riskLevel).toBe('high');
      expect(s.cells).toEqual([{ cellId: CELL, lastOn: P - 10 * MIN, flaggedAt: P - DAY, rules: ['source-ip-mismatch'] }]);
    }
  });

  it('ok/findings less than the retention apart (20, 14, 8 and 2 days before) are one episode: flagged since the first, as detection says', () => {
    const r = both([...strayFromLine(20), ...strayFromLine(14), ...strayFromLine(8), ...strayFromLine(2), ...payment], defaults);
    expect(ruleFlaggedAt(r.rule as Alert)).toBe(P - 20 * DAY);
    expect(r.live).toMatchObject({ riskLevel: 'high', cells: [{ cellId: CELL, flaggedAt: P - 20 * DAY }] });
    // Read back from the store, only the first and latest findings are known (20 and 2 days
    // before, more than the retention apart): still high, the episode from the latest finding.
    expect(r.stored).toMatchObject({ riskLevel: 'high', cells: [{ cellId: CELL, flaggedAt: P - 2 * DAY }] });
  });

  it('ok/the retention is the configured one: at 30 days the flag of 20 days before has not lapsed, on either side', () => {
    const config = detectionConfigSchema.parse({ rules: { 'payment-exposure': { flagRetentionMs: 30 * DAY } } });
    const r = both([...strayFromLine(20), ...payment], config);
    expect(r.rule).toBeDefined();
    for (const s of [r.live, r.stored]) expect(s).toMatchObject({ riskLevel: 'high', cells: [{ cellId: CELL, flaggedAt: P - 20 * DAY }] });
  });
});
