/**
 * The live pipeline: NDJSON ingestion over HTTP (curl), durable before the answer (checked by
 * SIGKILL-ing a real server process), the same engine as `femtoguard detect`, alerts in the
 * store and REST, the live SSE stream, signed webhooks with retry, and responses
 * (quarantine → OCSP revoked; payment holds), all reversible and audited.
 */
import { createHmac } from 'node:crypto';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChildServer } from '../helpers/child-server.js';
import { cli, requireTool, run } from '../helpers/run.js';
import { startTestServer, TEST_PASSPHRASE, type TestServer } from '../helpers/server.js';
import { buildCsr, OID, parseCsr } from '../../src/pki/index.js';

const REG = ['serial,status,cell_ids,ip_prefixes,site_lat,site_lon,expected_neighbors', 'LV1,active,45008-1,198.18.1.0/24,37.5,127.0,45008-9001;45008-9002', 'LV2,active,45008-2,198.18.2.0/24,,,', 'LV3,lost,45008-3,198.18.3.0/24,,,'].join('\n');

interface Hook {
  server: Server;
  url: string;
  got: { body: string; sig: string }[];
  failFirst: number;
}

async function webhookReceiver(failFirst: number): Promise<Hook> {
  const hook: Hook = { server: createServer(), url: '', got: [], failFirst };
  hook.server.on('request', (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (hook.failFirst > 0) {
        hook.failFirst--;
        res.writeHead(503).end();
        return;
      }
      hook.got.push({ body: Buffer.concat(chunks).toString(), sig: String(req.headers['x-femtoguard-signature'] ?? '') });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => hook.server.listen(0, '127.0.0.1', r));
  const a = hook.server.address();
  hook.url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}/hook`;
  return hook;
}

const SECRET = 'webhook-secret-for-tests-0123456789';
let t: TestServer;
let hook: Hook;
let ingest: string;
let viewer: string;

async function post(ndjson: string, token = ingest): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await run('curl', ['-sS', '-o', '-', '-w', '\n%{http_code}', '-X', 'POST', '-H', `Authorization: Bearer ${token}`, '-H', 'Content-Type: application/x-ndjson', '--data-binary', '@-', `${t.http}/v1/events`], { input: ndjson });
  const i = r.stdout.lastIndexOf('\n');
  return { status: Number(r.stdout.slice(i + 1)), body: JSON.parse(r.stdout.slice(0, i)) as Record<string, unknown> };
}
async function get(path: string, token: string): Promise<Record<string, unknown>> {
  const r = await run('curl', ['-sS', '-H', `Authorization: Bearer ${token}`, `${t.http}${path}`]);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}
const iso = (ms: number): string => new Date(ms).toISOString();

beforeAll(async () => {
  requireTool('curl', 'curl');
  hook = await webhookReceiver(2);
  t = await startTestServer({
    alerts: { webhooks: [{ url: hook.url, secret: SECRET, minSeverity: 'high' }], webhookBackoffMs: 50, streamPingMs: 200 },
    live: { maxOutOfOrderMs: 0, quietFlushMs: 100, registryPollMs: 200 },
  });
  const regFile = join(t.work, 'reg.csv');
  writeFileSync(regFile, REG);
  expect((await cli(['device', 'import', regFile], t.env)).status).toBe(0);
  await t.srv.live.syncRegistry();
  ingest = (await cli(['token', 'create', '--role', 'ingest'], t.env)).stdout.trim();
  viewer = (await cli(['token', 'create', '--role', 'viewer'], t.env)).stdout.trim();
});
afterAll(async () => {
  await t?.stop();
  hook?.server.close();
});

describe('POST /v1/events', () => {
  it('fail/rejected lines come back with their numbers; valid ones around them are kept; unknown types counted', async () => {
    const now = Date.now();
    const r = await post(
      [
        JSON.stringify({ type: 'femto.report', serial: 'LV2', sourceIp: '198.18.2.7', ts: iso(now), id: 'ok-1' }),
        '{"type":"femto.report",',
        JSON.stringify({ type: 'ue.attach', cellId: '45008-2', imsi: 'abc', ts: iso(now) }),
        '',
        JSON.stringify({ type: 'radio.weird', ts: iso(now) }),
        JSON.stringify({ type: 'femto.report', serial: 'LV2', ts: 'yesterday' }),
        JSON.stringify({ type: 'femto.report', serial: 'LV2', sourceIp: '198.18.2.7', ts: now, id: 'ok-2' }),
      ].join('\n'),
    );
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ accepted: 2, duplicates: 0, rejectedCount: 3, unknownTypes: { 'radio.weird': 1 } });
    expect((r.body.rejected as { line: number; error: string }[]).map((x) => x.line)).toEqual([2, 3, 6]);
    expect((r.body.rejected as { error: string }[])[1]?.error).toMatch(/imsi/);
  });

  it('fail/an event dated more than 5 min ahead of the server clock and a registry.update are refused with their line numbers; the lines around them are stored', async () => {
    const now = Date.now();
    const r = await post(
      [
        JSON.stringify({ type: 'femto.report', serial: 'LV2', sourceIp: '198.18.2.7', ts: iso(now + 60_000), id: 'skew-ok' }),
        JSON.stringify({ type: 'ue.attach', cellId: '45008-2', imsi: '450080000000001', ts: '2099-12-31T00:00:00Z', id: 'future' }),
        JSON.stringify({ type: 'registry.update', serial: 'LV2', status: 'active', ts: iso(now), id: 'regup' }),
        JSON.stringify({ type: 'femto.report', serial: 'LV2', sourceIp: '198.18.2.7', ts: iso(now - 86_400_000), id: 'yesterday-ok' }),
      ].join('\n'),
    );
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ accepted: 2, rejectedCount: 2 });
    const rejected = r.body.rejected as { line: number; error: string }[];
    expect(rejected.map((x) => x.line)).toEqual([2, 3]);
    expect(rejected[0]?.error).toMatch(/^ts is \d+ s ahead of the server clock \(at most 300 s\)$/);
    expect(rejected[1]?.error).toMatch(/registry\.update needs a token that may change the registry \(devices:write/);
  });

  it('ok/a registry.update from a token that may change the registry (admin) is applied to the registry, audited, in line order; a transition the lifecycle refuses is that line\'s error', async () => {
    const now = Date.now();
    const r = await post(
      [
        JSON.stringify({ type: 'registry.update', serial: 'RU-NEW', cellIds: ['45008-77'], ipPrefixes: ['198.18.77.0/24'], certFingerprints: ['AB:'.repeat(31) + 'AB'], ts: iso(now), id: 'ru-1' }),
        JSON.stringify({ type: 'femto.report', serial: 'RU-NEW', sourceIp: '198.18.77.9', ts: iso(now), id: 'ru-report' }),
        JSON.stringify({ type: 'registry.update', serial: 'RU-NEW', status: 'active', siteRadiusM: 500, ts: iso(now), id: 'ru-2' }),
        JSON.stringify({ type: 'registry.update', serial: 'RU-NEW', status: 'provisioned', owner: 'must-not-stick', ts: iso(now), id: 'ru-3' }),
      ].join('\n'),
      t.adminToken,
    );
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ accepted: 1, registryUpdates: 2, rejectedCount: 1 });
    expect((r.body.rejected as { line: number; error: string }[])[0]).toMatchObject({ line: 4, error: expect.stringMatching(/^registry\.update: .*active.*provisioned/) as unknown });
    const dev = await get('/v1/devices/RU-NEW', t.adminToken);
    expect(dev).toMatchObject({ status: 'active', cellIds: ['45008-77'], ipPrefixes: ['198.18.77.0/24'], siteRadiusM: 500, certFingerprints: ['ab'.repeat(32)] });
    // the refused line changed nothing, not even its other fields
    expect(dev.owner).toBeNull();
    const adminId = ((await get('/v1/me', t.adminToken)) as { tokenId: string }).tokenId;
    const audit = (await get('/v1/audit?subject=RU-NEW&limit=20', t.adminToken)).items as { action: string; actor: string }[];
    expect(audit.map((e) => e.action).sort()).toEqual(['device.added', 'device.status_change_refused', 'device.status_changed', 'device.updated']);
    expect(new Set(audit.map((e) => e.actor))).toEqual(new Set([`token:${adminId}`]));
  });

  it('ok/idempotent on id: a repeated id, from an earlier body or the same one, is not stored again, and its line is named', async () => {
    const now = Date.now();
    const line = (id: string): string => JSON.stringify({ type: 'femto.report', serial: 'LV2', sourceIp: '198.18.2.7', ts: iso(now), id });
    const r = await post([line('dup-new'), line('ok-1'), line('dup-new')].join('\n'));
    expect(r.body).toMatchObject({ accepted: 1, duplicates: 2, duplicateLines: [2, 3] });
  });

  it('fail/only the ingest (or admin) role may post; empty body is a clear 400', async () => {
    expect((await post('{}', viewer)).status).toBe(403);
    const e = await post('\n\n');
    expect(e.status).toBe(400);
    expect(e.body.code).toBe('events.empty');
  });
});

describe('live detection', () => {
  it('ok/a lost unit brings a session up: critical alert in REST, on the SSE stream, and a signed webhook after retries', async () => {
    const sse = run('curl', ['-sS', '-N', '--max-time', '4', '-H', `Authorization: Bearer ${viewer}`, `${t.http}/v1/alerts/stream`]);
    await new Promise((r) => setTimeout(r, 400));
    const now = Date.now();
    const r = await post(JSON.stringify({ type: 'femto.session', serial: 'LV3', phase: 'up', sourceIp: '203.0.113.9', cellIds: ['45008-3'], ts: iso(now), id: 'lv3-up' }));
    expect(r.body.accepted).toBe(1);
    await t.srv.live.flush();
    const list = await get('/v1/alerts?serial=LV3', viewer);
    const rules = (list.items as { rule: string; severity: string }[]).map((a) => `${a.rule}:${a.severity}`).sort();
    expect(rules).toContain('inactive-device:critical');
    expect(rules).toContain('source-ip-mismatch:high');
    const stream = (await sse).stdout;
    expect(stream).toMatch(/event: alert\nid: al_[\w-]+\ndata: \{.*"rule":"inactive-device"/);
    // webhook: two 503s, then delivered; signature verifies over "<t>.<body>"
    const deadline = Date.now() + 5000;
    while (hook.got.length < 2 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    expect(hook.got.length).toBeGreaterThanOrEqual(2);
    for (const g of hook.got) {
      const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(g.sig);
      expect(m).not.toBeNull();
      expect(createHmac('sha256', SECRET).update(`${m?.[1]}.${g.body}`).digest('hex')).toBe(m?.[2]);
      expect(JSON.parse(g.body)).toMatchObject({ type: 'alert.raised', alert: { serial: 'LV3' } });
    }
  });

  it('fail/a token revoked while its stream is open is cut off within one keep-alive interval', async () => {
    const token = (await cli(['token', 'create', '--role', 'viewer'], t.env)).stdout.trim();
    const started = Date.now();
    const sse = run('curl', ['-sS', '-N', '--max-time', '20', '-H', `Authorization: Bearer ${token}`, `${t.http}/v1/alerts/stream`]);
    await new Promise((r) => setTimeout(r, 500));
    const me = await get('/v1/me', token);
    expect((await cli(['token', 'revoke', String(me.tokenId)], t.env)).status).toBe(0);
    const out = await sse;
    // Closed by the server (curl exits 0 on a clean end), long before curl's own 20 s limit.
    expect(out.status).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(out.stdout).toMatch(/: ping/);
  });

  it('ok/a cloned identity is quarantined: status suspended, certificates on hold, audited, reversible', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const csr = parseCsr(buildCsr({ privateKey, subject: [{ type: OID.serialNumber, value: 'LV1' }] }));
    const cert = await t.srv.ca.issuance.issue(csr, 'LV1', { actor: 'test' });
    const now = Date.now();
    await post(
      [
        JSON.stringify({ type: 'femto.session', serial: 'LV1', phase: 'up', sourceIp: '198.18.1.10', cellIds: ['45008-1'], sessionId: 's1', ts: iso(now - 2000), id: 'lv1-a' }),
        JSON.stringify({ type: 'femto.session', serial: 'LV1', phase: 'up', sourceIp: '100.64.7.7', cellIds: ['45008-1'], sessionId: 'clone', ts: iso(now - 1000), id: 'lv1-b' }),
      ].join('\n'),
    );
    await t.srv.live.flush();
    const dev = await get('/v1/devices/LV1', t.adminToken);
    expect(dev.status).toBe('suspended');
    expect(await t.srv.base.stores.certs.get(cert.serialHex)).toMatchObject({ status: 'revoked', reason: 6 });
    const audit = await get('/v1/audit?action=response.quarantine&subject=LV1', t.adminToken);
    expect((audit.items as { outcome: string }[])[0]?.outcome).toBe('success');
    const alerts = await get('/v1/alerts?rule=credential-shared', viewer);
    const a = (alerts.items as { id: string; serial: string }[]).find((x) => x.serial === 'LV1');
    expect(a).toBeTruthy();
    // The operator reviews, acknowledges, and reverses the quarantine.
    const ack = await run('curl', ['-sS', '-X', 'POST', '-H', `Authorization: Bearer ${t.adminToken}`, '-H', 'Content-Type: application/json', '--data', '{"note":"field team checked the unit"}', `${t.http}/v1/alerts/${a?.id}/acknowledge`]);
    expect(JSON.parse(ack.stdout)).toMatchObject({ status: 'acknowledged', statusNote: 'field team checked the unit' });
    const back = await cli(['device', 'set-status', 'LV1', 'active', '--reason', 'clone was a lab unit'], t.env);
    expect(back.status, back.stderr).toBe(0);
    expect(await t.srv.base.stores.certs.get(cert.serialHex)).toMatchObject({ status: 'valid' });
  });

  it('ok/a payment after exposure on a flagged cell is held (masked for viewers), released by an operator', async () => {
    const now = Date.now();
    await post(
      [
        JSON.stringify({ type: 'ue.attach', cellId: '45008-777', imsi: '450080000009999', msisdn: '+821099990000', ts: iso(now - 3000), id: 'pa-1' }),
        JSON.stringify({ type: 'payment.auth', txId: 'tx-live-1', msisdn: '+821099990000', amountMinor: 50000, currency: 'KRW', method: 'sms-otp', ts: iso(now - 1000), id: 'pa-2' }),
      ].join('\n'),
    );
    await t.srv.live.flush();
    const viewed = await get('/v1/alerts?rule=payment-exposure', viewer);
    const pa = (viewed.items as { txId: string; msisdn: string; imsi: string }[]).find((x) => x.txId === 'tx-live-1');
    expect(pa?.msisdn).toBe('+82********00');
    expect(pa?.imsi).toBe('45008********99');
    const full = await get('/v1/alerts?rule=payment-exposure', t.adminToken);
    expect((full.items as { txId: string; msisdn: string }[]).find((x) => x.txId === 'tx-live-1')?.msisdn).toBe('+821099990000');
    const holds = await get('/v1/payment-holds?status=held', t.adminToken);
    expect((holds.items as { txId: string }[]).map((h) => h.txId)).toContain('tx-live-1');
    const rel = await run('curl', ['-sS', '-X', 'POST', '-H', `Authorization: Bearer ${t.adminToken}`, '-H', 'Content-Type: application/json', '--data', '{"reason":"subscriber confirmed by phone"}', `${t.http}/v1/payment-holds/tx-live-1/release`]);
    expect(JSON.parse(rel.stdout)).toMatchObject({ status: 'released', reason: 'subscriber confirmed by phone' });
  });
});

describe('durability', () => {
  it('ok/an acknowledged event survives SIGKILL right after the answer, and is processed after restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'fg-kill-'));
    const env = { ...process.env, FEMTOGUARD_CA_PASSPHRASE: TEST_PASSPHRASE };
    const regFile = join(dataDir, 'reg.csv');
    writeFileSync(regFile, REG);
    expect((await cli(['--data-dir', dataDir, 'device', 'import', regFile], env)).status).toBe(0);
    let srv = await startChildServer(dataDir, env);
    const token = srv.adminToken as string;
    expect(token).toMatch(/^fgt_/);
    const events = Array.from({ length: 500 }, (_, i) => JSON.stringify({ type: 'femto.report', serial: 'LV2', sourceIp: '198.18.2.9', ts: new Date(Date.now() - 60_000 + i).toISOString(), id: `k-${i}` }));
    events.push(JSON.stringify({ type: 'femto.session', serial: 'NOT-REGISTERED', phase: 'up', sourceIp: '203.0.113.5', ts: new Date().toISOString(), id: 'k-rogue' }));
    const r = await run('curl', ['-sS', '-X', 'POST', '-H', `Authorization: Bearer ${token}`, '-H', 'Content-Type: application/x-ndjson', '--data-binary', '@-', `${srv.http}/v1/events`], { input: events.join('\n') });
    srv.proc.kill('SIGKILL');
    expect(JSON.parse(r.stdout)).toMatchObject({ accepted: 501 });
    await new Promise((res) => srv.proc.once('exit', res));
    srv = await startChildServer(dataDir, env);
    try {
      // Everything acknowledged is there, and detection caught up on it after the restart.
      const again = await run('curl', ['-sS', '-X', 'POST', '-H', `Authorization: Bearer ${token}`, '-H', 'Content-Type: application/x-ndjson', '--data-binary', '@-', `${srv.http}/v1/events`], { input: events.join('\n') });
      expect(JSON.parse(again.stdout)).toMatchObject({ accepted: 0, duplicates: 501 });
      let found = false;
      for (let i = 0; i < 150 && !found; i++) {
        const a = await run('curl', ['-sS', '-H', `Authorization: Bearer ${token}`, `${srv.http}/v1/alerts?rule=unregistered-device`]);
        found = (JSON.parse(a.stdout) as { items: { serial: string }[] }).items.some((x) => x.serial === 'NOT-REGISTERED');
        if (!found) await new Promise((res) => setTimeout(res, 100));
      }
      expect(found, srv.output()).toBe(true);
    } finally {
      srv.proc.kill('SIGTERM');
      await new Promise((res) => srv.proc.once('exit', res));
    }
  });
});
