/**
 * The audit log's hash chain, checked the way an operator would: `femtoguard audit-log
 * --verify` (a real CLI process on the server's data directory) and `GET /v1/audit/verify`
 * (curl), on a log the server and the CLI both wrote; then the database file is tampered with.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, requireTool, run } from '../helpers/run.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;

async function get(path: string, token: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await run('curl', ['-sS', '-o', '-', '-w', '\n%{http_code}', '-H', `Authorization: Bearer ${token}`, `${t.http}${path}`]);
  const i = r.stdout.lastIndexOf('\n');
  return { status: Number(r.stdout.slice(i + 1)), body: JSON.parse(r.stdout.slice(0, i)) as Record<string, unknown> };
}

beforeAll(async () => {
  requireTool('curl', 'curl');
  t = await startTestServer();
  // Events from both writers: the CLI (token, device) and the server (device over REST).
  await cli(['token', 'create', '--role', 'viewer', '--label', 'chain'], t.env);
  await cli(['device', 'add', 'CHAIN-1'], t.env);
  const r = await run('curl', ['-sS', '-X', 'POST', '-H', `Authorization: Bearer ${t.adminToken}`, '-H', 'Content-Type: application/json', '--data-binary', '{"serial":"CHAIN-2"}', `${t.http}/v1/devices`]);
  expect(r.status).toBe(0);
});
afterAll(async () => t?.stop());

describe('audit log hash chain', () => {
  let head = '';

  it('ok/intact: the CLI exits 0 and prints the head; the REST answer agrees', async () => {
    const c = await cli(['audit-log', '--verify'], t.env);
    expect(c.status).toBe(0);
    const m = /hash chain intact; head (\d+:[0-9a-f]{64})/.exec(c.stdout);
    expect(m, c.stdout).not.toBeNull();
    head = m?.[1] as string;
    const viewer = (await cli(['token', 'create', '--role', 'viewer'], t.env)).stdout.trim();
    const r = await get('/v1/audit/verify', viewer);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ ok: true, breakCount: 0 });
    expect(r.body.events as number).toBeGreaterThanOrEqual(4);
    const [id, hash] = head.split(':');
    const anchored = await get(`/v1/audit/verify?anchorId=${id}&anchorHash=${hash}`, viewer);
    expect(anchored.body).toMatchObject({ ok: true });
    expect((await get(`/v1/audit/verify?anchorId=${id}`, viewer)).status).toBe(400);
    expect((await get(`/v1/audit/verify?anchorId=${id}&anchorHash=XYZ`, viewer)).status).toBe(400);
    const ingest = (await cli(['token', 'create', '--role', 'ingest'], t.env)).stdout.trim();
    expect((await get('/v1/audit/verify', ingest)).status).toBe(403);
  });

  it('fail/an event changed in the database file: exit 1, the event named, on the CLI and over REST', async () => {
    const db = t.srv.base.stores.db;
    const row = db.prepare("SELECT id FROM audit_events WHERE action = 'token.created' ORDER BY id LIMIT 1").get() as { id: number };
    db.prepare("UPDATE audit_events SET details = '{\"role\":\"admin\"}' WHERE id = ?").run(row.id);
    const c = await cli(['audit-log', '--verify'], t.env);
    expect(c.status).toBe(1);
    expect(c.stdout).toContain(`event ${row.id}: content-changed`);
    const j = JSON.parse((await cli(['audit-log', '--verify', '--json'], t.env)).stdout) as { ok: boolean; breaks: { id: number; problem: string }[] };
    expect(j.ok).toBe(false);
    expect(j.breaks[0]).toMatchObject({ id: row.id, problem: 'content-changed' });
    expect((await get('/v1/audit/verify', t.adminToken)).body).toMatchObject({ ok: false, breaks: [{ id: row.id, problem: 'content-changed' }] });
  });

  it('fail/the newest events cut off: the chain alone is consistent, the anchor recorded earlier is not', async () => {
    const db = t.srv.base.stores.db;
    const [id] = head.split(':');
    db.prepare('DELETE FROM audit_events WHERE id >= ?').run(Number(id));
    // The earlier change is still there: restore a clean prefix by dropping from it too.
    const first = db.prepare("SELECT id FROM audit_events WHERE action = 'token.created' ORDER BY id LIMIT 1").get() as { id: number };
    db.prepare('DELETE FROM audit_events WHERE id >= ?').run(first.id);
    expect((await cli(['audit-log', '--verify'], t.env)).status).toBe(0);
    const c = await cli(['audit-log', '--verify', '--anchor', head], t.env);
    expect(c.status).toBe(1);
    expect(c.stdout).toContain('anchor-mismatch');
    const bad = await cli(['audit-log', '--verify', '--anchor', 'nope'], t.env);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--anchor');
  });
});
