import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, requireTool, run } from '../helpers/run.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
beforeAll(async () => {
  requireTool('curl', 'curl');
  t = await startTestServer();
});
afterAll(async () => t?.stop());

describe('server and CLI', async () => {
  it('ok/healthz is public', async () => {
    const r = await run('curl', ['-sS', `${t.http}/healthz`]);
    expect(JSON.parse(r.stdout)).toEqual({ status: 'ok', ca: 'unlocked' });
  });

  it('fail/API needs a bearer token', async () => {
    const r = await run('curl', ['-sS', '-w', '\n%{http_code}', `${t.http}/v1/devices`]);
    const [body, code] = r.stdout.split('\n');
    expect(code).toBe('401');
    expect(JSON.parse(body ?? '{}')).toMatchObject({ code: 'auth.missing_token', status: 401 });
  });

  it('ok/CLI adds a device that the API then lists', async () => {
    const add = await cli(['device', 'add', 'SMOKE1', '--cell-ids', '45008-1;45008-2', '--json'], t.env);
    expect(add.status, add.stderr).toBe(0);
    const r = await run('curl', ['-sS', '-H', `Authorization: Bearer ${t.adminToken}`, `${t.http}/v1/devices?serialPrefix=SMOKE`]);
    const body = JSON.parse(r.stdout) as { items: { serial: string; cellIds: string[]; status: string }[]; total: number };
    expect(body.total).toBe(1);
    expect(body.items[0]).toMatchObject({ serial: 'SMOKE1', cellIds: ['45008-1', '45008-2'], status: 'provisioned' });
  });
});
