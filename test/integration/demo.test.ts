/**
 * `femtoguard demo` run non-interactively (stdout is a pipe: plain progress lines, no redraw),
 * with a small fleet at a high speed-up; then the data directory it leaves is served again and
 * explored through the API. And `femtoguard serve` on an empty data directory says how to load
 * the demo, once, on stderr.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChildServer } from '../helpers/child-server.js';
import { cli, ROOT } from '../helpers/run.js';

const work = mkdtempSync(join(tmpdir(), 'fg-demo-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
// The demo finds (or generates) its own CA passphrase in its data directory.
const { FEMTOGUARD_CA_PASSPHRASE: _p, FEMTOGUARD_DATA_DIR: _d, FEMTOGUARD_TOKEN: _t, ...env } = process.env;
const dataDir = join(work, 'demo');
let out: string;
let status: number | null;
let stderr: string;

beforeAll(async () => {
  const r = await cli(['--data-dir', dataDir, 'demo', '--devices', '40', '--days', '0.25', '--speed', '900', '--seed', '3'], env);
  ({ status, stderr } = r);
  out = r.stdout;
}, 150_000);

describe('femtoguard demo', () => {
  it('ok/plays the incident with plain progress lines when stdout is not a terminal, and ends with a report against the truth', () => {
    expect(status, stderr).toBe(0);
    expect(out).not.toMatch(/\x1b\[/);
    expect(out).toMatch(/^femtoguard demo: server on http:\/\/127\.0\.0\.1:\d+ \(API\)/);
    expect(out).toMatch(/enrolled \d+\/\d+ over EST/);
    expect(out).toMatch(/\[replay\] \d+ events over 6\.0 simulated hours at 900x/);
    // The rogue on the lost unit's credential is turned away, and the server's alerts stream in as they fire.
    expect(out).toMatch(/DENIED FGB\d+ from 127\.\d+\.\d+\.\d+ \((checkin|gateway): cert-revoked\)/);
    expect(out).toMatch(/ALERT critical inactive-device FGB\d+/);
    expect(out).toMatch(/ALERT high payment-exposure tx\d+/);
    expect(out).toMatch(/exposed: \d+ subscribers on flagged cells/);
    expect(out).toMatch(/rogues detected: 6\/6/);
    expect(out).toMatch(/false-positive entities \(medium\+ on benign serials\/cells\): 0/);
    expect(out).toMatch(/payments: (\d+) flagged, \1 fraudulent, precision 100\.0%, recall 100\.0%/);
    expect(out).toMatch(/impact: (\d+) listed, \1 exposed, exact/);
    expect(out).toMatch(/server: \d+ alerts .*, (\d+) payments held \(\1 of \1 fraudulent\)/);
  });

  it('ok/leaves the data directory, which serves again and answers the API with the token file it names', async () => {
    expect(out).toContain(`The data directory stays for you to explore: ${dataDir}`);
    const tokens = join(dataDir, 'demo-tokens.txt');
    expect(out).toContain(tokens);
    expect(statSync(tokens).mode & 0o077).toBe(0);
    for (const f of ['registry.csv', 'events.ndjson', 'truth.json', 'live-truth.json']) expect(existsSync(join(dataDir, 'simulation', f)), f).toBe(true);
    const token = readFileSync(tokens, 'utf8').trim();
    const srv = await startChildServer(dataDir, env);
    try {
      const r = await fetch(`${srv.http}/v1/alerts?minSeverity=critical&limit=1000`, { headers: { authorization: `Bearer ${token}` } });
      expect(r.status).toBe(200);
      const { items } = (await r.json()) as { items: { rule: string }[] };
      expect(items.map((a) => a.rule)).toContain('inactive-device');
      // The registry is not empty: no demo hint this time.
      expect(srv.output()).not.toMatch(/The registry is empty/);
    } finally {
      srv.proc.kill('SIGTERM');
      await new Promise((r) => srv.proc.once('exit', r));
    }
  }, 60_000);

  it('ok/--duration stops the replay early and still reports', async () => {
    const r = await cli(['--data-dir', join(work, 'short'), 'demo', '--devices', '20', '--days', '0.25', '--speed', '600', '--duration', '2'], env);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/in \d+ s \(stopped early\)/);
    expect(r.stdout).toMatch(/rogues detected: \d\/6/);
  }, 90_000);

  it('fail/a data directory that is not empty, and bad numbers, are usage errors', async () => {
    const used = await cli(['--data-dir', dataDir, 'demo', '--devices', '20'], env);
    expect(used.status).toBe(2);
    expect(used.stderr).toMatch(/the demo needs an empty data directory; .* is not empty/);
    const bad = await cli(['--data-dir', join(work, 'bad'), 'demo', '--speed', 'fast'], env);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--speed must be a number/);
    expect(existsSync(join(work, 'bad'))).toBe(false);
  });
});

describe('femtoguard serve on an empty data directory', () => {
  it('ok/says once, on stderr, how to load the demo (stdout keeps the listener and token block)', async () => {
    const proc = spawn(process.execPath, ['--import', 'tsx', `${ROOT}test/helpers/cli-entry.ts`, '--data-dir', join(work, 'fresh'), '--log-level', 'warn', 'serve', '--http', '127.0.0.1:0', '--https', '127.0.0.1:0'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    try {
      const deadline = Date.now() + 30_000;
      while (!stderr.includes('--devices 300') && Date.now() < deadline && proc.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 300));
      expect(stdout).toMatch(/femtoguard is running/);
      expect(stdout).not.toMatch(/registry is empty/);
      expect(stderr.match(/The registry is empty/g)).toHaveLength(1);
      expect(stderr).toMatch(/npm run demo/);
      const api = /API, OCSP, CRL {2}(http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1];
      const est = /EST {13}(https:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1];
      expect(stderr).toContain(`npx femtoguard simulate --target ${api} --est ${est} --token <admin token>`);
      expect(stdout).toContain(`Console         ${api}/dashboard`);
    } finally {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    }
  });
});
