/**
 * Live mode end to end: a real server (in this process, on loopback ports), the simulator as a
 * CLI subprocess driving it through EST, mutual-TLS check-ins, the gateway session API, the
 * ingestion API and the payment risk API; then what the server concluded, read back through
 * its own API, checked against the simulator's ground truth with the scoring code.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { score, type LiveSummary, type ScoredAlert, type Truth } from '../../src/sim/index.js';
import { freePort } from '../helpers/child-server.js';
import { cli } from '../helpers/run.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let s: TestServer;
let out: string;
let truth: Truth;
/** What `simulate --target --json` prints: the live summary (without the truth) and the score. */
let summary: Omit<LiveSummary, 'truth'> & { score: { detected: number; falsePositives: unknown[] } };
let registry: { serial: string; status: string; prefix: string }[];

const api = async <T>(path: string): Promise<T> => {
  const r = await fetch(s.http + path, { headers: { authorization: `Bearer ${s.adminToken}` } });
  expect(r.status, path).toBe(200);
  return (await r.json()) as T;
};
interface Decision {
  serial: string | null;
  decision: string;
  reason: string | null;
  sourceIp: string;
  kind: string;
}
/** Oldest first (the API lists newest first). */
const decisions = async (q: string): Promise<Decision[]> => (await api<{ items: Decision[] }>(`/v1/admission/decisions?limit=1000&${q}`)).items.reverse();
const inPrefix = (ip: string, prefix: string): boolean => ip.startsWith(prefix.replace(/0\/24$/, ''));

beforeAll(async () => {
  s = await startTestServer();
  out = join(s.work, 'live');
  // 40 units, 6 simulated hours at 900x: about 25 s of replay.
  const r = await cli(['simulate', '--target', s.http, '--est', s.https, '--token', s.adminToken, '--devices', '40', '--days', '0.25', '--speed', '900', '--seed', '7', '--out', out, '--json'], s.env);
  expect(r.status, r.stderr).toBe(0);
  summary = JSON.parse(r.stdout) as typeof summary;
  truth = JSON.parse(readFileSync(join(out, 'live-truth.json'), 'utf8')) as Truth;
  registry = (await api<{ items: { serial: string; status: string; ipPrefixes: string[] }[] }>('/v1/devices?limit=1000')).items.map((d) => ({ serial: d.serial, status: d.status, prefix: d.ipPrefixes[0] ?? '' }));
}, 150_000);
afterAll(async () => s?.stop());

describe('femtoguard simulate --target (live mode)', () => {
  it('ok/the fleet is in the registry on loopback prefixes; every unit in service enrolled over EST with its own key', async () => {
    expect(registry).toHaveLength(40);
    for (const d of registry) expect(d.prefix, d.serial).toMatch(/^127\.\d+\.\d+\.0\/24$/);
    const enrollable = registry.filter((d) => d.status !== 'provisioned').length;
    expect(summary.enrolled).toBe(enrollable);
    expect(summary.enrollFailed).toBe(0);
    const certs = await api<{ items: { deviceSerial: string; status: string }[] }>('/v1/certificates?limit=1000');
    expect(new Set(certs.items.map((c) => c.deviceSerial)).size).toBe(enrollable);
    expect(summary.eventsPosted).toBeGreaterThan(500);
    expect(summary.eventsRejected).toBe(0);
    expect(summary.clientErrors).toBe(0);
    expect(summary.admitted).toBeGreaterThan(500);
  });

  it('ok/the timeline is the file-mode generator\'s: the same seed and options give the same bytes', async () => {
    const file = join(s.work, 'file');
    const r = await cli(['simulate', '--out', file, '--devices', '40', '--days', '0.25', '--seed', '7'], s.env);
    expect(r.status, r.stderr).toBe(0);
    for (const f of ['registry.csv', 'events.ndjson', 'truth.json']) expect(readFileSync(join(file, f)).equals(readFileSync(join(out, f))), f).toBe(true);
  });

  it('ok/every injected rogue was detected and no benign serial or cell raised medium or higher (scored from GET /v1/alerts)', async () => {
    const { items } = await api<{ items: ScoredAlert[] }>('/v1/alerts?limit=10000');
    const report = score(truth, items);
    for (const g of report.rogues) expect(g.detected, g.name).toBe(true);
    expect(report.detected).toBe(6);
    expect(report.falsePositives).toEqual([]);
    expect(summary.score.detected).toBe(6);
  });

  it('ok/the denials happened, each with the reason its attack calls for, and no benign unit was refused', async () => {
    const rogue = (name: string): string[] => truth.rogues.find((r) => r.name === name)?.serials ?? [];
    const own = (serial: string): string => registry.find((d) => d.serial === serial)?.prefix ?? '';
    const [lost] = rogue('lost-credential-rogue') as [string];
    const lostDenied = await decisions(`serial=${lost}`);
    expect(lostDenied.length).toBeGreaterThan(3);
    for (const d of lostDenied) expect([d.decision, d.reason]).toEqual(['deny', 'cert-revoked']);
    expect(lostDenied.some((d) => !inPrefix(d.sourceIp, own(lost)))).toBe(true);
    const [decom] = rogue('decommissioned-return') as [string];
    for (const d of await decisions(`serial=${decom}`)) expect([d.decision, d.reason]).toEqual(['deny', 'cert-revoked']);
    const [cloned] = rogue('clone') as [string];
    const foreign = (await decisions(`serial=${cloned}`)).filter((d) => !inPrefix(d.sourceIp, own(cloned)));
    expect(foreign.length).toBeGreaterThan(0);
    for (const d of foreign) expect(d.decision).toBe('deny');
    expect(foreign[0]?.reason).toBe('source-prefix');
    const [spoofed] = rogue('spoofed-gps') as [string];
    expect((await decisions(`serial=${spoofed}&decision=deny`)).some((d) => d.reason === 'single-session' && inPrefix(d.sourceIp, own(spoofed)))).toBe(true);
    for (const user of rogue('shared-cert').slice(1)) {
      expect((await decisions(`serial=${user}&decision=deny`)).map((d) => d.reason)[0], user).toBe('cert-serial-binding');
    }
    const unreg = await decisions('serial=FGX-UNREG-0001');
    expect(unreg.length).toBeGreaterThan(0);
    for (const d of unreg) expect([d.decision, d.reason]).toEqual(['deny', 'cert-chain']);
    const compromised = new Set(truth.compromised.serials);
    const benignDenied = (await decisions('decision=deny')).filter((d) => d.serial !== null && !compromised.has(d.serial));
    expect(benignDenied).toEqual([]);
    expect(summary.deniedByReason['cert-revoked']).toBeGreaterThan(0);
  });

  it('ok/the impact analysis (GET /v1/impact) names exactly the exposed subscribers, and every fraudulent payment is held', async () => {
    const listed = new Set<string>();
    for (const r of truth.rogues) {
      if (!r.cellIds.some((c) => (truth.exposedImsis[c] ?? []).length > 0)) continue;
      const imp = await api<{ items: { imsi: string }[] }>(`/v1/impact?cells=${r.cellIds.join(',')}&from=${encodeURIComponent(r.start)}&to=${Date.parse(r.end) + 1}`);
      for (const x of imp.items) listed.add(x.imsi);
    }
    const report = score(truth, [], [...listed]);
    expect(report.impact?.missing).toEqual([]);
    expect(report.impact?.extra).toEqual([]);
    expect(listed.size).toBeGreaterThan(50);
    const holds = await api<{ items: { txId: string }[] }>('/v1/payment-holds?limit=1000');
    const held = new Set(holds.items.map((h) => h.txId));
    expect(truth.fraudTx.length).toBeGreaterThan(0);
    for (const tx of truth.fraudTx) expect(held.has(tx), tx).toBe(true);
    expect([...held].filter((t) => !truth.fraudTx.includes(t))).toEqual([]);
    // The gateway asked the risk API before each payment.
    expect(summary.paymentsHeld + summary.paymentsAllowed).toBeGreaterThanOrEqual(truth.fraudTx.length);
  });

  it('fail/a bad --target, an unreachable server, a wrong token and no token are clear errors with a non-zero exit', async () => {
    const base = ['simulate', '--devices', '20', '--days', '0.05', '--speed', '1000'];
    const bad = await cli([...base, '--target', 'not a url', '--token', s.adminToken], s.env);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--target "not a url" is not a URL/);
    const ftp = await cli([...base, '--target', 'ftp://127.0.0.1:21', '--token', s.adminToken], s.env);
    expect(ftp.status).toBe(2);
    expect(ftp.stderr).toMatch(/must be http:\/\/ or https:\/\//);
    const port = await freePort();
    const down = await cli([...base, '--target', `http://127.0.0.1:${port}`, '--token', s.adminToken], s.env);
    expect(down.status).toBe(1);
    expect(down.stderr).toMatch(new RegExp(`cannot reach the femtoguard server at http://127.0.0.1:${port}.*ECONNREFUSED`));
    const wrong = await cli([...base, '--target', s.http, '--token', 'fgt_000000000000_not-a-real-token'], s.env);
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toMatch(/refused the token \(401/);
    expect(wrong.stderr).not.toContain('not-a-real-token');
    const { FEMTOGUARD_TOKEN: _t, ...env } = s.env;
    const none = await cli([...base, '--target', s.http], env);
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/needs an admin API token/);
    // A token without the admin role cannot load a fleet.
    const viewer = await fetch(`${s.http}/v1/tokens`, { method: 'POST', headers: { authorization: `Bearer ${s.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ role: 'viewer' }) });
    const { token } = (await viewer.json()) as { token: string };
    const weak = await cli([...base, '--target', s.http, '--token', token], s.env);
    expect(weak.status).toBe(1);
    expect(weak.stderr).toMatch(/needs an admin token/);
  }, 60_000);
});
