/**
 * femtoguard beside a real strongSwan SeGW (Debian charon 5.9.8), in two network namespaces:
 * a femtocell (strongSwan initiator, certificate from femtoguard over EST with curl) brings
 * an IKEv2 SA up to the SeGW (responder, the shipped deploy/strongswan configuration); the
 * session reaches femtoguard through the in-process bridge (VICI `ike-updown`); `femtoguard
 * device set-status SERIAL lost` (the CLI, another process) tears the live SA down over VICI
 * and the next IKE attempt is refused because femtoguard's OCSP responder says revoked. A
 * session that ends while the server (and its bridge) is down gets its down after the restart.
 *
 * The kernel here has no XFRM/ESP, so the SAs are IKE SAs without CHILD SAs (`--initiate
 * --ike`), which is where certificates and revocation are checked. Root only (namespaces);
 * CI runs as root.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../src/app/index.js';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { deviceCreateSchema } from '../../src/registry/index.js';
import type { FemtoSessionEvent } from '../../src/events/index.js';
import { enroll, makeCsr, newToken, pkcs7ToPem } from '../helpers/est-client.js';
import { cli, requireTool, ROOT, run, type RunResult } from '../helpers/run.js';
import { createSegwLab, labStrongswanConf, NET, plainStrongswanConf, type SegwLab } from '../helpers/segw-netns.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const isRoot = process.getuid?.() === 0;
const SERIAL = 'SWANFEMTO01';
const DEPLOY = join(ROOT, 'deploy', 'strongswan');

let lab: SegwLab | undefined;
let t: TestServer | undefined;
let deviceDer: Buffer;

/** Fails with both charons' logs attached: an IKE failure is unreadable without them. */
function explain(r: RunResult | string): string {
  const head = typeof r === 'string' ? r : `exit ${String(r.status)}\n${r.stdout}\n${r.stderr}`;
  return `${head}\n${lab?.logs() ?? ''}`;
}

async function eventually<T>(fn: () => Promise<T | undefined | false>, what: string, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(explain(`timed out after ${ms} ms waiting for ${what}`));
    await new Promise((r) => setTimeout(r, 100));
  }
}

const must = (r: RunResult, what: string): RunResult => {
  if (r.status !== 0) throw new Error(explain(`${what} failed: exit ${String(r.status)}\n${r.stdout}\n${r.stderr}`));
  return r;
};

const pki = async (args: string[], out: string): Promise<void> => {
  const r = must(await run('pki', args), `pki ${args[0]}`);
  writeFileSync(out, r.stdoutBytes);
};

const sessionEvents = async (): Promise<FemtoSessionEvent[]> =>
  (await t!.srv.base.stores.events.readSince(0, 10_000)).map((s) => s.event).filter((e): e is FemtoSessionEvent => e.type === 'femto.session' && e.serial === SERIAL);

/** The IKE SAs charon lists, as `swanctl --list-sas --raw` prints them. */
async function listSas(which: 'segw' | 'femto'): Promise<string> {
  const r = must(await lab!.swanctl(lab![which], ['--list-sas', '--raw']), 'swanctl --list-sas');
  return r.stdout;
}

/** One initiate from the femtocell; bounded (charon 5.9.8 waits forever when the SA already exists). */
const initiate = (conn: string): Promise<RunResult> => lab!.swanctl(lab!.femto, ['--initiate', '--ike', conn, '--timeout', '15'], 25_000);

beforeAll(async () => {
  if (!isRoot) return;
  for (const [cmd, pkg] of [
    ['ip', 'iproute2'],
    ['swanctl', 'strongswan-swanctl'],
    ['/usr/lib/ipsec/charon', 'strongswan-charon'],
    ['pki', 'strongswan-pki'],
    ['openssl', 'openssl'],
    ['curl', 'curl'],
  ] as const)
    requireTool(cmd, pkg);
  try {
    lab = await createSegwLab();
    const { segw, femto } = lab;
    // The SeGW runs the shipped strongswan.conf (only its log file moved).
    await lab.startCharon(segw, labStrongswanConf(segw, join(DEPLOY, 'strongswan.conf')));
    await lab.startCharon(femto, plainStrongswanConf(femto));

    // femtoguard in this process, its HTTP listener (OCSP) on the host end of the SeGW's uplink:
    // certificates name http://198.18.210.1:PORT/ocsp, which charon in the SeGW namespace reaches.
    t = await startTestServer({ http: `${NET.hostIp}:0`, segw: { enabled: true, vici: segw.vici } });

    // The operator's own SeGW certificate (not femtoguard's business).
    const w = t.work;
    await pki(['--gen', '--type', 'ecdsa', '--size', '256', '--outform', 'pem'], join(w, 'opca.key'));
    await pki(['--self', '--in', join(w, 'opca.key'), '--type', 'ecdsa', '--dn', 'O=Operator, CN=Operator SeGW CA', '--ca', '--lifetime', '30', '--outform', 'pem'], join(femto.dir, 'x509ca', 'operator-segw-ca.pem'));
    await pki(['--gen', '--type', 'ecdsa', '--size', '256', '--outform', 'pem'], join(segw.dir, 'private', 'segw.key'));
    await pki(['--pub', '--in', join(segw.dir, 'private', 'segw.key'), '--type', 'ecdsa', '--outform', 'pem'], join(w, 'segw.pub'));
    await pki(
      ['--issue', '--in', join(w, 'segw.pub'), '--type', 'pub', '--cacert', join(femto.dir, 'x509ca', 'operator-segw-ca.pem'), '--cakey', join(w, 'opca.key'), '--dn', 'O=Operator, CN=segw.test', '--san', NET.segwIp, '--lifetime', '30', '--outform', 'pem'],
      join(segw.dir, 'x509', 'segw.pem'),
    );
    // femtoguard's CA certificates as the SeGW's trust anchors, the shipped swanctl.conf as is.
    const pem = (der: Buffer): string => `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;
    writeFileSync(join(segw.dir, 'x509ca', 'femtoguard-root.pem'), pem(t.srv.ca.ca.root.der));
    writeFileSync(join(segw.dir, 'x509ca', 'femtoguard-issuing.pem'), pem(t.srv.ca.ca.issuing.der));
    copyFileSync(join(DEPLOY, 'swanctl.conf'), join(segw.dir, 'swanctl.conf'));

    // The femtocell: registered, active, allowed to connect from its address; enrolled over EST.
    await t.srv.base.registry.add(deviceCreateSchema.parse({ serial: SERIAL, status: 'active', ipPrefixes: ['198.18.10.0/24'] }), 'test');
    const csr = await makeCsr(w, SERIAL);
    const reply = await enroll(t, SERIAL, await newToken(t, SERIAL), csr);
    if (reply.status !== 200) throw new Error(`EST enrollment failed: ${reply.status} ${reply.body}`);
    const { pemPath } = await pkcs7ToPem(w, reply, SERIAL);
    must(await run('openssl', ['x509', '-in', pemPath, '-out', join(femto.dir, 'x509', 'device.pem')]), 'openssl x509');
    deviceDer = Buffer.from(new X509Certificate(readFileSync(join(femto.dir, 'x509', 'device.pem'))).raw);
    copyFileSync(csr.keyPath, join(femto.dir, 'private', 'device.key'));
    // A rogue unit: the same serial in its subject, a certificate from a CA femtoguard never ran.
    await pki(['--gen', '--type', 'ecdsa', '--size', '256', '--outform', 'pem'], join(w, 'rogueca.key'));
    await pki(['--self', '--in', join(w, 'rogueca.key'), '--type', 'ecdsa', '--dn', 'O=femtoguard, CN=femtoguard Device Issuing CA', '--ca', '--lifetime', '30', '--outform', 'pem'], join(w, 'rogueca.pem'));
    await pki(['--gen', '--type', 'ecdsa', '--size', '256', '--outform', 'pem'], join(femto.dir, 'private', 'rogue.key'));
    await pki(['--pub', '--in', join(femto.dir, 'private', 'rogue.key'), '--type', 'ecdsa', '--outform', 'pem'], join(w, 'rogue.pub'));
    await pki(['--issue', '--in', join(w, 'rogue.pub'), '--type', 'pub', '--cacert', join(w, 'rogueca.pem'), '--cakey', join(w, 'rogueca.key'), '--dn', `CN=${SERIAL}, serialNumber=${SERIAL}`, '--lifetime', '30', '--outform', 'pem'], join(femto.dir, 'x509', 'rogue.pem'));

    writeFileSync(
      join(femto.dir, 'swanctl.conf'),
      `connections {
  segw {
    version = 2
    remote_addrs = ${NET.segwIp}
    local { auth = pubkey
      certs = device.pem }
    remote { auth = pubkey
      id = "O=Operator, CN=segw.test"
      cacerts = operator-segw-ca.pem }
  }
  rogue {
    version = 2
    remote_addrs = ${NET.segwIp}
    local { auth = pubkey
      certs = rogue.pem }
    remote { auth = pubkey
      id = "O=Operator, CN=segw.test"
      cacerts = operator-segw-ca.pem }
  }
}
`,
    );
    must(await lab.swanctl(segw, ['--load-all', '--noprompt']), 'swanctl --load-all (SeGW)');
    must(await lab.swanctl(femto, ['--load-all', '--noprompt']), 'swanctl --load-all (femtocell)');
    // Detection must know the device before its session arrives.
    await t.srv.live.syncRegistry();
  } catch (e) {
    const logs = lab?.logs() ?? '';
    await t?.stop();
    await lab?.destroy();
    t = undefined;
    lab = undefined;
    throw new Error(`${(e as Error).message}\n${logs}`);
  }
}, 120_000);

afterAll(async () => {
  await t?.stop().catch(() => undefined);
  await lab?.destroy();
}, 60_000);

describe.skipIf(!isRoot)('strongSwan SeGW with femtoguard (network namespaces)', () => {
  it('ok/an active device brings its IKE SA up and femtoguard receives the session, with no alert', async () => {
    const r = await initiate('segw');
    expect(r.status, explain(r)).toBe(0);
    expect(r.stdout).toContain('initiate completed successfully');
    expect(await listSas('segw')).toContain(`remote-id=CN=${SERIAL}, serialNumber=${SERIAL}`);
    expect(readFileSync(lab!.segw.log, 'utf8')).toMatch(/requesting ocsp status from 'http:\/\/198\.18\.210\.1:\d+\/ocsp'[\s\S]*certificate status is good/);

    const [up] = await eventually(async () => {
      const evs = await sessionEvents();
      return evs.length > 0 && evs;
    }, 'the femto.session up event in the event store');
    expect(up).toMatchObject({ serial: SERIAL, phase: 'up', sourceIp: NET.femtoIp, endpoint: `${NET.segwIp}:4500` });
    expect(up?.certFingerprint).toBe(createHash('sha256').update(deviceDer).digest('hex'));
    expect(up?.sessionId).toMatch(/^ike-\d+-[0-9a-f]{16}$/);

    // Detection saw it (the cursor moved past it) and found nothing wrong.
    const stored = (await t!.srv.base.stores.events.readSince(0, 10_000)).find((s) => s.event.type === 'femto.session' && s.event.id === up?.id);
    expect(stored).toBeDefined();
    await eventually(async () => {
      await t!.srv.live.flush();
      return (await t!.srv.base.stores.events.getCursor('detection')) >= (stored?.seq ?? Infinity);
    }, 'detection to process the session event');
    expect(await t!.srv.base.stores.alerts.list({ serial: SERIAL, limit: 100 })).toEqual([]);
  });

  it('ok/a session that ended while the server was down gets its down at restart (state file in the data directory)', async () => {
    const old = t!;
    const [up] = (await sessionEvents()).filter((e) => e.phase === 'up');
    await old.srv.stop();
    const state = JSON.parse(readFileSync(join(old.dataDir, 'segw-bridge-state.json'), 'utf8')) as { sessions: { sessionId: string }[] };
    expect(state.sessions.map((x) => x.sessionId)).toEqual([up?.sessionId]);
    // The SA ends while nothing listens on VICI.
    must(await lab!.swanctl(lab!.segw, ['--terminate', '--ike', 'femto', '--force', '--timeout', '10'], 20_000), 'swanctl --terminate');
    await eventually(async () => !(await listSas('segw')).includes('remote-id='), 'the SeGW to list no IKE SA');

    // The same data directory and addresses (certificates name this OCSP URL).
    const config = loadConfig({
      env: {},
      flags: { dataDir: old.dataDir, http: new URL(old.http).host, https: new URL(old.https).host, logLevel: 'silent', changePollMs: 100, segw: { enabled: true, vici: lab!.segw.vici } },
    });
    const srv = await startServer(config, { logger: silentLogger(), env: old.env });
    t = {
      ...old,
      srv,
      async stop() {
        await srv.stop();
        rmSync(old.dataDir, { recursive: true, force: true });
        rmSync(old.work, { recursive: true, force: true });
      },
    };
    const down = await eventually(async () => (await sessionEvents()).find((e) => e.phase === 'down'), 'the down of the session that ended during the restart');
    expect(down).toMatchObject({ sessionId: up?.sessionId, sourceIp: NET.femtoIp, id: `segw:${up?.sessionId ?? ''}:down` });
    await new Promise((res) => setTimeout(res, 300));
    expect((await sessionEvents()).filter((e) => e.phase === 'down')).toHaveLength(1);

    // The unit comes back: a new session, no alert (the old one was closed).
    const r = await initiate('segw');
    expect(r.status, explain(r)).toBe(0);
    const again = await eventually(async () => (await sessionEvents()).filter((e) => e.phase === 'up')[1], 'the session after the restart');
    expect(again.sessionId).not.toBe(up?.sessionId);
    await t.srv.live.flush();
    expect(await t.srv.base.stores.alerts.list({ serial: SERIAL, limit: 100 })).toEqual([]);
  });

  it('fail/a rogue unit with the same serial under another CA is refused, and no session is reported for it', async () => {
    const before = (await sessionEvents()).length;
    const r = await initiate('rogue');
    expect(r.status, explain(r)).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/AUTHENTICATION_FAILED/);
    // Still exactly one SA (the genuine one) at the gateway.
    expect((await listSas('segw')).match(/remote-id=/g)).toHaveLength(1);
    await new Promise((res) => setTimeout(res, 300));
    expect((await sessionEvents()).length, explain(JSON.stringify(await sessionEvents(), null, 1))).toBe(before);
  });

  it('fail/after `device set-status lost` the live SA is torn down over VICI and audited', async () => {
    const r = await cli(['device', 'set-status', SERIAL, 'lost', '--reason', 'reported stolen'], t!.env);
    expect(r.status, r.stderr).toBe(0);
    await eventually(async () => !(await listSas('segw')).includes('remote-id='), 'the SeGW to list no IKE SA', 15_000);
    await eventually(async () => !(await listSas('femto')).includes('remote-id='), 'the femtocell to have lost its SA');
    const audit = await eventually(async () => {
      const a = await t!.srv.base.stores.audit.list({ action: 'segw.terminated', subject: SERIAL });
      return a.length > 0 && a;
    }, 'the segw.terminated audit record');
    expect(audit[0]).toMatchObject({ outcome: 'success', details: expect.objectContaining({ status: 'lost', ocspFlushed: true }) });
    // The live session is the last one up (the first ended during the restart test).
    const up = (await sessionEvents()).filter((e) => e.phase === 'up').at(-1);
    const down = await eventually(async () => (await sessionEvents()).find((e) => e.phase === 'down' && e.sessionId === up?.sessionId), 'the femto.session down event');
    expect(down.serial).toBe(SERIAL);
  });

  it('fail/the next IKE attempt is refused with AUTHENTICATION_FAILED because OCSP says revoked', async () => {
    const r = await initiate('segw');
    expect(r.status, explain(r)).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/AUTHENTICATION_FAILED/);
    // Refused on a fresh OCSP answer (the bridge flushed charon's cache), not on a cached one.
    const log = readFileSync(lab!.segw.log, 'utf8');
    const last = log.slice(log.lastIndexOf(`received end entity cert "CN=${SERIAL}`));
    expect(last, explain('SeGW log')).toMatch(/requesting ocsp status from[\s\S]*certificate was revoked on .*reason: key compromise/);
    expect(await listSas('segw')).not.toContain('remote-id=');
    // Two sessions: the first (ended during the server restart) and the one cut when lost.
    expect((await sessionEvents()).filter((e) => e.phase === 'up')).toHaveLength(2);
  });
});
