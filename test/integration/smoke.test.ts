import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, requireTool, run } from '../helpers/run.js';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../../src/app/index.js';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { startTestServer, TEST_PASSPHRASE, type TestServer } from '../helpers/server.js';

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

describe('first start', () => {
  it('fail/a first start that cannot listen (a port taken) does not spend the initial admin token: the next start shows it; the data directory is made owner-only', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as AddressInfo).port;
    const dataDir = mkdtempSync(join(tmpdir(), 'fg-first-'));
    const env = { ...process.env, FEMTOGUARD_CA_PASSPHRASE: TEST_PASSPHRASE, FEMTOGUARD_DATA_DIR: dataDir };
    const config = (https: string) => loadConfig({ env: {}, flags: { dataDir, http: '127.0.0.1:0', https, logLevel: 'silent' } });
    try {
      await expect(startServer(config(`127.0.0.1:${port}`), { logger: silentLogger(), env })).rejects.toMatchObject({ code: 'EADDRINUSE' });
      // A data directory others could read (made by hand, or by an older version) is made owner-only.
      chmodSync(dataDir, 0o755);
      const srv = await startServer(config('127.0.0.1:0'), { logger: silentLogger(), env });
      expect(srv.adminToken).toMatch(/\S{20,}/);
      expect(statSync(dataDir).mode & 0o777).toBe(0o700);
      await srv.stop();
    } finally {
      taken.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
