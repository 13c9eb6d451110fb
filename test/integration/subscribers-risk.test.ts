/**
 * The payment risk API as the payment gateway calls it (curl), against a real server that
 * ingested the kt-small sample replayed up to a minute after the rogue's last fraudulent
 * payment: the victim is `high`, a subscriber who never met a rogue is `none`, the live
 * payment-exposure alert agrees, and every bad request gets its CAMARA error.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, requireTool, run } from '../helpers/run.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { benignSubscriber, eventually, expected, ingestWithCurl, paymentMsisdn, paymentTime, rebased, SAMPLE } from '../helpers/subscribers-sample.js';

const FRAUD = 'tx488214040744';
const VICTIM_CELL = '45008-300435654';
let t: TestServer;
const tok: Record<string, string> = {};
let victim: string;
let benign: { imsi: string; msisdn: string };

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
  raw: string;
}

/** One risk check with curl, as the payment gateway sends it. */
async function check(body: string, opts: { token?: string | null; correlator?: string; type?: string } = {}): Promise<Answer> {
  const args = ['-sS', '-D', '-', '-X', 'POST', `${t.http}/v1/payment-risk/check`, '-H', `Content-Type: ${opts.type ?? 'application/json'}`, '--data-binary', '@-'];
  const token = opts.token === undefined ? tok.payment : opts.token;
  if (token) args.push('-H', `Authorization: Bearer ${token}`);
  if (opts.correlator !== undefined) args.push('-H', `x-correlator: ${opts.correlator}`);
  const r = await run('curl', args, { input: body });
  const [head = '', raw = ''] = r.stdout.split('\r\n\r\n');
  const lines = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: Number(lines[0]?.split(' ')[1]), headers, body: raw ? (JSON.parse(raw) as Record<string, unknown>) : {}, raw };
}
const device = (phoneNumber: string, maxAge?: number): string => JSON.stringify({ device: { phoneNumber }, ...(maxAge ? { maxAge } : {}) });

beforeAll(async () => {
  requireTool('curl', 'curl');
  t = await startTestServer({ live: { maxOutOfOrderMs: 0, quietFlushMs: 100, registryPollMs: 200 } });
  expect((await cli(['device', 'import', join(SAMPLE, 'registry.csv')], t.env)).status).not.toBe(1);
  await t.srv.live.syncRegistry();
  for (const role of ['payment', 'operator', 'viewer', 'ingest'] as const) tok[role] = (await t.srv.base.tokens.create(role, 'test')).token;
  tok.admin = t.adminToken;
  // The sample as if the rogue's last fraudulent payment happened a minute ago.
  const now = Date.now();
  const delta = now - 60_000 - paymentTime(FRAUD);
  const r = await ingestWithCurl(t.http, tok.ingest as string, rebased(delta, now));
  expect(r.accepted).toBeGreaterThan(15_000);
  victim = paymentMsisdn(FRAUD);
  benign = benignSubscriber();
  await eventually(async () => (await check(device(victim))).body.riskLevel === 'high', 30_000, 'the victim to be high');
});
afterAll(async () => {
  await t?.stop();
});

describe('POST /v1/payment-risk/check (curl as the payment gateway)', () => {
  it('ok/the victim right after exposure: exposed, high, the rogue cell with the last time on it, x-correlator echoed', async () => {
    const a = await check(device(victim, 3600), { correlator: 'pg-7f3a:tx/488214040744' });
    expect(a.status).toBe(200);
    expect(a.headers['x-correlator']).toBe('pg-7f3a:tx/488214040744');
    expect(a.headers['content-type']).toMatch(/^application\/json/);
    expect(a.body).toMatchObject({ device: { phoneNumber: victim }, exposed: true, riskLevel: 'high', maxAge: 3600 });
    const cells = a.body.suspiciousCells as { cellId: string; lastSeenTime: string; flaggedTime: string; rules: string[] }[];
    expect(cells.map((c) => c.cellId)).toContain(VICTIM_CELL);
    const c = cells.find((x) => x.cellId === VICTIM_CELL);
    expect(Date.now() - Date.parse(c?.lastSeenTime ?? '')).toBeLessThan(2 * 3_600_000);
    expect(Date.parse(c?.flaggedTime ?? '')).toBeLessThanOrEqual(Date.now());
    expect(c?.rules.length).toBeGreaterThan(0);
    expect((a.body.reasons as { code: string }[]).map((r) => r.code)).toContain('ON_FLAGGED_CELL_RECENTLY');
    expect(Date.parse(a.body.lastObservationTime as string)).toBeGreaterThan(Date.now() - 3 * 3_600_000);
  });

  it('ok/a subscriber who never met a rogue cell: none, nothing suspicious', async () => {
    const a = await check(device(benign.msisdn), { correlator: 'c-2' });
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({ exposed: false, riskLevel: 'none', suspiciousCells: [], reasons: [] });
    expect(a.headers['x-correlator']).toBe('c-2');
  });

  it('ok/the answer never carries the IMSI (identifiers stay masked outside the exports)', async () => {
    const a = await check(device(victim));
    expect(a.raw).not.toMatch(/45008\d{10}/);
  });

  it('ok/the operator role may check too; the IMSI through networkAccessIdentifier', async () => {
    expect((await check(device(victim), { token: tok.operator })).body.riskLevel).toBe('high');
    const a = await check(JSON.stringify({ device: { networkAccessIdentifier: `imsi-${benign.imsi}@ims.mnc008.mcc450.3gppnetwork.org` } }));
    expect(a.body).toMatchObject({ riskLevel: 'none', device: { networkAccessIdentifier: `imsi-${benign.imsi}@ims.mnc008.mcc450.3gppnetwork.org` } });
  });

  it('ok/the payment gateway reads the hold of its own payment (masked), not the list; a payment never held is 404', async () => {
    await eventually(async () => (await run('curl', ['-sS', '-H', `Authorization: Bearer ${tok.payment}`, `${t.http}/v1/payment-holds/${FRAUD}`])).stdout.includes('"status":"held"'), 20_000, 'the hold');
    const r = await run('curl', ['-sS', '-w', '\n%{http_code}', '-H', `Authorization: Bearer ${tok.payment}`, `${t.http}/v1/payment-holds/${FRAUD}`]);
    const [body = '', code] = r.stdout.split('\n');
    expect(code).toBe('200');
    const hold = JSON.parse(body) as { txId: string; status: string; msisdn: string };
    expect(hold).toMatchObject({ txId: FRAUD, status: 'held' });
    expect(hold.msisdn).not.toBe(victim);
    const none = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-H', `Authorization: Bearer ${tok.payment}`, `${t.http}/v1/payment-holds/tx-never-held`]);
    expect(none.stdout).toBe('404');
    const list = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-H', `Authorization: Bearer ${tok.payment}`, `${t.http}/v1/payment-holds`]);
    expect(list.stdout).toBe('403');
    const viewer = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-H', `Authorization: Bearer ${tok.viewer}`, `${t.http}/v1/payment-holds/${FRAUD}`]);
    expect(viewer.stdout).toBe('403');
  });

  it('ok/the detection rule agrees: a payment-exposure alert and a hold for the same payment', async () => {
    await eventually(async () => {
      const r = await run('curl', ['-sS', '-H', `Authorization: Bearer ${tok.admin}`, `${t.http}/v1/alerts?rule=payment-exposure&limit=100`]);
      const items = (JSON.parse(r.stdout) as { items: { txId: string }[] }).items;
      return items.some((i) => i.txId === FRAUD);
    }, 20_000, 'the payment-exposure alert');
    const holds = await run('curl', ['-sS', '-H', `Authorization: Bearer ${tok.operator}`, `${t.http}/v1/payment-holds`]);
    expect(holds.stdout).toContain(FRAUD);
    expect(expected.fraudTx).toContain(FRAUD);
  });

  const errors: [string, () => Promise<Answer>, number, string][] = [
    ['no token: 401 UNAUTHENTICATED', () => check(device('+821010001173'), { token: null, correlator: 'e-1' }), 401, 'UNAUTHENTICATED'],
    ['a bad token: 401 UNAUTHENTICATED', () => check(device('+821010001173'), { token: 'fgt_nothing_nothingnothingnothingnothingnothing', correlator: 'e-1' }), 401, 'UNAUTHENTICATED'],
    ['a viewer token: 403 PERMISSION_DENIED', () => check(device('+821010001173'), { token: tok.viewer, correlator: 'e-1' }), 403, 'PERMISSION_DENIED'],
    ['an ingest token: 403 PERMISSION_DENIED', () => check(device('+821010001173'), { token: tok.ingest, correlator: 'e-1' }), 403, 'PERMISSION_DENIED'],
    ['no device: 422 MISSING_IDENTIFIER', () => check('{"maxAge":60}', { correlator: 'e-1' }), 422, 'MISSING_IDENTIFIER'],
    ['an empty device: 400 INVALID_ARGUMENT', () => check('{"device":{}}', { correlator: 'e-1' }), 400, 'INVALID_ARGUMENT'],
    ['a phone number not in E.164: 400 INVALID_ARGUMENT', () => check(device('01010001173'), { correlator: 'e-1' }), 400, 'INVALID_ARGUMENT'],
    ['only an IP address: 422 UNSUPPORTED_IDENTIFIER', () => check('{"device":{"ipv4Address":{"publicAddress":"84.125.93.10","publicPort":59765}}}', { correlator: 'e-1' }), 422, 'UNSUPPORTED_IDENTIFIER'],
    ['an unknown number: 404 IDENTIFIER_NOT_FOUND', () => check(device('+821099999999'), { correlator: 'e-1' }), 404, 'IDENTIFIER_NOT_FOUND'],
    ['maxAge 0: 400 OUT_OF_RANGE', () => check('{"device":{"phoneNumber":"+821010001173"},"maxAge":0}', { correlator: 'e-1' }), 400, 'OUT_OF_RANGE'],
    ['malformed JSON: 400 INVALID_ARGUMENT', () => check('{"device":', { correlator: 'e-1' }), 400, 'INVALID_ARGUMENT'],
    ['a JSON array: 400 INVALID_ARGUMENT', () => check('[]', { correlator: 'e-1' }), 400, 'INVALID_ARGUMENT'],
    ['XML: 415 UNSUPPORTED_MEDIA_TYPE', () => check('<device/>', { correlator: 'e-1', type: 'application/xml' }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
  ];
  for (const [what, send, status, code] of errors) {
    it(`fail/${what}, as {status, code, message} with the x-correlator echoed`, async () => {
      const a = await send();
      expect(a.status).toBe(status);
      expect(a.headers['content-type']).toMatch(/^application\/json/);
      expect(Object.keys(a.body).sort()).toEqual(['code', 'message', 'status']);
      expect(a.body).toMatchObject({ status, code });
      expect(String(a.body.message).length).toBeGreaterThan(5);
      expect(a.headers['x-correlator']).toBe('e-1');
    });
  }

  it('fail/an x-correlator outside the CAMARA pattern: 400 INVALID_ARGUMENT, not echoed', async () => {
    const a = await check(device(victim), { correlator: 'has spaces and "quotes"' });
    expect(a.status).toBe(400);
    expect(a.body).toMatchObject({ status: 400, code: 'INVALID_ARGUMENT' });
    expect(a.headers['x-correlator']).toBeUndefined();
  });

  it('fail/the rest of the API keeps problem+json (the CAMARA errors are scoped to the risk check)', async () => {
    const r = await run('curl', ['-sS', '-D', '-', `${t.http}/v1/impact?cells=x`]);
    expect(r.stdout).toMatch(/content-type: application\/problem\+json/i);
  });
});
