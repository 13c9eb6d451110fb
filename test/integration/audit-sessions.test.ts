/**
 * `femtoguard audit --sessions`: the session/report history (FORMATS.md §1 NDJSON) judged
 * against the inventory: idle units, addresses outside the registered prefixes, GPS drift,
 * retired units still connecting, unregistered serials, one serial up twice at once, and a
 * certificate presented by two serials. Malformed lines are reported by line number and
 * skipped; out-of-order arrival gives the sorted result.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditReport } from '../../src/audit/index.js';
import { AuditFleet, findingOf, findingsOf, runAuditCli } from '../helpers/audit-fleet.js';
import { requireTool } from '../helpers/run.js';
import { expected, SAMPLE } from '../helpers/subscribers-sample.js';

let f: AuditFleet;
let inv: string;
const fp: Record<string, string> = {};
let events: Record<string, unknown>[];
let report: AuditReport;

const session = (ts: string | number, serial: string, phase: 'up' | 'down', sourceIp: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  type: 'femto.session', ts, serial, phase, sourceIp, ...extra,
});
const reportEv = (ts: string, serial: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ type: 'femto.report', ts, serial, ...extra });

beforeAll(async () => {
  requireTool('openssl', 'openssl');
  f = new AuditFleet(mkdtempSync(join(tmpdir(), 'fg-audit-sessions-')));
  const { issuing } = await f.ca();
  const serials = ['OK1', 'IDLE1', 'NEVER1', 'ROAM1', 'DRIFT1', 'DECOM1', 'SUSP1', 'TWIN1', 'DUAL1', 'RECON1', 'SHARE1', 'SHARE2'];
  for (const s of serials) fp[s] = (await f.device(s, issuing)).fingerprint;
  fp.TWIN1b = (await f.device('TWIN1', issuing, { from: '2025-07-21T00:00:00Z', until: '2025-08-20T00:00:00Z' })).fingerprint;
  const prefix = (k: number): string[] => [`175.198.${k}.0/24`];
  inv = f.inventory(
    serials.map((serial, k) => ({
      serial,
      status: serial === 'DECOM1' ? 'decommissioned' : serial === 'SUSP1' ? 'suspended' : 'active',
      prefixes: prefix(k),
      site: [37.5665, 126.978] as [number, number],
      radiusM: 300,
    })),
  );
  const ip = (serial: string): string => `175.198.${serials.indexOf(serial)}.10`;
  const up = (ts: string, s: string, extra: Record<string, unknown> = {}): Record<string, unknown> => session(ts, s, 'up', ip(s), { certFingerprint: fp[s], ...extra });
  events = [
    reportEv('2025-03-01T00:00:00Z', 'OK1'), // the history starts here: 157 days before the audit
    up('2025-04-01T10:00:00+09:00', 'IDLE1'),
    up('2025-08-01T00:00:00Z', 'OK1', { sessionId: 'ok-1' }),
    reportEv('2025-08-01T00:05:00Z', 'OK1', { sourceIp: ip('OK1'), gps: { lat: 37.5670, lon: 126.9782, accuracyM: 20 } }),
    session('2025-08-01T01:00:00Z', 'OK1', 'down', ip('OK1'), { sessionId: 'ok-1' }),
    session('2025-08-02T00:00:00Z', 'ROAM1', 'up', '203.0.113.9', { certFingerprint: fp.ROAM1 }),
    session('2025-08-02T01:00:00Z', 'ROAM1', 'up', '203.0.113.9', { certFingerprint: fp.ROAM1 }),
    reportEv('2025-08-02T00:00:00Z', 'DRIFT1', { gps: { lat: 37.5680, lon: 126.9780, accuracyM: 100 } }), // 167 m: inside
    reportEv('2025-08-02T01:00:00Z', 'DRIFT1', { gps: { lat: 37.5697, lon: 126.9780, accuracyM: 100 } }), // 356 m but ±100: inside
    reportEv('2025-08-02T02:00:00Z', 'DRIFT1', { gps: { lat: 35.1796, lon: 129.0756 } }), // Busan
    up('2025-08-03T00:00:00Z', 'DECOM1'),
    reportEv('2025-08-03T00:00:00Z', 'SUSP1'),
    session(Date.parse('2025-08-03T02:00:00Z'), 'GHOST9', 'up', '198.51.100.7', { certFingerprint: 'AB'.repeat(32).replace(/(..)(?!$)/g, '$1:') }),
    // TWIN1: two certificates up at once from two addresses.
    up('2025-08-03T03:00:00Z', 'TWIN1', { sessionId: 't-a' }),
    session('2025-08-03T03:30:00Z', 'TWIN1', 'up', '203.0.113.50', { certFingerprint: fp.TWIN1b, sessionId: 't-b' }),
    // DUAL1: one certificate up from two addresses at once, no down in between.
    up('2025-08-03T04:00:00Z', 'DUAL1'),
    session('2025-08-03T04:10:00Z', 'DUAL1', 'up', '198.51.100.80', { certFingerprint: fp.DUAL1 }),
    // RECON1: sequential sessions, and an up whose down was lost, 30 hours before the next: no overlap.
    up('2025-08-01T00:00:00Z', 'RECON1'),
    session('2025-08-01T02:00:00Z', 'RECON1', 'down', ip('RECON1'), { certFingerprint: fp.RECON1 }),
    session('2025-08-01T03:00:00Z', 'RECON1', 'up', '175.198.9.11', { certFingerprint: fp.RECON1 }),
    session('2025-08-02T09:00:00Z', 'RECON1', 'up', '175.198.9.12', { certFingerprint: fp.RECON1 }),
    // SHARE2 presents SHARE1's certificate.
    up('2025-08-03T05:00:00Z', 'SHARE1'),
    session('2025-08-03T05:00:00Z', 'SHARE2', 'up', ip('SHARE2'), { certFingerprint: fp.SHARE1 }),
  ].map((e, k) => ({ id: `ev-${k}`, ...e }));
  const lines: (Record<string, unknown> | string)[] = [
    ...events,
    '{"type":"femto.session","ts":"2025-08-03T00:00:00Z", oops}',
    JSON.stringify({ type: 'femto.session', ts: '2025-08-03T00:00:00Z', phase: 'up', sourceIp: '1.2.3.4' }),
    JSON.stringify({ type: 'femto.report', ts: '2025-08-03 25:00:00Z', serial: 'OK1' }),
    JSON.stringify({ type: 'femto.session', ts: '2025-08-03T00:00:00', serial: 'OK1', phase: 'up', sourceIp: '1.2.3.4' }),
    JSON.stringify({ type: 'femto.session', ts: '2025-08-03T00:00:00Z', serial: 'OK1', phase: 'sideways', sourceIp: '1.2.3.4' }),
    '',
    JSON.stringify({ type: 'femto.wat', ts: '2025-08-03T00:00:00Z' }),
    JSON.stringify({ type: 'ue.attach', ts: '2025-08-03T00:00:00Z', cellId: '45008-1', imsi: '450081234567890' }),
    JSON.stringify(events[0]), // the same id again: not counted twice
  ];
  const r = await runAuditCli(f.dir, ['--inventory', inv, '--certs', f.certsDir, '--sessions', f.sessions(lines)]);
  expect(r.status, r.stderr).toBe(3); // malformed lines are input problems
  report = r.report;
});
afterAll(() => rmSync(f.dir, { recursive: true, force: true }));

describe('audit --sessions: use of the fleet', () => {
  it('fail/active devices unseen beyond the idle limit, including never seen in a long enough history', () => {
    const idle = findingOf(report, 'idle-device', 'medium');
    expect(idle.devices).toEqual(['IDLE1', 'NEVER1']);
    expect(idle.deviceNotes).toEqual({ IDLE1: 'last seen 2025-04-01, 125 days ago', NEVER1: 'never seen since 2025-03-01' });
  });

  it('ok/with --idle-days beyond the history nothing is idle for never being seen', async () => {
    const r = await runAuditCli(f.dir, ['--inventory', inv, '--certs', f.certsDir, '--sessions', f.sessions(events, 'clean.ndjson'), '--idle-days', '200']);
    expect(findingsOf(r.report, 'idle-device')).toEqual([]);
  });

  it('fail/a session from outside the registered prefixes, and GPS fixes far from the site', () => {
    const roam = findingOf(report, 'source-outside-prefix', 'high');
    // The clones of TWIN1 and DUAL1 came from outside their prefixes too.
    expect(roam.devices).toEqual(['DUAL1', 'ROAM1', 'TWIN1']);
    expect(roam.deviceNotes?.ROAM1).toBe('from 203.0.113.9 (2x); registered 175.198.3.0/24');
    const drift = findingOf(report, 'gps-drift', 'high');
    expect(drift.devices).toEqual(['DRIFT1']);
    expect(drift.deviceNotes?.DRIFT1).toMatch(/^32\d km from its site \(radius 300 m\) at 2025-08-02T02:00:00.000Z; 1 fix outside$/);
  });

  it('fail/a decommissioned device still connecting is critical, a suspended one high; an unregistered serial high', () => {
    expect(findingOf(report, 'inactive-device-connecting', 'critical').devices).toEqual(['DECOM1']);
    expect(findingOf(report, 'inactive-device-connecting', 'high').devices).toEqual(['SUSP1']);
    const ghost = findingOf(report, 'unregistered-device-connecting', 'high');
    expect(ghost.devices).toEqual(['GHOST9']);
    expect(ghost.certificates).toEqual(['ab'.repeat(32)]); // "AB:AB:..." normalised
  });

  it('fail/one serial with two certificates up at once, and one certificate up from two addresses', () => {
    const twin = findingOf(report, 'serial-several-certificates', 'high');
    expect(twin.devices).toEqual(['TWIN1']);
    expect(twin.certificates).toEqual([fp.TWIN1, fp.TWIN1b].sort());
    const dual = findingOf(report, 'serial-concurrent-sessions', 'high');
    expect(dual.devices).toEqual(['DUAL1', 'TWIN1']);
    expect(dual.deviceNotes?.DUAL1).toBe(`up at once from 175.198.8.10, 198.51.100.80 at 2025-08-03T04:10:00.000Z`);
  });

  it('fail/a certificate presented by two serials is a shared certificate', () => {
    const shared = findingOf(report, 'certificate-shared', 'critical');
    expect(shared.devices).toEqual(['SHARE1', 'SHARE2']);
    expect(shared.deviceNotes).toEqual({ SHARE1: 'named in the certificate', SHARE2: 'presented it in a session' });
    expect(shared.evidence).toMatchObject({ presentedBy: 2 });
  });

  it('ok/a healthy device, sequential sessions and a lost down are not findings', () => {
    for (const serial of ['OK1', 'RECON1']) expect(report.findings.filter((x) => x.devices.includes(serial)).map((x) => x.id)).toEqual([]);
  });

  it('fail/malformed lines are reported with their line numbers and skipped; unknown types and repeats are counted', () => {
    const n = events.length;
    expect(report.problems.filter((p) => p.source === 'sessions').map((p) => [p.line, p.message])).toEqual([
      [n + 1, expect.stringMatching(/^not JSON/)],
      [n + 2, 'femto.session: missing "serial"'],
      [n + 3, expect.stringMatching(/"ts" is not an RFC 3339 time/)],
      [n + 4, expect.stringMatching(/"ts" is not an RFC 3339 time/)], // no offset
      [n + 5, 'femto.session: "phase" must be "up" or "down"'],
    ]);
    expect(report.inputs.sessions).toMatchObject({ lines: n + 9, events: n, malformed: 5, ignored: 1, duplicates: 1, unknownTypes: { 'femto.wat': 1 } });
  });

  it('ok/events out of order (the contract asks for ten minutes; here the whole file reversed) give the sorted result', async () => {
    const sorted = await runAuditCli(f.dir, ['--inventory', inv, '--certs', f.certsDir, '--sessions', f.sessions(events, 'sorted.ndjson')]);
    const reversed = await runAuditCli(f.dir, ['--inventory', inv, '--certs', f.certsDir, '--sessions', f.sessions([...events].reverse(), 'reversed.ndjson')]);
    expect(reversed.status).toBe(0);
    expect(reversed.report.findings).toEqual(sorted.report.findings);
    expect(sorted.report.findings.length).toBeGreaterThan(8);
  });

  it('fail/a session history that cannot be opened is a usage error', async () => {
    const r = await runAuditCli(f.dir, ['--inventory', inv, '--sessions', join(f.dir, 'nope.ndjson')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/cannot read session history .*nope\.ndjson: ENOENT/);
  });
});

describe('audit --sessions on the kt-small sample (default --session-open-hours 24)', () => {
  it('fail/the clone: its real session never went down but kept reporting from its address, so the clone up elsewhere overlaps it', async () => {
    const r = await runAuditCli(f.dir, ['--inventory', join(SAMPLE, 'registry.csv'), '--sessions', join(SAMPLE, 'events.ndjson'), '--now', '2025-08-05T00:00:00Z']);
    expect(r.status, r.stderr).toBe(3); // the sample holds a few malformed lines on purpose
    const clone = expected.rogues.find((x) => x.name === 'clone');
    const dual = findingOf(r.report, 'serial-concurrent-sessions', 'high');
    expect(dual.devices).toEqual(clone?.serials);
    expect(dual.deviceNotes?.KTF000028).toBe(`up at once from 175.248.130.88, 58.131.50.16 at ${clone?.start}`);
    // nothing benign is up twice at once
    expect(findingsOf(r.report, 'serial-several-certificates')).toEqual([]);
  });
});
