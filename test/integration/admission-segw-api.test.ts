/**
 * `POST /v1/segw/sessions` with curl, as an external security gateway would report IKE SAs:
 * the same decision as a check-in, one session per identity across up/down, the femto.session
 * events in the log, and the in-process call the SeGW bridge uses.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admitGatewaySession } from '../../src/app/admission.js';
import { curlRequest, type HttpReply } from '../helpers/est-client.js';
import { activeDevice, checkinAs, decisions, startAdmissionServer, type AdmissionServer } from '../helpers/admission.js';
import { requireTool } from '../helpers/run.js';

let t: AdmissionServer;
let ingest: string;
let viewer: string;
let dev: Awaited<ReturnType<typeof activeDevice>>;
beforeAll(async () => {
  requireTool('curl', 'curl');
  requireTool('openssl', 'openssl');
  t = await startAdmissionServer();
  ingest = (await t.srv.base.tokens.create('ingest', 'test', 'segw')).token;
  viewer = (await t.srv.base.tokens.create('viewer', 'test')).token;
  dev = await activeDevice(t, 'GW-1', { ipPrefixes: ['198.18.0.0/24'] });
});
afterAll(async () => t?.stop());

type Answer = { id: string; decision: string; reason: string | null; reasons: { code: string; ok: boolean }[]; serial: string | null };

function report(body: unknown, token: string | null = ingest): Promise<HttpReply> {
  const args = ['-H', 'Content-Type: application/json', '--data-binary', typeof body === 'string' ? body : JSON.stringify(body)];
  if (token) args.push('-H', `Authorization: Bearer ${token}`);
  return curlRequest(t.work, [...args, `${t.http}/v1/segw/sessions`]);
}

const answer = (r: HttpReply): Answer => {
  expect(r.status, r.body).toBe(200);
  return JSON.parse(r.body) as Answer;
};

describe('gateway session reports', () => {
  it('ok/a session up with the peer certificate (PEM) is admitted and published as femto.session', async () => {
    const a = answer(await report({ phase: 'up', serial: 'GW-1', sourceIp: '198.18.0.10', certificate: readFileSync(dev.certPath, 'utf8'), sessionId: 'ike-1', endpoint: '198.18.1.1:500' }));
    expect(a).toMatchObject({ decision: 'admit', reason: null, serial: 'GW-1' });
    expect(a.reasons).toHaveLength(11);
    const ev = (await t.srv.base.stores.events.readSince(0, 10_000)).map((s) => s.event).filter((e) => e.type === 'femto.session' && e.serial === 'GW-1');
    expect(ev).toMatchObject([{ phase: 'up', sourceIp: '198.18.0.10', sessionId: 'ike-1', endpoint: '198.18.1.1:500', certFingerprint: expect.stringMatching(/^[0-9a-f]{64}$/) as unknown }]);
  });

  it('fail/a second session of the same identity from another address while the first is up', async () => {
    const a = answer(await report({ phase: 'up', serial: 'GW-1', sourceIp: '198.18.0.11', certificate: readFileSync(dev.certPath, 'utf8'), sessionId: 'ike-2' }));
    expect(a).toMatchObject({ decision: 'deny', reason: 'single-session' });
    // nor may a check-in take the identity while the gateway holds it
    const r = await checkinAs(t, t.pool[0] as string, dev, {}, '127.0.0.5');
    expect(JSON.parse(r.body)).toMatchObject({ decision: 'deny', reason: 'source-prefix' });
    const [d] = await decisions(t, 'GW-1');
    expect(d?.reasons.find((x) => x.code === 'single-session')).toMatchObject({ ok: false, detail: expect.stringMatching(/from 198\.18\.0\.10/) as unknown });
  });

  it('ok/after the first goes down (named by its session id) the identity is free again; fingerprint alone suffices', async () => {
    const fp = (await t.srv.base.stores.certs.list({ deviceSerial: 'GW-1' }))[0]?.fingerprint as string;
    expect(answer(await report({ phase: 'down', serial: 'GW-1', sourceIp: '198.18.0.10', certFingerprint: fp, sessionId: 'wrong-id' })).decision).toBe('admit');
    expect(answer(await report({ phase: 'up', certFingerprint: fp, sourceIp: '198.18.0.11', sessionId: 'ike-3' })).reason).toBe('single-session');
    answer(await report({ phase: 'down', serial: 'GW-1', sourceIp: '198.18.0.10', certFingerprint: fp, sessionId: 'ike-1' }));
    expect(answer(await report({ phase: 'up', certFingerprint: fp, sourceIp: '198.18.0.11', sessionId: 'ike-3' }))).toMatchObject({ decision: 'admit', serial: 'GW-1' });
  });

  it('fail/an unknown serial with no certificate, and a fingerprint femtoguard never issued', async () => {
    expect(answer(await report({ phase: 'up', serial: 'GW-NOBODY', sourceIp: '198.18.0.12' }))).toMatchObject({ decision: 'deny', reason: 'cert-chain' });
    expect(answer(await report({ phase: 'up', certFingerprint: 'ab'.repeat(32), sourceIp: '198.18.0.12' }))).toMatchObject({ decision: 'deny', reason: 'cert-chain', serial: null });
  });

  it('fail/no token is 401, a viewer token 403, a malformed report 400 naming the field', async () => {
    expect((await report({ phase: 'up', serial: 'GW-1', sourceIp: '198.18.0.10' }, null)).status).toBe(401);
    expect((await report({ phase: 'up', serial: 'GW-1', sourceIp: '198.18.0.10' }, viewer)).status).toBe(403);
    const bad = await report({ phase: 'sideways', serial: 'GW-1', sourceIp: 'not-an-ip' });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatch(/phase/);
    expect(bad.body).toMatch(/sourceIp/);
    expect((await report('{"phase":')).status).toBe(400);
    expect((await report({ phase: 'up', sourceIp: '198.18.0.10' })).body).toMatch(/name the device/);
  });

  it('ok/the in-process call the SeGW bridge uses runs the same decision and records it', async () => {
    const d = await admitGatewaySession(t.srv.base, { phase: 'up', serial: 'GW-1', sourceIp: '198.18.0.99', certFingerprint: (await t.srv.base.stores.certs.list({ deviceSerial: 'GW-1' }))[0]?.fingerprint, actor: 'segw:test' });
    expect(d).toMatchObject({ decision: 'deny', reason: 'single-session' });
    expect(await t.srv.base.stores.audit.list({ action: 'admission.deny', subject: 'GW-1', limit: 1 })).toMatchObject([{ actor: 'segw:test' }]);
  });
});
