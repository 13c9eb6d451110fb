/**
 * The reviewer's lapse.sh against a real server: a cell flagged 20 days before a payment (and
 * not since) is not suspicious to the payment risk API, as detection's payment-exposure holds
 * (its flag lapsed after `flagRetentionMs`, 7 days by default); flagged again, it is high at
 * once, from the new flag, and the rule alerts on the next payment.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTool, run } from '../helpers/run.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { eventually, ingestWithCurl } from '../helpers/subscribers-sample.js';

const DAY = 86_400_000;
const CELL = '45008-200';
const PHONE = '+821033334444';
let t: TestServer;
let ingest: string;
let payment: string;
let now: number;

const ndjson = (events: Record<string, unknown>[]): string => events.map((e) => JSON.stringify(e) + '\n').join('');
const session = (ts: number, id: string): Record<string, unknown>[] => [
  { type: 'femto.session', ts, id: `${id}-up`, serial: 'KTF2', phase: 'up', sourceIp: '192.0.2.1', cellIds: [CELL] },
  { type: 'femto.session', ts: ts + 60_000, id: `${id}-down`, serial: 'KTF2', phase: 'down', sourceIp: '192.0.2.1' },
];

async function get(path: string): Promise<{ items: Record<string, unknown>[] }> {
  const r = await run('curl', ['-sS', '-H', `Authorization: Bearer ${t.adminToken}`, `${t.http}${path}`]);
  return JSON.parse(r.stdout) as { items: Record<string, unknown>[] };
}

async function risk(): Promise<Record<string, unknown>> {
  const body = JSON.stringify({ device: { phoneNumber: PHONE }, maxAge: 3600 });
  const r = await run('curl', ['-sS', '-X', 'POST', `${t.http}/v1/payment-risk/check`, '-H', `Authorization: Bearer ${payment}`, '-H', 'Content-Type: application/json', '--data-binary', '@-'], { input: body });
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

const alertsOf = async (rule: string): Promise<Record<string, unknown>[]> => (await get(`/v1/alerts?rule=${rule}&limit=100`)).items;

beforeAll(async () => {
  requireTool('curl', 'curl');
  t = await startTestServer({ live: { maxOutOfOrderMs: 0, quietFlushMs: 100, registryPollMs: 200 } });
  ingest = (await t.srv.base.tokens.create('ingest', 'test')).token;
  payment = (await t.srv.base.tokens.create('payment', 'test')).token;
  const dev = await run('curl', ['-sS', '-X', 'POST', `${t.http}/v1/devices`, '-H', `Authorization: Bearer ${t.adminToken}`, '-H', 'Content-Type: application/json', '--data-binary', '@-'], {
    input: JSON.stringify({ serial: 'KTF2', status: 'active', cellIds: [CELL], ipPrefixes: ['10.0.0.0/8'] }),
  });
  expect(dev.stdout).toContain('KTF2');
  await t.srv.live.syncRegistry();
  now = Date.now();
  const r = await ingestWithCurl(t.http, ingest, ndjson([
    ...session(now - 20 * DAY, 's1'),
    { type: 'ue.attach', ts: now - 600_000, id: 'b1', cellId: CELL, imsi: '450082222222222', msisdn: PHONE },
    { type: 'payment.auth', ts: now - 60_000, id: 'p1', txId: 'tx-lapse', msisdn: PHONE, amountMinor: 9000, currency: 'KRW', method: 'sms-otp' },
  ]));
  expect(r).toMatchObject({ accepted: 4, rejectedCount: 0 });
  await eventually(async () => (await alertsOf('source-ip-mismatch')).length > 0, 20_000, 'the source-ip-mismatch alert');
});

afterAll(async () => {
  await t?.stop();
});

describe('risk API and payment-exposure on a lapsed, then renewed, cell flag (server, curl)', () => {
  it('fail/flagged 20 days before the payment: no payment-exposure, and the risk API does not say high', async () => {
    // (That no alert came later either is checked below, once the engine is past a later payment.)
    await eventually(async () => (await risk()).lastObservationTime !== undefined, 10_000, 'the subscriber in the index');
    expect((await alertsOf('payment-exposure')).filter((a) => a.txId === 'tx-lapse')).toEqual([]);
    const a = await risk();
    expect(a).toMatchObject({ exposed: false, riskLevel: 'none', suspiciousCells: [], reasons: [] });
  });

  it('ok/flagged again now (a new episode): high at once with the new flag time, and the next payment alerts', async () => {
    const again = Date.now();
    const r = await ingestWithCurl(t.http, ingest, ndjson([
      ...session(again, 's2'),
      { type: 'payment.auth', ts: again + 120_000, id: 'p2', txId: 'tx-renewed', msisdn: PHONE, amountMinor: 9000, currency: 'KRW', method: 'sms-otp' },
    ]));
    expect(r).toMatchObject({ accepted: 3, rejectedCount: 0 });
    await eventually(async () => (await risk()).riskLevel === 'high', 20_000, 'the risk to be high');
    const a = await risk();
    expect(a.suspiciousCells).toEqual([{ cellId: CELL, lastSeenTime: new Date(now - 600_000).toISOString(), flaggedTime: new Date(again).toISOString(), rules: ['source-ip-mismatch'] }]);
    await eventually(async () => (await alertsOf('payment-exposure')).some((x) => x.txId === 'tx-renewed'), 20_000, 'the payment-exposure alert for tx-renewed');
    expect((await alertsOf('payment-exposure')).filter((x) => x.txId === 'tx-lapse')).toEqual([]);
  });
});
