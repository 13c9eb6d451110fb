/**
 * What the REST API refuses, and when: a request without a valid token (or with a role that
 * may not) is answered from its headers, before its body is read; JSON routes take JSON of at
 * most a megabyte, bulk routes more; a body of the wrong type is a 415 before it is read, and
 * validation errors stay small. Also: payment-hold releases are masked like the list, the
 * `since` and `before` filters of /v1/alerts, `auth.denied` audit events (aggregated), and
 * tokens with an expiry (made by the CLI and over REST).
 * curl (and a raw socket, for a body that never comes) against a real server.
 */
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, requireTool, run } from '../helpers/run.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { eventually } from '../helpers/subscribers-sample.js';

let t: TestServer;
const tok: Record<string, string> = {};

interface Reply {
  status: number;
  type: string;
  size: number;
  body: Record<string, unknown>;
}

/** curl as the API client: status, content type, size and parsed JSON body. */
async function api(method: string, path: string, opts: { token?: string; json?: unknown; type?: string; file?: string; text?: string } = {}): Promise<Reply> {
  const args = ['-sS', '-X', method, '-H', 'Expect:', '-o', '-', '-w', '\n%{http_code}|%{content_type}|%{size_download}', `${t.http}${path}`];
  if (opts.token) args.push('-H', `Authorization: Bearer ${opts.token}`);
  if (opts.json !== undefined) args.push('-H', `Content-Type: ${opts.type ?? 'application/json'}`, '--data-binary', '@-');
  if (opts.text !== undefined) args.push('-H', `Content-Type: ${opts.type ?? 'text/plain'}`, '--data-binary', '@-');
  if (opts.file) args.push('-H', `Content-Type: ${opts.type ?? 'text/plain'}`, '--data-binary', `@${opts.file}`);
  const input = opts.json !== undefined ? JSON.stringify(opts.json) : opts.text;
  const r = await run('curl', args, input === undefined ? {} : { input });
  const i = r.stdout.lastIndexOf('\n');
  const [code, type, size] = r.stdout.slice(i + 1).split('|');
  const text = r.stdout.slice(0, i);
  return { status: Number(code), type: type ?? '', size: Number(size), body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/**
 * Sends the headers of a request announcing `announced` body bytes and only `sent` of them,
 * and returns what the server answers within `ms` (null: nothing, it is still waiting for the body).
 */
function announceBody(method: string, path: string, headers: Record<string, string>, announced: number, sent: string, ms = 3000): Promise<{ status: number; body: string } | null> {
  const u = new URL(t.http);
  return new Promise((resolve) => {
    const s = connect(Number(u.port), u.hostname);
    let got = '';
    const done = (v: { status: number; body: string } | null): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(null), ms);
    s.on('data', (c: Buffer) => {
      got += c.toString('latin1');
      const end = got.indexOf('\r\n\r\n');
      const len = /\r\ncontent-length: (\d+)/i.exec(got)?.[1];
      if (end >= 0 && len !== undefined && got.length >= end + 4 + Number(len)) done({ status: Number(got.split(' ')[1]), body: got.slice(end + 4) });
    });
    s.on('error', () => done(null));
    const head = Object.entries({ host: u.host, 'content-length': String(announced), ...headers }).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    s.write(`${method} ${path} HTTP/1.1\r\n${head}\r\n${sent}`);
  });
}

beforeAll(async () => {
  requireTool('curl', 'curl');
  t = await startTestServer({ live: { maxOutOfOrderMs: 0, quietFlushMs: 100, registryPollMs: 200 } });
  for (const role of ['operator', 'viewer', 'ingest', 'payment'] as const) tok[role] = (await t.srv.base.tokens.create(role, 'test')).token;
});
afterAll(async () => t?.stop());

describe('REST API: refused from the headers, before the body', () => {
  const big = 50 * 1024 * 1024;
  const routes: [string, string, string][] = [
    ['POST', '/v1/tokens', 'application/json'],
    ['POST', '/v1/devices/import', 'text/csv'],
    ['POST', '/v1/events', 'application/x-ndjson'],
    ['POST', '/v1/payment-risk/check', 'application/json'],
    ['POST', '/v1/segw/sessions', 'application/json'],
  ];
  for (const [method, path, type] of routes) {
    it(`fail/no token: ${method} ${path} announcing 50 MB is answered 401 without waiting for the body`, async () => {
      const a = await announceBody(method, path, { 'content-type': type }, big, '{"role":');
      expect(a, 'an answer before the body was sent').not.toBeNull();
      expect(a?.status).toBe(401);
      expect(a?.body).toMatch(/UNAUTHENTICATED|auth\.missing_token/);
    });
  }

  it('fail/a role that may not: 403 without waiting for the body', async () => {
    const a = await announceBody('POST', '/v1/tokens', { 'content-type': 'application/json', authorization: `Bearer ${tok.viewer}` }, big, '{"role":');
    expect(a?.status).toBe(403);
    expect(JSON.parse(a?.body ?? '{}')).toMatchObject({ code: 'auth.forbidden' });
  });

  it('fail/a JSON route announcing more than its limit: 413 naming the limit, without waiting for the body', async () => {
    const a = await announceBody('POST', '/v1/tokens', { 'content-type': 'application/json', authorization: `Bearer ${t.adminToken}` }, 2 * 1024 * 1024, '{"role":');
    expect(a?.status).toBe(413);
    const p = JSON.parse(a?.body ?? '{}') as Record<string, unknown>;
    expect(p).toMatchObject({ code: 'request.too_large', limitBytes: 1024 * 1024 });
    expect(p.detail).toMatch(/1048576 bytes.*POST \/v1\/tokens/);
  });
});

describe('REST API: body limits and media types', () => {
  it('fail/a 2 MB JSON body to a JSON route: 413 problem+json naming the limit', async () => {
    const r = await api('POST', '/v1/tokens', { token: t.adminToken, json: { role: 'viewer', label: 'x'.repeat(2 * 1024 * 1024) } });
    expect(r.status).toBe(413);
    expect(r.type).toContain('application/problem+json');
    expect(r.body.detail).toMatch(/1048576 bytes/);
  });

  it('ok/a bulk route still takes more than the JSON limit (registry CSV of 1.5 MB)', async () => {
    const file = join(t.work, 'big.csv');
    const rows = ['serial,status,owner'];
    for (let i = 0; i < 30_000; i++) rows.push(`BULK-${String(i).padStart(6, '0')},provisioned,${'o'.repeat(30)}`);
    writeFileSync(file, rows.join('\n') + '\n');
    const r = await api('POST', '/v1/devices/import', { token: t.adminToken, file, type: 'text/csv' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ rows: 30_000, inserted: 30_000 });
  }, 60_000);

  it('fail/text sent to a JSON route: 415 naming application/json, a small answer', async () => {
    const r = await api('POST', '/v1/alerts/al_nothing/acknowledge', { token: tok.operator, text: 'A'.repeat(2 * 1024 * 1024) });
    expect(r.status).toBe(415);
    expect(r.body).toMatchObject({ code: 'request.unsupported_media_type', accepted: ['application/json'] });
    expect(r.body.detail).toMatch(/text\/plain.*application\/json/);
    expect(r.size).toBeLessThan(1024);
    const csv = await api('POST', '/v1/devices', { token: t.adminToken, text: 'serial\nX-1\n', type: 'text/csv' });
    expect(csv.status).toBe(415);
  });

  it('fail/a JSON object of 50 000 unknown keys: 400 with a bounded detail', async () => {
    const body: Record<string, number> = {};
    for (let i = 0; i < 50_000; i++) body[`k${i}`] = 1;
    const r = await api('POST', '/v1/alerts/al_nothing/acknowledge', { token: tok.operator, json: body });
    expect(r.status).toBe(400);
    expect(r.body.detail).toMatch(/^body: /);
    expect(r.size).toBeLessThan(4096);
  });

  it('fail/the payment risk check: 415 for text, 400 "body is not valid JSON" for broken JSON (CAMARA errors)', async () => {
    const text = await api('POST', '/v1/payment-risk/check', { token: tok.payment, text: '{"device":{"phoneNumber":"+821010001173"}}' });
    expect(text.status).toBe(415);
    expect(text.body).toMatchObject({ status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
    const broken = await api('POST', '/v1/payment-risk/check', { token: tok.payment, text: '{"device":', type: 'application/json' });
    expect(broken.status).toBe(400);
    expect(broken.body).toMatchObject({ status: 400, code: 'INVALID_ARGUMENT', message: 'body is not valid JSON' });
  });
});

describe('REST API: alerts filters and payment holds', () => {
  const n = String(Date.now() % 100_000).padStart(5, '0');
  const tx = `tx-hard-${n}`;
  const msisdn = `+8210${n.padStart(8, '0')}`;
  let alertTs: string[] = [];

  beforeAll(async () => {
    // A subscriber on a cell the registry does not know, then a payment: an alert and a hold.
    const now = Date.now();
    const events = [
      { type: 'ue.attach', ts: now - 1000, cellId: `45008-9${n}`, imsi: `45008777${n.padStart(7, '0')}`, msisdn },
      { type: 'payment.auth', ts: now, txId: tx, msisdn, amountMinor: 5, currency: 'KRW' },
    ];
    const r = await run('curl', ['-sS', '-X', 'POST', '-H', `Authorization: Bearer ${tok.ingest}`, '-H', 'Content-Type: application/x-ndjson', '--data-binary', '@-', `${t.http}/v1/events`], { input: events.map((e) => JSON.stringify(e)).join('\n') });
    expect(JSON.parse(r.stdout)).toMatchObject({ accepted: 2 });
    await eventually(async () => JSON.stringify((await api('GET', '/v1/payment-holds?status=held', { token: tok.operator })).body).includes(tx), 20_000, 'the payment hold');
    alertTs = ((await api('GET', '/v1/alerts?limit=100', { token: t.adminToken })).body.items as { ts: string }[]).map((a) => a.ts);
    expect(alertTs.length).toBeGreaterThan(0);
  }, 30_000);

  it('fail/the release answer masks the MSISDN for a role without subscribers:identifiers, as the list does', async () => {
    const r = await api('POST', `/v1/payment-holds/${encodeURIComponent(tx)}/release`, { token: tok.operator, json: { reason: 'customer called' } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ txId: tx, status: 'released' });
    expect(r.body.msisdn).not.toBe(msisdn);
    expect(r.body.msisdn).toMatch(/\*/);
  });

  /** `ms` as RFC 3339 in Korea time (+09:00). */
  const kst = (ms: number): string => new Date(ms + 9 * 3600_000).toISOString().replace('Z', '+09:00');

  it('ok/since with an offset is compared as UTC', async () => {
    const earliest = Math.min(...alertTs.map((s) => Date.parse(s)));
    const latest = Math.max(...alertTs.map((s) => Date.parse(s)));
    const all = await api('GET', `/v1/alerts?limit=100&since=${encodeURIComponent(kst(earliest - 60_000))}`, { token: t.adminToken });
    expect(all.status).toBe(200);
    expect((all.body.items as unknown[]).length).toBe(alertTs.length);
    const none = await api('GET', `/v1/alerts?limit=100&since=${encodeURIComponent(kst(latest + 60_000))}`, { token: t.adminToken });
    expect(none.body.items).toEqual([]);
  });

  it('fail/since that is not a time, and a before cursor that names no alert: 400 naming the parameter', async () => {
    const g = await api('GET', '/v1/alerts?since=garbage', { token: t.adminToken });
    expect(g.status).toBe(400);
    expect(g.body).toMatchObject({ code: 'alerts.bad_since', details: { parameter: 'since' } });
    const b = await api('GET', '/v1/alerts?before=nope&limit=1', { token: t.adminToken });
    expect(b.status).toBe(400);
    expect(b.body).toMatchObject({ code: 'alerts.unknown_cursor', details: { parameter: 'before' } });
  });
});

describe('REST API: refused access is audited, aggregated', () => {
  it('fail/a flood of refusals is one auth.denied event per token, route and reason, never the token', async () => {
    for (let i = 0; i < 25; i++) expect((await api('GET', '/v1/devices?limit=1')).status).toBe(401);
    const bogus = `fgt_abcdefabcdef_${'S'.repeat(43)}`;
    expect((await api('GET', '/v1/devices?limit=1', { token: bogus })).status).toBe(401);
    expect((await api('GET', '/v1/tokens', { token: tok.viewer })).status).toBe(403);
    type Ev = { actor: string; subject: string; outcome: string; details: { reason: string; count: number; tokenId: string | null } };
    let items: Ev[] = [];
    await eventually(async () => {
      items = (await api('GET', '/v1/audit?action=auth.denied&limit=1000', { token: t.adminToken })).body.items as Ev[];
      return items.some((e) => e.subject === 'GET /v1/tokens');
    }, 5000, 'the auth.denied events');
    const missing = items.filter((e) => e.subject === 'GET /v1/devices' && e.details.reason === 'auth.missing_token');
    expect(missing).toHaveLength(1);
    expect(missing[0]).toMatchObject({ actor: 'anonymous', outcome: 'denied', details: { count: 1, tokenId: null } });
    expect(items.filter((e) => e.subject === 'GET /v1/devices' && e.details.reason === 'auth.invalid_token')).toHaveLength(1);
    const viewerId = (await api('GET', '/v1/me', { token: tok.viewer })).body.tokenId as string;
    expect(items.find((e) => e.subject === 'GET /v1/tokens')).toMatchObject({ actor: `token:${viewerId}`, details: { reason: 'auth.forbidden', tokenId: viewerId } });
    const text = JSON.stringify(items);
    expect(text).not.toContain('S'.repeat(43));
    expect(text).not.toContain(tok.viewer);
  });
});

describe('API tokens with an expiry', () => {
  /** Moves a token's expiry into the past: what the passing of its lifetime does. */
  const expire = (id: string): void => void t.srv.base.stores.db.prepare('UPDATE api_tokens SET expires_at = ? WHERE id = ?').run(new Date(Date.now() - 1000).toISOString(), id);

  it('ok/made by the CLI with --expires-in: valid now, listed with its expiry; past it, 401 auth.expired_token, audited', async () => {
    const before = Date.now();
    const made = JSON.parse((await cli(['token', 'create', '--role', 'viewer', '--label', 'contractor', '--expires-in', '12h', '--json'], t.env)).stdout) as { id: string; token: string; expiresAt: string };
    expect(Date.parse(made.expiresAt) - before).toBeGreaterThanOrEqual(12 * 3600_000 - 1000);
    expect(Date.parse(made.expiresAt) - before).toBeLessThan(12 * 3600_000 + 60_000);
    expect((await api('GET', '/v1/me', { token: made.token })).status).toBe(200);
    const listed = (await cli(['token', 'list'], t.env)).stdout;
    expect(listed.split('\n').find((l) => l.includes(made.id))).toContain(made.expiresAt);
    expire(made.id);
    const r = await api('GET', '/v1/devices?limit=1', { token: made.token });
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ code: 'auth.expired_token' });
    expect(String(r.body.detail)).toMatch(/expired/);
    await eventually(async () => {
      const items = (await api('GET', '/v1/audit?action=auth.denied&limit=1000', { token: t.adminToken })).body.items as { details: { reason: string } }[];
      return items.some((e) => e.details.reason === 'auth.expired_token');
    }, 5000, 'the auth.denied event for the expired token');
  });

  it('ok/over REST: ttlSeconds gives the expiry; an expired ingest token can no longer post events', async () => {
    const c = await api('POST', '/v1/tokens', { token: t.adminToken, json: { role: 'ingest', ttlSeconds: 3600 } });
    expect(c.status).toBe(201);
    const id = c.body.id as string;
    expect(Date.parse(c.body.expiresAt as string) - Date.parse(c.body.createdAt as string)).toBe(3600_000);
    const ev = `{"type":"ue.attach","cellId":"45008-1","imsi":"450080000000001","ts":${Date.now()},"id":"tok-exp-1"}\n`;
    expect((await api('POST', '/v1/events', { token: c.body.token as string, text: ev, type: 'application/x-ndjson' })).status).toBe(200);
    expire(id);
    const refused = await api('POST', '/v1/events', { token: c.body.token as string, text: ev.replace('tok-exp-1', 'tok-exp-2'), type: 'application/x-ndjson' });
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({ code: 'auth.expired_token' });
  });

  it('fail/a lifetime under a minute or not a duration is refused, and no token is made', async () => {
    const count = async (): Promise<number> => ((await api('GET', '/v1/tokens', { token: t.adminToken })).body.items as unknown[]).length;
    const n = await count();
    const r = await api('POST', '/v1/tokens', { token: t.adminToken, json: { role: 'viewer', ttlSeconds: 30 } });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body)).toContain('ttlSeconds');
    expect((await api('POST', '/v1/tokens', { token: t.adminToken, json: { role: 'viewer', ttlSeconds: '1h' } })).status).toBe(400);
    const bad = await cli(['token', 'create', '--role', 'viewer', '--expires-in', 'soon'], t.env);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--expires-in');
    expect(await count()).toBe(n);
  });
});
