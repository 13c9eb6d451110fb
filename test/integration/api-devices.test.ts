import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, requireTool, run } from '../helpers/run.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
let viewer: string;
let ingest: string;

interface Reply {
  status: number;
  type: string;
  body: Record<string, unknown>;
}

/** curl as the API client: returns status, content type and parsed JSON body. */
async function api(method: string, path: string, opts: { token?: string; json?: unknown; raw?: string; type?: string; file?: string } = {}): Promise<Reply> {
  const args = ['-sS', '-X', method, '-o', '-', '-w', '\n%{http_code} %{content_type}', `${t.http}${path}`];
  if (opts.token) args.push('-H', `Authorization: Bearer ${opts.token}`);
  if (opts.json !== undefined) args.push('-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(opts.json));
  if (opts.raw !== undefined) args.push('-H', `Content-Type: ${opts.type ?? 'application/json'}`, '--data-binary', opts.raw);
  if (opts.file) args.push('-H', `Content-Type: ${opts.type ?? 'text/csv'}`, '--data-binary', `@${opts.file}`);
  const r = await run('curl', args);
  const i = r.stdout.lastIndexOf('\n');
  const [code, type] = r.stdout.slice(i + 1).split(' ');
  const text = r.stdout.slice(0, i);
  return { status: Number(code), type: type ?? '', body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

beforeAll(async () => {
  requireTool('curl', 'curl');
  t = await startTestServer();
  viewer = (await cli(['token', 'create', '--role', 'viewer'], t.env)).stdout.trim();
  ingest = (await cli(['token', 'create', '--role', 'ingest'], t.env)).stdout.trim();
});
afterAll(async () => t?.stop());

describe('REST /v1/devices', () => {
  it('ok/create, read, patch, change status with history', async () => {
    const c = await api('POST', '/v1/devices', { token: t.adminToken, json: { serial: 'API-1', cellIds: ['45008-9'], siteLat: 37.5, siteLon: 127.1, ipPrefixes: ['198.18.0.0/24'] } });
    expect(c.status).toBe(201);
    expect(c.body).toMatchObject({ serial: 'API-1', status: 'provisioned', siteRadiusM: 300 });
    const p = await api('PATCH', '/v1/devices/API-1', { token: t.adminToken, json: { owner: 'acct-1', siteRadiusM: 500 } });
    expect(p.body).toMatchObject({ owner: 'acct-1', siteRadiusM: 500, cellIds: ['45008-9'] });
    const s = await api('POST', '/v1/devices/API-1/status', { token: t.adminToken, json: { status: 'suspended', reason: 'investigation' } });
    expect(s.status).toBe(200);
    const g = await api('GET', '/v1/devices/API-1', { token: viewer });
    expect(g.body.status).toBe('suspended');
    expect((g.body.history as { to: string; reason: string }[]).map((h) => `${h.to}:${h.reason}`)).toEqual(['provisioned:added', 'suspended:investigation']);
  });

  it('fail/problem+json for a forbidden transition, a missing reason and a status via PATCH', async () => {
    await api('POST', '/v1/devices', { token: t.adminToken, json: { serial: 'API-2', status: 'decommissioned' } });
    const bad = await api('POST', '/v1/devices/API-2/status', { token: t.adminToken, json: { status: 'active', reason: 'x' } });
    expect(bad.status).toBe(409);
    expect(bad.type).toContain('application/problem+json');
    expect(bad.body).toMatchObject({ code: 'device.transition_not_allowed', status: 409 });
    const noReason = await api('POST', '/v1/devices/API-2/status', { token: t.adminToken, json: { status: 'provisioned' } });
    expect(noReason.status).toBe(400);
    expect(noReason.body.detail).toMatch(/reason/);
    const viaPatch = await api('PATCH', '/v1/devices/API-2', { token: t.adminToken, json: { status: 'provisioned' } });
    expect(viaPatch.body.code).toBe('device.status_via_patch');
  });

  it('fail/malformed JSON, wrong types and unknown fields are named', async () => {
    const m = await api('POST', '/v1/devices', { token: t.adminToken, raw: '{"serial": "X",' });
    expect(m.status).toBe(400);
    expect(m.body.code).toBe('request.malformed_json');
    const w = await api('POST', '/v1/devices', { token: t.adminToken, json: { serial: 'API-3', siteLat: 'north', cellIds: 'a' } });
    expect(w.status).toBe(400);
    expect(w.body.detail).toMatch(/siteLat/);
    expect(w.body.detail).toMatch(/cellIds/);
    const u = await api('POST', '/v1/devices', { token: t.adminToken, json: { serial: 'API-3', colour: 'red' } });
    expect(u.status).toBe(400);
    expect(u.body.detail).toMatch(/colour/);
    expect((await api('GET', '/v1/devices/API-3', { token: viewer })).status).toBe(404);
  });

  it('fail/roles: viewer cannot write, ingest cannot read, bad token is 401', async () => {
    expect((await api('POST', '/v1/devices', { token: viewer, json: { serial: 'API-4' } })).body.code).toBe('auth.forbidden');
    expect((await api('GET', '/v1/devices', { token: ingest })).status).toBe(403);
    const bad = await api('GET', '/v1/devices', { token: 'fgt_000000000000_' + 'A'.repeat(43) });
    expect(bad.status).toBe(401);
    expect(bad.body.code).toBe('auth.invalid_token');
    expect((await api('GET', '/v1/tokens', { token: viewer })).status).toBe(403);
  });

  it('ok/CSV import over REST reports bad lines and keeps the rest', async () => {
    const file = join(t.work, 'reg.csv');
    writeFileSync(file, 'serial,status,cell_ids\nIMP-1,active,45008-1;45008-2\nIMP-2,bogus,\nIMP-3,provisioned,\n');
    const r = await api('POST', '/v1/devices/import', { token: t.adminToken, file });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ rows: 3, inserted: 2 });
    expect(r.body.errors).toEqual([{ line: 3, message: expect.stringMatching(/status/) as unknown }]);
    const list = await api('GET', '/v1/devices?serialPrefix=IMP-&status=active', { token: viewer });
    expect((list.body.items as { serial: string }[]).map((d) => d.serial)).toEqual(['IMP-1']);
    const byCell = await api('GET', '/v1/devices?cellId=45008-2', { token: viewer });
    expect((byCell.body.items as { serial: string }[]).map((d) => d.serial)).toEqual(['IMP-1']);
  });

  it('fail/unknown routes and bad query parameters', async () => {
    expect((await api('GET', '/v1/nothing', { token: viewer })).body.code).toBe('not_found');
    const q = await api('GET', '/v1/devices?limit=-3', { token: viewer });
    expect(q.status).toBe(400);
    expect(q.body.detail).toMatch(/limit/);
  });

  it('ok/every change is in the audit log with its actor', async () => {
    const a = await api('GET', '/v1/audit?action=device.status_changed', { token: viewer });
    const items = a.body.items as { subject: string; actor: string; details: { to: string } }[];
    expect(items.some((e) => e.subject === 'API-1' && e.details.to === 'suspended' && e.actor.startsWith('token:'))).toBe(true);
  });
});
