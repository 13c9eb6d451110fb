/**
 * A recycled number against a real server, through curl: a new IMSI attaches with a victim's
 * number, then pays. The impact analysis must not put that payment on the victim, nor give the
 * victim's exposure to the number's new owner; the risk API answers for the new owner, before
 * and after a restart (the hot index rebuilt from the store).
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/app/index.js';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { requireTool, run } from '../helpers/run.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { eventually, ingestWithCurl } from '../helpers/subscribers-sample.js';

const OLD = '450080000001173';
const NEW = '450080000000000';
const NUMBER = '+821010001173';
const ROGUE = '45008-300435654';
const HOME = '45008-200000000';
const MIN = 60_000;

describe('a recycled MSISDN (GET /v1/impact, POST /v1/payment-risk/check)', () => {
  let t: TestServer;
  let srv: RunningServer;
  let http = '';
  const tok: Record<string, string> = {};
  const curl = async (args: string[]): Promise<{ status: number; body: string }> => {
    const r = await run('curl', ['-sS', '-o', '-', '-w', '\n%{http_code}', ...args]);
    const i = r.stdout.lastIndexOf('\n');
    return { status: Number(r.stdout.slice(i + 1)), body: r.stdout.slice(0, i) };
  };
  const impact = async (view: string): Promise<{ items: Record<string, unknown>[] }> => {
    const r = await curl(['-H', `Authorization: Bearer ${tok.admin}`, `${http}/v1/impact?cells=${ROGUE}&view=${view}`]);
    expect(r.status, r.body).toBe(200);
    return JSON.parse(r.body) as { items: Record<string, unknown>[] };
  };
  /** The cells the risk check holds against the number (the new owner was never on ROGUE). */
  const risk = async (): Promise<{ status: number; cells: string[] }> => {
    const r = await curl(['-X', 'POST', '-H', `Authorization: Bearer ${tok.payment}`, '-H', 'Content-Type: application/json', '-d', JSON.stringify({ device: { phoneNumber: NUMBER }, maxAge: 86_400 }), `${http}/v1/payment-risk/check`]);
    const j = JSON.parse(r.body) as { suspiciousCells?: { cellId: string }[] };
    return { status: r.status, cells: (j.suspiciousCells ?? []).map((c) => c.cellId) };
  };

  beforeAll(async () => {
    requireTool('curl', 'curl');
    t = await startTestServer({ live: { maxOutOfOrderMs: 0, quietFlushMs: 100, registryPollMs: 200 } });
    srv = t.srv;
    http = t.http;
    tok.admin = t.adminToken;
    for (const role of ['ingest', 'payment'] as const) tok[role] = (await srv.base.tokens.create(role, 'test')).token;
    const now = Date.now();
    const ts = (minAgo: number): string => new Date(now - minAgo * MIN).toISOString();
    const lines = [
      { type: 'ue.attach', cellId: ROGUE, imsi: OLD, msisdn: NUMBER, ts: ts(60), id: 'r1' },
      { type: 'payment.auth', txId: 'txVICTIM', msisdn: NUMBER, amountMinor: 100000, currency: 'KRW', method: 'ars', ts: ts(50), id: 'r2' },
      { type: 'ue.attach', cellId: HOME, imsi: NEW, msisdn: NUMBER, imei: '351111110000000', ts: ts(20), id: 'r3' },
      { type: 'payment.auth', txId: 'txRECYCLED1', msisdn: NUMBER, amountMinor: 5000, currency: 'KRW', method: 'sms-otp', ts: ts(19), id: 'r4' },
    ];
    await ingestWithCurl(http, tok.ingest as string, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    // The rogue cell flagged as detection would: a critical alert on it.
    const at = ts(70);
    await srv.base.stores.alerts.upsert({ id: 'al_recycled', ts: at, rule: 'unregistered-cell', severity: 'critical', cellId: ROGUE, summary: 'test', evidence: {}, count: 1, firstSeen: at, lastSeen: at }, at);
    await eventually(async () => (await impact('subscribers')).items.length === 1 && (await impact('payments')).items.length >= 1, 30_000, 'the index to hold the events');
  });
  afterAll(async () => {
    if (srv !== t?.srv) {
      await srv?.stop();
      rmSync(t.dataDir, { recursive: true, force: true });
    } else await t?.stop();
  });

  it("ok/the payment after the move is not the victim's; the victim keeps his own, and shows no number now", async () => {
    const pay = (await impact('payments')).items;
    expect(pay.map((p) => `${String(p.txId)}:${String(p.imsi)}:${String(p.atRisk)}`)).toEqual([`txVICTIM:${OLD}:true`]);
    const notif = (await impact('notification')).items;
    expect(notif).toHaveLength(1);
    expect(notif[0]).toMatchObject({ imsi: OLD, paymentsAtRisk: 1 });
    expect(notif[0]?.msisdn ?? null).toBeNull();
  });

  it('ok/the risk check for the number answers for its new owner, before and after a restart', async () => {
    expect(await risk()).toMatchObject({ status: 200, cells: expect.not.arrayContaining([ROGUE]) as unknown });
    const config = loadConfig({ env: {}, flags: { dataDir: t.dataDir, http: '127.0.0.1:0', https: '127.0.0.1:0', logLevel: 'silent', changePollMs: 100, live: { maxOutOfOrderMs: 0, quietFlushMs: 100, registryPollMs: 200 } } });
    await srv.stop();
    srv = await startServer(config, { logger: silentLogger(), env: t.env });
    http = srv.httpUrl;
    await eventually(async () => (await risk()).status === 200, 30_000, 'the index to load after the restart');
    expect(await risk()).toMatchObject({ status: 200, cells: expect.not.arrayContaining([ROGUE]) as unknown });
    expect((await impact('payments')).items.map((p) => p.txId)).toEqual(['txVICTIM']);
  });
});
