/**
 * One scoring, two users: the payments that detection's payment-exposure rule alerts on
 * (femtoguard's engine replaying the kt-small sample) are exactly the payments the shared
 * scoring function (src/subscribers/score.ts, behind the risk API and the impact analysis)
 * calls `high` at the time of payment, given the cells the alerts flag.
 */
import { createReadStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { detectionConfigSchema, loadRegistry, replay } from '../../src/detection/index.js';
import { validateEvent, type FgEvent } from '../../src/events/index.js';
import { FlagSet, scoreExposure } from '../../src/subscribers/index.js';
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
      const flags = new FlagSet();
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
          const s = scoreExposure(cellsOf.get(imsi ?? '') ?? [], (c) => flags.get(c), e.t, lookbackMs, policy);
          if (s.riskLevel === 'high') byScore.add(e.txId);
        }
      }
      expect(byRule.size).toBeGreaterThan(0);
      expect([...byScore].sort()).toEqual([...byRule].sort());
      if (lookbackMs === 7_200_000) expect([...byScore].sort()).toEqual([...expected.fraudTx].sort());
    });
  }
});
