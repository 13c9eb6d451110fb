/**
 * FORMATS.md §1 "accept everything written here", through the real entry points: `femtoguard
 * detect` over a file (the reader thread and its byte scanner) and over stdin (in process), and
 * `POST /v1/events` with curl. Each case is a review finding: `registry.update` held to the
 * registry CSV's field rules and normalised like it, optional fields written as null or "",
 * any number of fraction digits in `ts`, and a UTF-8 BOM at the start of the stream.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, requireTool, run } from '../helpers/run.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** U+FEFF: written as UTF-8 it is the three bytes EF BB BF, the byte order mark. */
const BOM = '\ufeff';
const FP = '404b3a6818de43a27caf58723662c0b14771ae202a04ed2204afb5e8cf503cad';
/** The same fingerprint as an operator's tool prints it: upper case, colon-separated. */
const FP_WRITTEN = FP.toUpperCase().match(/../g)!.join(':');

const REGISTRY = ['serial,status,cell_ids,ip_prefixes,cert_fingerprints', 'D1,active,45008-21,10.0.0.0/8,', 'D2,active,45008-22,10.0.0.0/8,', 'D3,active,45008-23,10.0.0.0/8,'].join('\n');

const line = (o: Record<string, unknown>): string => JSON.stringify(o);

/** registry.update lines the CSV import would refuse, or must normalise, then the events they decide. */
const UPDATES = [
  // 1: host bits set: the CSV refuses it; it must not become "no prefixes" for D1
  line({ type: 'registry.update', serial: 'D1', ipPrefixes: ['10.1.2.0/16'], ts: '2025-08-05T03:00:00Z' }),
  // 2: upper case with colons: stored as the CSV stores it
  line({ type: 'registry.update', serial: 'D2', certFingerprints: [FP_WRITTEN], ts: '2025-08-05T03:00:01Z' }),
  // 3: cell ids trimmed
  line({ type: 'registry.update', serial: 'D3', cellIds: [' 45008-77 '], ts: '2025-08-05T03:00:02Z' }),
  // 4, 5: over the CSV's radius limit; half a site
  line({ type: 'registry.update', serial: 'D3', siteRadiusM: 100_001, ts: '2025-08-05T03:00:03Z' }),
  line({ type: 'registry.update', serial: 'D3', siteLat: 37.5, siteLon: null, ts: '2025-08-05T03:00:04Z' }),
  line({ type: 'femto.session', serial: 'D1', phase: 'up', sourceIp: '203.0.113.9', cellIds: ['45008-21'], ts: '2025-08-05T03:01:00Z' }),
  line({ type: 'femto.session', serial: 'D9', phase: 'up', sourceIp: '10.9.9.9', certFingerprint: FP, ts: '2025-08-05T03:01:05Z' }),
  line({ type: 'ue.attach', cellId: '45008-77', imsi: '450081234567890', ts: '2025-08-05T03:01:10Z' }),
].join('\n');

/** Lines every reader must accept (null/"" optional fields, long fractions), and two it must refuse. */
const FIELDS = [
  line({ type: 'femto.session', serial: 'F3', phase: 'up', sourceIp: '1.2.3.4', certFingerprint: null, ts: '2025-08-05T03:00:00Z' }),
  line({ type: 'femto.session', serial: 'F5', phase: 'up', sourceIp: '1.2.3.4', endpoint: '', sessionId: null, cellIds: null, ts: '2025-08-05T03:00:00Z' }),
  line({ type: 'femto.report', serial: 'F10', gps: { lat: 37.5, lon: 127.0, accuracyM: null }, ts: '2025-08-05T03:00:00Z' }),
  line({ type: 'femto.report', serial: 'KT/001', gps: null, cellIds: ['45008-99'], swVersion: '', id: null, ts: '2025-08-05T03:00:01Z' }),
  line({ type: 'ue.attach', cellId: 'C13', imsi: '450081234567890', imei: null, ts: '2025-08-05T03:00:00Z' }),
  line({ type: 'ue.attach', cellId: 'C15', imsi: '450081234567890', msisdn: '', id: '', ts: '2025-08-05T03:00:00Z' }),
  line({ type: 'ims.register', imsi: '450081234567890', ipsec: true, cellId: null, msisdn: '', ts: '2025-08-05T03:00:00Z' }),
  line({ type: 'payment.auth', txId: 'tx1', msisdn: '+821012345678', amountMinor: 1000, currency: 'KRW', method: null, merchant: '', ts: '2025-08-05T03:00:00Z' }),
  line({ type: 'femto.session', serial: 'U05', phase: 'up', sourceIp: '1.2.3.5', ts: '2025-08-05T02:14:09.1234567891Z' }),
  line({ type: 'femto.session', serial: 'U26', phase: 'up', sourceIp: '1.2.3.26', ts: '2025-08-05T11:14:09.000000000000+09:00' }),
  line({ type: 'femto.session', serial: 'U27', phase: 'up', sourceIp: '1.2.3.27', ts: `2025-08-05T02:14:09.${'9'.repeat(40)}Z` }),
  // 12, 13: required fields keep refusing null and ""
  line({ type: 'femto.session', serial: 'R1', phase: null, sourceIp: '1.2.3.4', ts: '2025-08-05T03:00:00Z' }),
  line({ type: 'payment.auth', txId: 'tx2', msisdn: '', amountMinor: 1000, currency: 'KRW', ts: '2025-08-05T03:00:00Z' }),
].join('\n');
const FIELDS_ACCEPTED = 11;

interface Summary {
  events: { lines: number; accepted: number; rejected: { line: number; error: string }[]; rejectedCount: number };
}
interface Alert {
  rule: string;
  serial?: string;
  cellId?: string;
  evidence: Record<string, unknown>;
}

let work = '';
let registry = '';
let server: TestServer | undefined;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'fg-formats-'));
  registry = join(work, 'registry.csv');
  writeFileSync(registry, REGISTRY);
});
afterAll(async () => {
  await server?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** `femtoguard detect --json` over `events` (a file, or stdin when `stdin` is set): its summary and alerts. */
async function detect(name: string, events: string, stdin = false): Promise<{ summary: Summary; alerts: Alert[] }> {
  const file = join(work, `${name}.ndjson`);
  const out = join(work, `${name}.alerts.ndjson`);
  writeFileSync(file, events);
  const args = ['detect', '--registry', registry, '--events', stdin ? '-' : file, '--alerts', out, '--json'];
  const r = await cli(args, process.env, stdin ? events : undefined);
  expect(r.status, r.stderr).toBe(0);
  const summary = JSON.parse(r.stderr.trim().split('\n').at(-1)!) as Summary;
  const alerts = readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Alert);
  return { summary, alerts };
}

describe('femtoguard detect: registry.update is held to the registry CSV rules (FORMATS.md §1, §2)', () => {
  let result: { summary: Summary; alerts: Alert[] };
  beforeAll(async () => {
    result = await detect('updates', UPDATES);
  });

  it('fail/values the CSV import refuses make the line malformed, reported with its number and skipped', () => {
    const rejected = result.summary.events.rejected;
    expect(rejected.map((r) => r.line)).toEqual([1, 4, 5]);
    expect(rejected[0]!.error).toMatch(/^registry\.update: ipPrefixes: .*10\.1\.2\.0\/16.*10\.1\.0\.0\/16/);
    expect(rejected[1]!.error).toMatch(/siteRadiusM/);
    expect(rejected[2]!.error).toMatch(/siteLat and siteLon/);
  });

  it('fail/a refused prefix never switches source-ip-mismatch off: D1 keeps its line', () => {
    const hit = result.alerts.find((a) => a.rule === 'source-ip-mismatch' && a.serial === 'D1');
    expect(hit?.evidence).toMatchObject({ sourceIp: '203.0.113.9', ipPrefixes: ['10.0.0.0/8'] });
  });

  it('fail/a fingerprint written in upper case with colons is stored normalised: the device presenting it elsewhere is caught', () => {
    const hit = result.alerts.find((a) => a.rule === 'credential-shared' && a.serial === 'D9');
    expect(hit?.evidence).toMatchObject({ certFingerprint: FP, otherSerial: 'D2' });
  });

  it('fail/cell ids are trimmed: the updated cell counts as registered', () => {
    expect(result.alerts.filter((a) => a.rule === 'unregistered-cell' && a.cellId === '45008-77')).toEqual([]);
  });
});

describe('femtoguard detect: null and "" optional fields, long fractions, a leading BOM', () => {
  it('ok/from a file (reader thread, byte scanner): every such line accepted; required null/"" refused with their numbers', async () => {
    const { summary } = await detect('fields', FIELDS);
    expect(summary.events).toMatchObject({ lines: 13, accepted: FIELDS_ACCEPTED, rejectedCount: 2 });
    expect(summary.events.rejected.map((r) => r.line)).toEqual([12, 13]);
    expect(summary.events.rejected[0]!.error).toMatch(/phase/);
    expect(summary.events.rejected[1]!.error).toMatch(/msisdn/);
  });

  it('ok/a UTF-8 BOM at the start of a file and of stdin is dropped: line 1 is read; the alerts are those of the same input without it', async () => {
    const plain = await detect('plain', FIELDS);
    const fromFile = await detect('bom-file', BOM + FIELDS);
    const fromStdin = await detect('bom-stdin', BOM + FIELDS, true);
    for (const r of [fromFile, fromStdin]) {
      expect(r.summary.events).toMatchObject({ lines: 13, accepted: FIELDS_ACCEPTED, rejectedCount: 2 });
      expect(r.alerts).toEqual(plain.alerts);
    }
  });

  it('fail/a BOM anywhere but the start of the stream is part of its line', async () => {
    const { summary } = await detect('bom-later', `${FIELDS.split('\n')[0]!}\n${BOM}${FIELDS.split('\n')[1]!}`);
    expect(summary.events.rejected).toEqual([{ line: 2, error: expect.stringMatching(/^not valid JSON/) as unknown as string }]);
  });
});

describe('POST /v1/events (curl): the same lines', () => {
  beforeAll(async () => {
    requireTool('curl', 'curl');
    server = await startTestServer();
  });

  async function post(body: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const r = await run('curl', ['-sS', '-o', '-', '-w', '\n%{http_code}', '-X', 'POST', '-H', `Authorization: Bearer ${server!.adminToken}`, '-H', 'Content-Type: application/x-ndjson', '--data-binary', '@-', `${server!.http}/v1/events`], { input: body });
    const i = r.stdout.lastIndexOf('\n');
    return { status: Number(r.stdout.slice(i + 1)), body: JSON.parse(r.stdout.slice(0, i)) as Record<string, unknown> };
  }

  it('ok/a body starting with a BOM, with null/"" optional fields and long fractions: all accepted; required null/"" refused by line', async () => {
    const r = await post(BOM + FIELDS);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ lines: 13, accepted: FIELDS_ACCEPTED, rejectedCount: 2 });
    expect((r.body.rejected as { line: number }[]).map((x) => x.line)).toEqual([12, 13]);
  });

  it('fail/a BOM inside the body (a second one) is not dropped', async () => {
    const r = await post(BOM + BOM + FIELDS.split('\n')[0]!);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ accepted: 0, rejectedCount: 1 });
  });
});
