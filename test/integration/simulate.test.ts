/**
 * `femtoguard simulate` → `femtoguard detect` → `femtoguard simulate score`, as an operator
 * or a benchmark would chain them, all as CLI subprocesses, offline (file mode).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, ROOT } from '../helpers/run.js';

const work = mkdtempSync(join(tmpdir(), 'fg-simulate-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const SEED = '7';
const fleet = join(work, 'fleet');
const truthPath = join(fleet, 'truth.json');
const alertsPath = join(fleet, 'alerts.ndjson');

interface Truth {
  rogues: { name: string; serials: string[]; cellIds: string[]; start: string }[];
  fraudTx: string[];
  exposedImsis: Record<string, string[]>;
}
interface Report {
  rogues: { name: string; detected: boolean; timeToDetectMs: number | null; rules: string[] }[];
  detected: number;
  falsePositives: { entity: string; rules: string[] }[];
  payments: { precision: number; recall: number; missed: string[]; wrong: string[] };
  impact?: { exact: boolean; missing: string[]; extra: string[] };
}

let truth: Truth;
let report: Report;

const scoreJson = async (extra: string[] = []): Promise<Report> => {
  const r = await cli(['simulate', 'score', '--truth', truthPath, '--alerts', alertsPath, '--json', ...extra], process.env);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Report;
};

beforeAll(async () => {
  const s = await cli(['simulate', '--out', fleet, '--seed', SEED, '--devices', '300', '--days', '2', '--json'], process.env);
  expect(s.status, s.stderr).toBe(0);
  truth = JSON.parse(readFileSync(truthPath, 'utf8')) as Truth;
  const d = await cli(['detect', '--registry', join(fleet, 'registry.csv'), '--events', join(fleet, 'events.ndjson'), '--alerts', alertsPath], process.env);
  expect(d.status, d.stderr).toBe(0);
  expect(d.stderr).toMatch(/0 rejected, 0 of unknown type/);
  report = await scoreJson();
}, 120_000);

describe('femtoguard simulate (file mode)', () => {
  it('ok/writes registry, events and truth; the same seed gives the same bytes through the CLI', async () => {
    for (const f of ['registry.csv', 'events.ndjson', 'truth.json']) expect(existsSync(join(fleet, f)), f).toBe(true);
    const again = join(work, 'again');
    const r = await cli(['simulate', '--out', again, '--seed', SEED, '--devices', '300', '--days', '2'], process.env);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/300 devices, \d+ events over 48\.0 h \(seed 7\)/);
    for (const f of ['registry.csv', 'events.ndjson', 'truth.json']) expect(readFileSync(join(again, f)).equals(readFileSync(join(fleet, f))), f).toBe(true);
  });

  it('ok/--scenarios picks the attacks; "none" gives a clean fleet', async () => {
    const dir = join(work, 'two');
    const r = await cli(['simulate', '--out', dir, '--devices', '60', '--days', '0.5', '--scenarios', 'shared-cert,clone'], process.env);
    expect(r.status, r.stderr).toBe(0);
    expect((JSON.parse(readFileSync(join(dir, 'truth.json'), 'utf8')) as Truth).rogues.map((g) => g.name)).toEqual(['clone', 'shared-cert']);
    const none = join(work, 'none');
    expect((await cli(['simulate', '--out', none, '--devices', '60', '--days', '0.5', '--scenarios', 'none'], process.env)).status).toBe(0);
    expect((JSON.parse(readFileSync(join(none, 'truth.json'), 'utf8')) as Truth).rogues).toEqual([]);
  });

  it('fail/unknown scenario, missing --out, live-mode flags and bad numbers are usage errors (exit 2) that say which', async () => {
    const { FEMTOGUARD_TOKEN: _t, ...env } = process.env;
    const bad: [string[], RegExp][] = [
      [['simulate', '--out', join(work, 'x'), '--scenarios', 'lost-credential-rogue,teleport'], /unknown scenario teleport/],
      [['simulate'], /simulate needs --out DIR, or --target URL/],
      [['simulate', '--out', join(work, 'x'), '--target', 'https://127.0.0.1:8443'], /live mode needs an admin API token/],
      [['simulate', '--out', join(work, 'x'), '--speed', '60'], /--speed is for live mode/],
      [['simulate', '--out', join(work, 'x'), '--devices', 'many'], /--devices must be an integer/],
      [['simulate', '--out', join(work, 'x'), '--days', '0'], /--days must be a number/],
    ];
    for (const [args, why] of bad) {
      const r = await cli(args, env);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(/error \[cli\.usage\]/);
      expect(r.stderr, args.join(' ')).toMatch(why);
    }
    expect(existsSync(join(work, 'x'))).toBe(false);
  });
});

describe('simulate → detect → simulate score, end to end', () => {
  it('ok/every rogue is detected at high or critical within 15 minutes of its start', () => {
    expect(report.rogues.map((g) => g.name)).toEqual(truth.rogues.map((g) => g.name));
    for (const g of report.rogues) {
      expect(g.detected, g.name).toBe(true);
      expect(g.timeToDetectMs as number, g.name).toBeLessThanOrEqual(15 * 60_000);
    }
    expect(report.detected).toBe(truth.rogues.length);
  });

  it('fail/no medium-or-higher alert on a benign serial or cell', () => {
    expect(report.falsePositives).toEqual([]);
  });

  it('ok/payment precision is 1.0: no benign payment flagged', () => {
    expect(report.payments.wrong).toEqual([]);
    expect(report.payments.precision).toBe(1);
  });

  it('ok/every fraudulent payment the engine can join to its subscriber is flagged', () => {
    // The engine learns MSISDN↔IMSI only from events carrying both, and forgets the pair with
    // the subscriber's cell history (src/detection/state.ts SubscriberIndex.expire, retention
    // = payment lookback + out-of-order = 2 h 10 min). A stranger whose exposing attach carries
    // no MSISDN, and who was not seen with it in the 2 h before, cannot be joined to the
    // payment. Such fraud is missed; everything else must be caught.
    const lines = readFileSync(join(fleet, 'events.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const t = (e: Record<string, unknown>): number => (typeof e.ts === 'number' ? e.ts : Date.parse(e.ts as string));
    const rogueCells = new Set(truth.rogues.flatMap((g) => g.cellIds));
    const unjoinable = truth.fraudTx.filter((tx) => {
      const pay = lines.find((e) => e.txId === tx) as Record<string, unknown>;
      const imsi = `45008${(pay.msisdn as string).slice(6).padStart(10, '0')}`;
      const exposure = lines.filter((e) => e.type === 'ue.attach' && e.imsi === imsi && rogueCells.has(e.cellId as string) && t(e) <= t(pay)).map(t);
      const x = Math.max(...exposure);
      return !lines.some((e) => e.imsi === imsi && e.msisdn === pay.msisdn && t(e) >= x - 2 * 3_600_000 && t(e) <= t(pay));
    });
    expect(report.payments.missed.filter((tx) => !unjoinable.includes(tx))).toEqual([]);
    expect(truth.fraudTx.length - unjoinable.length).toBeGreaterThan(10);
  });

  // The engine keeps MSISDN↔IMSI pairs beyond the cell history (subscriberLinkRetentionMs),
  // so a payment joins an attach that carried only the IMSI.
  it('ok/payment recall is 1.0', () => {
    expect(report.payments.recall).toBe(1);
  });

  it('ok/an impact list of exactly the exposed subscribers is exact; one missing and one extra are not', async () => {
    const exposed = [...new Set(Object.values(truth.exposedImsis).flat())];
    const good = join(work, 'impact-good.csv');
    writeFileSync(good, `cellId,imsi\n${exposed.map((i) => `x,${i}`).join('\n')}\n`);
    expect((await scoreJson(['--impact', good])).impact).toMatchObject({ exact: true, missing: [], extra: [] });
    const bad = join(work, 'impact-bad.csv');
    writeFileSync(bad, `imsi\n${[...exposed.slice(1), '450089999999999'].join('\n')}\n`);
    const r = (await scoreJson(['--impact', bad])).impact;
    expect(r).toMatchObject({ exact: false, missing: [exposed[0]], extra: ['450089999999999'] });
  });

  it('ok/the readable report names each rogue with its time to detect', async () => {
    const r = await cli(['simulate', 'score', '--truth', truthPath, '--alerts', alertsPath], process.env);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/rogues detected: 6\/6/);
    expect(r.stdout).toMatch(/lost-credential-rogue: detected in \d+\.\d min \(/);
    expect(r.stdout).toMatch(/false-positive entities \(medium\+ on benign serials\/cells\): 0/);
    expect(r.stdout).toMatch(/payments: \d+ flagged, \d+ fraudulent, precision 100\.0%/);
  });

  it('fail/score with an unreadable truth or an impact CSV without an imsi column is a usage error', async () => {
    expect((await cli(['simulate', 'score', '--truth', join(work, 'nope.json'), '--alerts', alertsPath], process.env)).status).toBe(2);
    const noCol = join(work, 'nocol.csv');
    writeFileSync(noCol, 'msisdn\n+821000000001\n');
    const r = await cli(['simulate', 'score', '--truth', truthPath, '--alerts', alertsPath, '--impact', noCol], process.env);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/no imsi column/);
  });

  it('ok/the scorer reads the shared kt-small ground truth (expected.json) as well as its own', async () => {
    const sample = join(ROOT, '..', 'shared', 'samples', 'kt-small');
    const alerts = join(work, 'kt-alerts.ndjson');
    const d = await cli(['detect', '--registry', join(sample, 'registry.csv'), '--events', join(sample, 'events.ndjson'), '--alerts', alerts], process.env);
    expect(d.status, d.stderr).toBe(0);
    const r = await cli(['simulate', 'score', '--truth', join(sample, 'expected.json'), '--alerts', alerts, '--json'], process.env);
    expect(r.status, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as Report;
    expect(rep.rogues.map((g) => [g.name, g.detected])).toEqual([
      ['kt-rogue', true],
      ['clone', true],
      ['decommissioned-return', true],
    ]);
    expect(rep.falsePositives).toEqual([]);
    expect(rep.payments).toMatchObject({ precision: 1, recall: 1 });
  });
});
