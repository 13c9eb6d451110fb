import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqlite, sqliteAuditStore, sqliteDeviceStore, sqlitePaymentHoldStore } from '../adapters/sqlite/index.js';
import { fixedClock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import { createRegistry } from '../registry/index.js';
import type { Alert } from './alerts.js';
import { detectionConfigSchema } from './config.js';
import { createResponder } from './responses.js';
import { fileSink } from './sinks/file.js';

function setup(dryRun: boolean) {
  const db = openSqlite(':memory:');
  const audit = sqliteAuditStore(db);
  const clock = fixedClock(new Date('2026-01-01T00:00:00Z'));
  const revoked: string[] = [];
  const registry = createRegistry({ store: sqliteDeviceStore(db), audit, clock, revoker: { applyStatus: (s, _f, to) => (revoked.push(`${s}:${to}`), Promise.resolve(1)) } });
  const holds = sqlitePaymentHoldStore(db);
  const respond = createResponder({
    config: detectionConfigSchema.parse({ dryRun }),
    holds,
    audit,
    logger: silentLogger(),
    now: () => clock.now(),
    quarantine: {
      async quarantine(serial, reason) {
        const d = await registry.get(serial);
        if (!d || d.status !== 'active') return false;
        await registry.setStatus(serial, 'suspended', 'system:detection', reason);
        return true;
      },
    },
  });
  return { registry, holds, audit, respond, revoked };
}

const base = { cellIds: [], siteLat: null, siteLon: null, siteRadiusM: 300, ipPrefixes: [], expectedNeighbors: [], certFingerprints: [], owner: null };
const alert = (o: Partial<Alert>): Alert => ({ id: 'al_x', ts: '2026-01-01T00:00:00.000Z', rule: 'credential-shared', severity: 'critical', summary: 's', evidence: {}, count: 1, firstSeen: 'a', lastSeen: 'a', ...o }) as Alert;

describe('responses', () => {
  it('ok/credential-shared quarantines by default; payment-exposure holds the payment; both audited', async () => {
    const s = setup(false);
    await s.registry.add({ ...base, serial: 'Q1', status: 'active' }, 'test');
    expect(await s.respond(alert({ serial: 'Q1' }))).toBe('done');
    expect((await s.registry.mustGet('Q1')).status).toBe('suspended');
    expect(s.revoked).toEqual(['Q1:suspended']);
    await s.respond(alert({ id: 'al_p', rule: 'payment-exposure', severity: 'high', txId: 'tx1', msisdn: '+8210', cellId: 'c' }));
    expect((await s.holds.get('tx1'))?.status).toBe('held');
    const actions = (await s.audit.list({ action: 'response.*' })).map((e) => e.action).concat((await s.audit.list({ action: 'payment.*' })).map((e) => e.action));
    expect(actions.sort()).toEqual(['payment.held', 'response.quarantine']);
  });

  it('fail/dry-run changes nothing and records what it would have done', async () => {
    const s = setup(true);
    await s.registry.add({ ...base, serial: 'Q2', status: 'active' }, 'test');
    // 'dry-run': live detection does not record the responses as done (see live.test.ts)
    expect(await s.respond(alert({ serial: 'Q2' }))).toBe('dry-run');
    expect(await s.respond(alert({ id: 'al_p', rule: 'payment-exposure', severity: 'high', txId: 'tx2', msisdn: '+8210' }))).toBe('dry-run');
    expect((await s.registry.mustGet('Q2')).status).toBe('active');
    expect(await s.holds.get('tx2')).toBeNull();
    const dry = await s.audit.list({ action: 'response.dry_run' });
    expect(dry.map((e) => e.details?.would).sort()).toEqual(['hold-payment', 'quarantine']);
  });

  it('fail/rules without a configured response do nothing; an already suspended device is left alone', async () => {
    const s = setup(false);
    await s.registry.add({ ...base, serial: 'Q3', status: 'active' }, 'test');
    await s.respond(alert({ rule: 'source-ip-mismatch', severity: 'high', serial: 'Q3' }));
    expect((await s.registry.mustGet('Q3')).status).toBe('active');
    await s.registry.setStatus('Q3', 'suspended', 'op', 'manual');
    await s.respond(alert({ serial: 'Q3' }));
    expect((await s.audit.list({ action: 'response.quarantine' }))[0]?.details).toMatchObject({ applied: false });
  });

  it('ok/the alerts file gets one line per new alert and per escalation, masked by the transform', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'fg-sink-')), 'alerts.ndjson');
    const sink = fileSink(path, (a) => ({ ...a, msisdn: 'masked' }));
    sink.deliver(alert({ msisdn: '+821012345678' }), true, false);
    sink.deliver(alert({}), false, false);
    sink.deliver(alert({ severity: 'critical' }), false, true);
    await sink.close?.();
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[0] as string)).toMatchObject({ id: 'al_x', msisdn: 'masked' });
  });
});
