/**
 * `femtoguard segw-bridge` (the standalone bridge for a SeGW on another host) as a real
 * subprocess: VICI on one side (the fake charon of src/segw/test-kit.ts, speaking the real
 * wire format), femtoguard's REST API on the other (a real server in this process). Sessions
 * must arrive through POST /v1/events; a device set lost must lose its SAs through VICI; the
 * termination record comes out on stdout. The real-charon path is segw-strongswan.test.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FemtoSessionEvent } from '../../src/events/index.js';
import { deviceCreateSchema } from '../../src/registry/index.js';
import { FakeVici } from '../../src/segw/test-kit.js';
import { cli, ROOT } from '../helpers/run.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
let fake: FakeVici;
let bridge: { child: ChildProcess; out: string[]; err: string[] } | undefined;
let ingestToken: string;
let viewerToken: string;
/** every bridge gets its own default state directory unless a test says otherwise */
const stateRoot = mkdtempSync(join(tmpdir(), 'fg-segw-cli-state-'));

function startBridge(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; out: string[]; err: string[] } {
  const stateHome = mkdtempSync(join(stateRoot, 'xdg-'));
  const child = spawn(process.execPath, ['--import', 'tsx', `${ROOT}test/helpers/cli-entry.ts`, 'segw-bridge', ...args], { cwd: ROOT, env: { ...process.env, FEMTOGUARD_TOKEN: '', FEMTOGUARD_DEVICES_TOKEN: '', STATE_DIRECTORY: '', XDG_STATE_HOME: stateHome, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  const err: string[] = [];
  child.stdout?.on('data', (b: Buffer) => out.push(b.toString()));
  child.stderr?.on('data', (b: Buffer) => err.push(b.toString()));
  return { child, out, err };
}

async function stopBridge(b: { child: ChildProcess } | undefined): Promise<number | null> {
  if (!b || b.child.exitCode !== null) return b?.child.exitCode ?? null;
  const done = new Promise<number | null>((r) => b.child.once('exit', (code) => r(code)));
  b.child.kill('SIGTERM');
  return done;
}

async function until<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, what: string, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\nbridge stderr:\n${bridge?.err.join('') ?? ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sessions = async (serial: string): Promise<FemtoSessionEvent[]> =>
  (await t.srv.base.stores.events.readSince(0, 10_000)).map((s) => s.event).filter((e): e is FemtoSessionEvent => e.type === 'femto.session' && e.serial === serial);

const addActive = (serial: string): Promise<unknown> => t.srv.base.registry.add(deviceCreateSchema.parse({ serial, status: 'active' }), 'test');

beforeAll(async () => {
  t = await startTestServer();
  fake = await FakeVici.start();
  ingestToken = (await t.srv.base.tokens.create('ingest', 'test', 'segw bridge')).token;
  viewerToken = (await t.srv.base.tokens.create('viewer', 'test', 'segw bridge')).token;
}, 60_000);

afterAll(async () => {
  await stopBridge(bridge);
  await fake?.close();
  await t?.stop();
  rmSync(stateRoot, { recursive: true, force: true });
});

describe('femtoguard segw-bridge (standalone, over the REST API)', () => {
  it('ok/reports SAs up at start and later ones to /v1/events, with the certificate fingerprint', async () => {
    await addActive('CLI-B');
    await addActive('CLI-A');
    fake.sas.set('1', { name: 'femto', uniqueid: '1', remoteId: 'CN=CLI-B, serialNumber=CLI-B', remoteHost: '198.18.5.2' });
    bridge = startBridge(['--vici', fake.path, '--api', t.http, '--token', ingestToken, '--devices-token', viewerToken, '--poll-ms', '200']);
    const [b] = await until(async () => {
      const e = await sessions('CLI-B');
      return e.length > 0 && e;
    }, 'the reconciled session of CLI-B');
    expect(b).toMatchObject({ phase: 'up', sourceIp: '198.18.5.2', endpoint: '198.18.0.1:4500' });

    const der = Buffer.from('device certificate of CLI-A');
    fake.certs.push({ subject: 'CN=CLI-A, serialNumber=CLI-A', flag: 'NONE', data: der });
    fake.up({ name: 'femto', uniqueid: '2', remoteId: 'CN=CLI-A, serialNumber=CLI-A', remoteHost: '198.18.5.3' });
    const [a] = await until(async () => {
      const e = await sessions('CLI-A');
      return e.length > 0 && e;
    }, 'the session of CLI-A');
    expect(a).toMatchObject({ phase: 'up', sourceIp: '198.18.5.3', certFingerprint: createHash('sha256').update(der).digest('hex') });
    // Tokens given as arguments are visible in the process list: the bridge says so.
    expect(bridge.err.join('')).toMatch(/warning: --token on the command line is visible to other users.*set FEMTOGUARD_TOKEN instead/);
    expect(bridge.err.join('')).toMatch(/warning: --devices-token on the command line .*set FEMTOGUARD_DEVICES_TOKEN instead/);
    expect(bridge.err.join('')).not.toContain(ingestToken);
  });

  it('fail/a device set lost in femtoguard loses its live SA at the gateway; the record is printed', async () => {
    const r = await cli(['device', 'set-status', 'CLI-A', 'lost', '--reason', 'stolen'], t.env);
    expect(r.status, r.stderr).toBe(0);
    await until(() => !fake.sas.has('2'), 'termination of CLI-A over VICI');
    expect(fake.sas.has('1')).toBe(true); // CLI-B untouched
    const names = fake.commands.map((c) => c.name);
    expect(names.slice(names.indexOf('flush-certs'))).toEqual(expect.arrayContaining(['flush-certs', 'list-sas', 'terminate']));
    const line = await until(() => bridge?.out.join('').split('\n').find((l) => l.includes('segw.terminated')), 'the segw.terminated line');
    expect(JSON.parse(line)).toMatchObject({ action: 'segw.terminated', subject: 'CLI-A', outcome: 'success', details: { status: 'lost', ocspFlushed: true } });
    const down = await until(async () => (await sessions('CLI-A')).find((e) => e.phase === 'down'), 'the down event of CLI-A');
    expect(down.sessionId).toBe((await sessions('CLI-A'))[0]?.sessionId);
  });

  it('ok/SIGTERM stops the bridge cleanly', async () => {
    expect(await stopBridge(bridge)).toBe(0);
    bridge = undefined;
  });

  it('fail/without a token, or with an --api that is not a URL, it refuses to start (exit 2)', async () => {
    const noToken = await cli(['segw-bridge', '--vici', fake.path, '--api', t.http], { ...t.env, FEMTOGUARD_TOKEN: '' });
    expect(noToken.status).toBe(2);
    expect(noToken.stderr).toMatch(/--token/);
    const badUrl = await cli(['segw-bridge', '--vici', fake.path, '--api', 'not a url', '--token', 'x'], t.env);
    expect(badUrl.status).toBe(2);
    expect(badUrl.stderr).toMatch(/not a URL/);
  });

  it('fail/an ingest-only token cannot read devices: the poll failure is logged, sessions still flow', async () => {
    bridge = startBridge(['--vici', fake.path, '--api', t.http, '--token', ingestToken, '--poll-ms', '200']);
    await until(() => /device poll over the API failed|first device poll failed/.test(bridge?.err.join('') ?? ''), 'the logged 403');
    expect(bridge.err.join('')).toMatch(/403/);
    await addActive('CLI-C');
    fake.up({ name: 'femto', uniqueid: '3', remoteId: 'CN=CLI-C, serialNumber=CLI-C', remoteHost: '198.18.5.4' });
    await until(async () => (await sessions('CLI-C')).length > 0, 'the session of CLI-C');
    expect(await stopBridge(bridge)).toBe(0);
    bridge = undefined;
  });

  it('fail/a session event femtoguard refuses is logged once and dropped, not resent for ever; the others arrive (tokens from the environment)', async () => {
    await addActive('CLI-D');
    await addActive('CLI-E');
    // A serial beyond the contract's 256 characters: POST /v1/events answers 200 and names the line.
    const long = 'X'.repeat(300);
    fake.sas.set('4', { name: 'femto', uniqueid: '4', remoteId: `CN=${long}`, remoteHost: '198.18.5.5' });
    fake.sas.set('5', { name: 'femto', uniqueid: '5', remoteId: 'CN=CLI-D, serialNumber=CLI-D', remoteHost: '198.18.5.6' });
    fake.sas.set('6', { name: 'femto', uniqueid: '6', remoteId: 'CN=CLI-E, serialNumber=CLI-E', remoteHost: '198.18.5.7' });
    bridge = startBridge(['--vici', fake.path, '--api', t.http, '--poll-ms', '200'], { FEMTOGUARD_TOKEN: ingestToken, FEMTOGUARD_DEVICES_TOKEN: viewerToken });
    await until(async () => (await sessions('CLI-E')).length > 0, 'the session of CLI-E');
    expect(await sessions('CLI-D')).toHaveLength(1);
    fake.up({ name: 'femto', uniqueid: '7', remoteId: 'CN=CLI-D, serialNumber=CLI-D', remoteHost: '198.18.5.8' });
    await until(async () => (await sessions('CLI-D')).length === 2, 'a later session of CLI-D');
    await new Promise((r) => setTimeout(r, 300));
    const err = bridge.err.join('');
    const refusals = err.split('\n').filter((l) => l.includes('femtoguard refused session events'));
    expect(refusals).toHaveLength(1);
    expect(JSON.parse(refusals[0] as string)).toMatchObject({ refused: 1, events: [expect.objectContaining({ serial: long, phase: 'up', reason: expect.stringContaining('serial') })] });
    expect(err).not.toMatch(/not delivered/);
    expect(err).not.toMatch(/on the command line/);
    expect(await stopBridge(bridge)).toBe(0);
    bridge = undefined;
  });

  it('ok/restarted, the bridge sends the down of a session that ended while it was not running, and only that one', async () => {
    await addActive('CLI-F');
    await addActive('CLI-G');
    const stateDir = mkdtempSync(join(stateRoot, 'systemd-'));
    fake.sas.set('8', { name: 'femto', uniqueid: '8', remoteId: 'CN=CLI-F, serialNumber=CLI-F', remoteHost: '198.18.5.9' });
    fake.sas.set('9', { name: 'femto', uniqueid: '9', remoteId: 'CN=CLI-G, serialNumber=CLI-G', remoteHost: '198.18.5.10' });
    const tokens = { FEMTOGUARD_TOKEN: ingestToken, FEMTOGUARD_DEVICES_TOKEN: viewerToken };
    // First run: the default state file, in systemd's StateDirectory=.
    bridge = startBridge(['--vici', fake.path, '--api', t.http, '--poll-ms', '200'], { ...tokens, STATE_DIRECTORY: stateDir });
    await until(async () => (await sessions('CLI-F')).length > 0 && (await sessions('CLI-G')).length > 0, 'the sessions of CLI-F and CLI-G');
    expect(await stopBridge(bridge)).toBe(0);
    bridge = undefined;
    const stateFile = join(stateDir, 'segw-bridge-state.json');
    expect(existsSync(stateFile)).toBe(true);
    expect(statSync(stateFile).mode & 0o777).toBe(0o600);

    fake.sas.delete('8'); // CLI-F's SA ended while no bridge listened
    bridge = startBridge(['--vici', fake.path, '--api', t.http, '--poll-ms', '200', '--state', stateFile], tokens);
    const down = await until(async () => (await sessions('CLI-F')).find((e) => e.phase === 'down'), 'the down of CLI-F');
    expect(down).toMatchObject({ sourceIp: '198.18.5.9', sessionId: (await sessions('CLI-F'))[0]?.sessionId });
    await new Promise((r) => setTimeout(r, 300));
    expect((await sessions('CLI-F')).filter((e) => e.phase === 'down')).toHaveLength(1);
    expect((await sessions('CLI-G')).map((e) => e.phase)).toEqual(['up']);
    expect(bridge.err.join('')).toMatch(/sessions from the previous run restored/);
    expect(await stopBridge(bridge)).toBe(0);
    bridge = undefined;
  });

  it('fail/an empty --state is refused (exit 2)', async () => {
    const r = await cli(['segw-bridge', '--vici', fake.path, '--api', t.http, '--state', ''], { ...t.env, FEMTOGUARD_TOKEN: 'x' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--state/);
  });
});
