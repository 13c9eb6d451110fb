/**
 * The HTTP layer of a gateway listener (bare node:https, not Fastify), with real clients:
 * the answers it gives besides a plain check-in are the ones the Fastify listener gave —
 * headers, /healthz, problem+json 404s, keep-alive, a chunked report over the limit, HTTP
 * that cannot be parsed — and a report over the limit or unreadable is still recorded.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curlRequest, run } from '../helpers/est-client.js';
import { activeDevice, decisions, startAdmissionServer, type AdmissionServer } from '../helpers/admission.js';
import { requireTool } from '../helpers/run.js';

let t: AdmissionServer;
let endpoint: string;
let dev: Awaited<ReturnType<typeof activeDevice>>;
beforeAll(async () => {
  requireTool('openssl', 'openssl');
  requireTool('curl', 'curl');
  t = await startAdmissionServer({ maxReportBytes: 2048 });
  endpoint = t.pool[0] as string;
  dev = await activeDevice(t, 'GWH-1');
});
afterAll(async () => t?.stop());

const tlsArgs = (): string[] => ['--cacert', t.chainPath, '--cert', dev.certPath, '--key', dev.keyPath, '--interface', '127.0.0.5'];
const problem = (status: number, code: string, detail: string) => ({ type: `https://femtoguard.dev/problems/${code}`, title: code, status, detail, code });

/** Raw bytes over mutual TLS with openssl s_client; returns what the server sent back. */
async function raw(request: string): Promise<string> {
  const r = await run('openssl', ['s_client', '-connect', endpoint, '-CAfile', t.chainPath, '-cert', dev.certPath, '-key', dev.keyPath, '-quiet', '-ign_eof'], { input: request, timeoutMs: 10_000 });
  return r.stdout;
}

describe('gateway listener HTTP', () => {
  it('ok/an admitted check-in: 200, JSON with charset, no-store; the query string is ignored', async () => {
    const r = await curlRequest(t.work, [...tlsArgs(), '-H', 'Content-Type: application/json', '--data-binary', JSON.stringify({ serial: 'GWH-1' }), `https://${endpoint}/v1/femto/checkin?from=test`]);
    expect(r.status).toBe(200);
    expect(r.headers).toMatchObject({ 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    expect(JSON.parse(r.body)).toMatchObject({ decision: 'admit', nextCheckinSeconds: 300 });
  });

  it('ok/two check-ins on one kept-alive connection are two decisions', async () => {
    const before = (await decisions(t, 'GWH-1')).length;
    const body = JSON.stringify({ serial: 'GWH-1' });
    const url = `https://${endpoint}/v1/femto/checkin`;
    // one curl, two transfers: curl reuses the connection (-v says so on stderr)
    const r = await run('curl', ['-sS', '-v', ...tlsArgs(), '-H', 'Content-Type: application/json', '--data-binary', body, url, '--next', ...tlsArgs(), '-H', 'Content-Type: application/json', '--data-binary', body, url]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Re-using existing connection|Reusing existing/i);
    expect(r.stdout.match(/"decision":"admit"/g)).toHaveLength(2);
    expect((await decisions(t, 'GWH-1')).length - before).toBe(2);
  });

  it('ok/GET and HEAD /healthz answer {"status":"ok"}', async () => {
    const g = await curlRequest(t.work, [...tlsArgs(), `https://${endpoint}/healthz`]);
    expect({ status: g.status, body: g.body, type: g.headers['content-type'] }).toEqual({ status: 200, body: '{"status":"ok"}', type: 'application/json; charset=utf-8' });
    // HEAD: the same headers, no body (curl -I prints the headers where the body would go)
    const h = await curlRequest(t.work, [...tlsArgs(), '-I', `https://${endpoint}/healthz`]);
    expect({ status: h.status, length: h.headers['content-length'] }).toEqual({ status: 200, length: '15' });
    expect(h.body).not.toContain('"status"');
  });

  it('fail/another method or path is a problem+json 404 naming it (without the query)', async () => {
    const g = await curlRequest(t.work, [...tlsArgs(), `https://${endpoint}/v1/femto/checkin`]);
    expect(g.status).toBe(404);
    expect(g.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(JSON.parse(g.body)).toEqual(problem(404, 'not_found', 'no route for GET /v1/femto/checkin'));
    const p = await curlRequest(t.work, [...tlsArgs(), '-X', 'PUT', '--data-binary', '{}', `https://${endpoint}/v1/femto/checkin/?a=1`]);
    expect(JSON.parse(p.body)).toEqual(problem(404, 'not_found', 'no route for PUT /v1/femto/checkin/'));
  });

  it('fail/a chunked report over the limit: 413 report-too-large, connection closed, recorded', async () => {
    const path = join(t.work, 'gwh-big.json');
    writeFileSync(path, JSON.stringify({ serial: 'GWH-1', neighbors: Array.from({ length: 400 }, (_, i) => `45008-${i}`) }));
    const r = await curlRequest(t.work, [...tlsArgs(), '-H', 'Content-Type: application/json', '-H', 'Transfer-Encoding: chunked', '--data-binary', `@${path}`, `https://${endpoint}/v1/femto/checkin`]);
    expect({ status: r.status, body: r.body, connection: r.headers.connection }).toEqual({ status: 413, body: '{"decision":"deny","reason":"report-too-large"}', connection: 'close' });
    const [d] = (await decisions(t)).filter((x) => x.serial === null);
    expect(d).toMatchObject({ reason: 'report-too-large', endpoint, sourceIp: '127.0.0.5' });
  });

  it('fail/a declared Content-Length over the limit is refused before the body is read', async () => {
    const out = await raw(`POST /v1/femto/checkin HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"serial":`);
    expect(out).toMatch(/^HTTP\/1\.1 413 /);
    expect(out).toMatch(/\r\nconnection: close\r\n/i);
    expect(out.endsWith('{"decision":"deny","reason":"report-too-large"}')).toBe(true);
  });

  it('fail/HTTP that cannot be parsed: 400 problem+json request.malformed_http and the connection is closed', async () => {
    const out = await raw('POST /v1/femto/checkin HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n');
    expect(out).toMatch(/^HTTP\/1\.1 400 Bad Request\r\nConnection: close\r\nContent-Type: application\/problem\+json\r\n/);
    expect(JSON.parse(out.slice(out.indexOf('\r\n\r\n') + 4))).toEqual(problem(400, 'request.malformed_http', 'the request could not be parsed (HPE_INVALID_CONTENT_LENGTH)'));
  });

  it('ok/no stateless session tickets: a client offering its session gets a full handshake', async () => {
    const sess = join(t.work, 'gwh-session.pem');
    const req = 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
    const args = ['s_client', '-connect', endpoint, '-CAfile', t.chainPath, '-cert', dev.certPath, '-key', dev.keyPath, '-ign_eof'];
    const first = await run('openssl', [...args, '-msg', '-sess_out', sess], { input: req, timeoutMs: 10_000 });
    // what OpenSSL sends instead: session ids (57 bytes), not the encrypted session (~900)
    const tickets = [...first.stdout.matchAll(/<<< TLS 1\.3, Handshake \[length ([0-9a-f]+)\], NewSessionTicket/g)].map((m) => parseInt(m[1] as string, 16));
    expect(tickets.length).toBeGreaterThan(0);
    expect(Math.max(...tickets)).toBeLessThan(100);
    const second = await run('openssl', [...args, '-sess_in', sess], { input: req, timeoutMs: 10_000 });
    expect(second.stdout).toMatch(/^New, TLSv1\.3/m);
    expect(second.stdout).toContain('{"status":"ok"}');
  });

  it('ok/the listener still admits afterwards', async () => {
    const r = await curlRequest(t.work, [...tlsArgs(), '-H', 'Content-Type: application/json', '--data-binary', JSON.stringify({ serial: 'GWH-1' }), `https://${endpoint}/v1/femto/checkin`]);
    expect(r.status).toBe(200);
  });
});
