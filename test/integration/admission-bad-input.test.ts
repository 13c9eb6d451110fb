/**
 * What the admission listeners do with bad input, sent by real clients: malformed,
 * schema-invalid, empty and oversized reports, plain HTTP on the TLS port, TLS garbage and a
 * TLS version below the floor. Each gets a clear refusal and an audit record, and the listener
 * keeps admitting the next good check-in.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curlRequest, run } from '../helpers/est-client.js';
import { activeDevice, checkin, checkinAs, decisions, expectDenied, startAdmissionServer, type AdmissionServer } from '../helpers/admission.js';
import { requireTool } from '../helpers/run.js';

let t: AdmissionServer;
let endpoint: string;
let dev: Awaited<ReturnType<typeof activeDevice>>;
beforeAll(async () => {
  requireTool('openssl', 'openssl');
  requireTool('curl', 'curl');
  t = await startAdmissionServer({ maxReportBytes: 2048 });
  endpoint = t.pool[0] as string;
  dev = await activeDevice(t, 'BAD-1');
});
afterAll(async () => t?.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The listener still admits a good check-in. */
async function stillUp(): Promise<void> {
  expect((await checkinAs(t, endpoint, dev)).status).toBe(200);
}

/** The newest refusal recorded without a serial (nothing in the body could be trusted). */
async function lastAnonymousDeny() {
  const all = await decisions(t);
  return all.find((d) => d.serial === null);
}

describe('malformed check-ins', () => {
  const cases: [string, string | undefined][] = [
    ['not JSON', '{"serial": "BAD-1", '],
    ['a JSON array', '["BAD-1"]'],
    ['no serial', '{"cellIds": ["45008-200000001"]}'],
    ['a latitude of 200', '{"serial": "BAD-1", "gps": {"lat": 200, "lon": 1}}'],
    ['a cell list that is a string', '{"serial": "BAD-1", "cellIds": "45008-200000001"}'],
    ['an empty body', ''],
  ];
  for (const [what, body] of cases) {
    it(`fail/${what}: 400 malformed-report, recorded and audited`, async () => {
      const r = await checkin(t, endpoint, { cert: dev.certPath, key: dev.keyPath, body: body ?? '', from: '127.0.0.5' });
      expectDenied(r, 400, 'malformed-report');
      const d = await lastAnonymousDeny();
      expect(d).toMatchObject({ decision: 'deny', reason: 'malformed-report', sourceIp: '127.0.0.5', endpoint, certFingerprint: expect.stringMatching(/^[0-9a-f]{64}$/) as unknown });
      const audited = await t.srv.base.stores.audit.list({ action: 'admission.deny', limit: 1 });
      expect(audited[0]?.details).toMatchObject({ decisionId: d?.id, reason: 'malformed-report' });
      await stillUp();
    });
  }

  it('fail/a report over the size limit: 413 report-too-large, audited, listener up', async () => {
    const path = join(t.work, 'big.json');
    writeFileSync(path, JSON.stringify({ serial: 'BAD-1', neighbors: Array.from({ length: 400 }, (_, i) => `45008-${i}`) }));
    const r = await checkin(t, endpoint, { cert: dev.certPath, key: dev.keyPath, bodyPath: path, from: '127.0.0.5' });
    expectDenied(r, 413, 'report-too-large');
    expect(await lastAnonymousDeny()).toMatchObject({ reason: 'report-too-large', reasons: [{ code: 'report-too-large', detail: 'report larger than 2048 bytes' }] });
    await stillUp();
  });
});

describe('not TLS, or bad TLS', () => {
  const refusals = () => t.srv.base.stores.audit.list({ action: 'admission.tls_refused' });

  it('fail/plain HTTP on the TLS port gets a plain-text 400 that says TLS is required', async () => {
    await sleep(1100); // the refusal audit is rate-limited to one a second per listener
    const r = await curlRequest(t.work, ['--interface', '127.0.0.7', '-H', 'Content-Type: application/json', '--data-binary', '{"serial":"BAD-1"}', `http://${endpoint}/v1/femto/checkin`]);
    expect({ status: r.status, body: r.body }).toEqual({ status: 400, body: '{"decision":"deny","reason":"tls-required"}' });
    expect((await refusals())[0]).toMatchObject({ outcome: 'denied', details: { listener: endpoint, sourceIp: '127.0.0.7', error: 'not_tls' } });
    await stillUp();
  });

  it('fail/a TLS record header followed by garbage is refused by the TLS layer and audited', async () => {
    await sleep(1100);
    const path = join(t.work, 'garbage.bin');
    writeFileSync(path, Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40]), Buffer.alloc(64, 0xa5)]));
    // curl's telnet:// sends the file's bytes as they are
    const r = await run('curl', ['-sS', '--max-time', '5', '--interface', '127.0.0.7', '--upload-file', path, `telnet://${endpoint}`]);
    // the server answers with a TLS alert record (content type 21), never with data
    expect(r.stdoutBytes.length === 0 || r.stdoutBytes[0] === 0x15).toBe(true);
    await sleep(100);
    expect((await refusals())[0]).toMatchObject({ details: { listener: endpoint, sourceIp: '127.0.0.7', error: expect.stringMatching(/^ERR_SSL_|^ECONNRESET$/) as unknown } });
    await stillUp();
  });

  it('fail/TLS 1.1 (below the TLS 1.2 floor) fails the handshake and is audited', async () => {
    await sleep(1100);
    const r = await run('openssl', ['s_client', '-connect', endpoint, '-tls1_1', '-cert', dev.certPath, '-key', dev.keyPath], { input: '', timeoutMs: 10_000 });
    expect(r.stdout + r.stderr).toMatch(/alert|no protocols available|wrong version|unsupported protocol/i);
    await sleep(100);
    expect((await refusals())[0]?.details).toMatchObject({ listener: endpoint, error: expect.stringMatching(/^ERR_SSL_/) as unknown });
    await stillUp();
  });

  it('fail/a flood of garbage is audited at most once a second, with a count of the rest', async () => {
    await sleep(1100);
    const before = (await refusals()).length;
    await Promise.all(Array.from({ length: 8 }, () => curlRequest(t.work, ['--interface', '127.0.0.7', `http://${endpoint}/`])));
    await sleep(1100);
    await curlRequest(t.work, ['--interface', '127.0.0.7', `http://${endpoint}/`]);
    const after = await refusals();
    expect(after.length - before).toBe(2);
    expect(after[0]?.details).toMatchObject({ suppressedBefore: 7 });
    await stillUp();
  });
});
