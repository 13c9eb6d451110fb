/**
 * The dedicated revocation listener (config `revocation`, src/api/revocation-listener.ts):
 * real `openssl ocsp -url` and `curl` against it, then raw sockets for what client libraries
 * will not send: keep-alive, pipelining, `Connection: close`, malformed and oversized
 * requests, slow clients, garbage and a seeded fuzz loop. After each, the listener must
 * still answer correctly.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRevocationListener, type RevocationEndpoints, type RevocationListener } from '../../src/api/index.js';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { freePort, startChildServer } from '../helpers/child-server.js';
import { cli, curlRequest, enrollNewDevice, issuingPem, parseOcspOutput, run, type EnrolledDevice, type OcspResult } from '../helpers/est-client.js';
import { classifyOcspResponse, mutate, xorshift } from '../helpers/fuzz-net.js';
import { requireTool } from '../helpers/run.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
let rev: string;
let port: number;
let dev: EnrolledDevice;
/** DER OCSP request for `dev`, no nonce (RFC 5019 §2.1.1) */
let reqDer: Buffer;

beforeAll(async () => {
  requireTool('openssl', 'openssl');
  requireTool('curl', 'curl');
  t = await startTestServer({ revocation: '127.0.0.1:0' });
  if (!t.revocation) throw new Error('no revocation listener');
  rev = t.revocation;
  port = Number(new URL(rev).port);
  dev = await enrollNewDevice(t, 'RL-GOOD');
  const reqPath = join(t.work, 'rl-req.der');
  const mk = await run('openssl', ['ocsp', '-issuer', issuingPem(t), '-cert', dev.certPath, '-no_nonce', '-reqout', reqPath]);
  if (mk.status !== 0) throw new Error(mk.stderr);
  reqDer = readFileSync(reqPath);
});
afterAll(async () => t?.stop());

async function ocspAt(base: string, target: string | { serial: string }, extra: readonly string[] = [], digest: readonly string[] = []): Promise<OcspResult> {
  // openssl applies a digest option to the -cert/-serial after it, so it goes first.
  const args = ['ocsp', '-issuer', issuingPem(t), ...digest, ...(typeof target === 'string' ? ['-cert', target] : ['-serial', target.serial]), ...extra, '-url', `${base}/ocsp`, '-CAfile', t.chainPath];
  return parseOcspOutput(await run('openssl', args));
}

interface Parsed {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}
interface Exchange {
  responses: Parsed[];
  /** the server closed the connection */
  closed: boolean;
  /** ms from the first write until the close (or the give-up time) */
  ms: number;
  /** every byte received */
  raw: Buffer;
}

/**
 * Splits a byte stream into HTTP/1.1 responses, framed by Content-Length like a client would.
 * `heads[i]` says the i-th response (100 Continue not counted) answers a HEAD: it has no body
 * whatever its Content-Length says (RFC 9110 §9.3.2); every other response has its body.
 */
function parseResponses(all: Buffer, heads: readonly boolean[] = []): Parsed[] {
  const out: Parsed[] = [];
  let at = 0;
  for (;;) {
    const end = all.indexOf('\r\n\r\n', at);
    if (end < 0) return out;
    const lines = all.toString('latin1', at, end).split('\r\n');
    const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(lines[0] ?? '')?.[1] ?? NaN);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
    const len = status === 100 || heads[out.length] === true ? 0 : Number(headers['content-length'] ?? 0);
    if (all.length < end + 4 + len) return out;
    if (status !== 100) out.push({ status, headers, body: all.subarray(end + 4, end + 4 + len) });
    at = end + 4 + len;
  }
}

/**
 * Writes `parts` (with `gapMs` between them) on one connection and collects answers until
 * `want` responses arrived and, when `waitClose`, the server closed; gives up after `maxMs`.
 */
function exchange(parts: readonly Buffer[], opts: { want?: number; waitClose?: boolean; gapMs?: number; maxMs?: number; heads?: readonly boolean[]; to?: number } = {}): Promise<Exchange> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s: Socket = connect({ host: '127.0.0.1', port: opts.to ?? port });
    const start = Date.now();
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      const raw = Buffer.concat(chunks);
      resolve({ responses: parseResponses(raw, opts.heads), closed, ms: Date.now() - start, raw });
    };
    const timer = setTimeout(() => finish(false), opts.maxMs ?? 5000);
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      if (!opts.waitClose && opts.want !== undefined && parseResponses(Buffer.concat(chunks), opts.heads).length >= opts.want) finish(false);
    });
    s.on('error', () => finish(true));
    s.on('close', () => finish(true));
    s.on('connect', () => {
      void (async () => {
        for (const p of parts) {
          if (s.destroyed) return;
          s.write(p);
          if (opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
        }
      })();
    });
  });
}

const post = (body: Buffer, extra = ''): Buffer =>
  Buffer.concat([Buffer.from(`POST /ocsp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/ocsp-request\r\nContent-Length: ${body.length}\r\n${extra}\r\n`), body]);
const get = (path: string, extra = ''): Buffer => Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}\r\n`);
const ocspStatusOf = (p: Parsed): string => classifyOcspResponse(p.body, t.srv.ca.ca.responder.spki);

describe('revocation listener: configuration', () => {
  it('ok/off by default; set from FEMTOGUARD_REVOCATION or a flag; a bad address is refused naming the option', () => {
    expect(loadConfig({ env: {} }).revocation).toBeUndefined();
    expect(loadConfig({ env: { FEMTOGUARD_REVOCATION: '0.0.0.0:8081' } }).revocation).toEqual({ host: '0.0.0.0', port: 8081 });
    expect(loadConfig({ env: {}, flags: { revocation: '[::1]:0' } }).revocation).toEqual({ host: '::1', port: 0 });
    expect(() => loadConfig({ env: { FEMTOGUARD_REVOCATION: '8081' } })).toThrow(/revocation: expected HOST:PORT/);
  });
});

describe('revocation listener: serve --revocation', () => {
  it('ok/the flag starts the listener, serve prints its URL, and it answers OCSP and the CA chain', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'fg-rl-serve-'));
    const port = await freePort();
    const srv = await startChildServer(dataDir, { ...process.env, FEMTOGUARD_CA_PASSPHRASE: 'serve-revocation-test-passphrase' }, ['--revocation', `127.0.0.1:${port}`]);
    try {
      const base = `http://127.0.0.1:${port}`;
      expect(srv.output()).toContain(`OCSP, CRL for gateways  ${base}`);
      const chain = await fetch(`${base}/ca/chain.pem`);
      expect(chain.status).toBe(200);
      expect(await chain.text()).toContain('BEGIN CERTIFICATE');
      // Not an OCSP request: the listener answers with an OCSP error, it does not fall over.
      const bad = await fetch(`${base}/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: 'not der' });
      expect(bad.status).toBe(200);
      expect(Buffer.from(await bad.arrayBuffer())).toEqual(Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x01]));
    } finally {
      srv.proc.kill('SIGTERM');
      await new Promise((r) => srv.proc.once('exit', r));
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('revocation listener: real clients', () => {
  it('ok/new certificates name the listener for OCSP, CRL and caIssuers', async () => {
    const uri = await run('openssl', ['x509', '-in', dev.certPath, '-noout', '-ocsp_uri']);
    expect(uri.stdout.trim()).toBe(`${rev}/ocsp`);
    const text = (await run('openssl', ['x509', '-in', dev.certPath, '-noout', '-text'])).stdout;
    expect(text).toContain(`URI:${rev}/crl`);
    expect(text).toContain(`CA Issuers - URI:${rev}/ca/issuing.crt`);
  });

  it('ok/openssl ocsp -url: good with SHA-1 and -sha256 CertIDs, verified; unknown for a serial never issued', async () => {
    const sha1 = await ocspAt(rev, dev.certPath);
    expect(sha1.status, sha1.stdout + sha1.stderr).toBe('good');
    expect(sha1.verifyOk).toBe(true);
    const sha256 = await ocspAt(rev, dev.certPath, ['-no_nonce', '-resp_text'], ['-sha256']);
    expect(sha256.status, sha256.stdout + sha256.stderr).toBe('good');
    expect(sha256.verifyOk).toBe(true);
    expect(sha256.stdout).toMatch(/Hash Algorithm: sha256/);
    const unknown = await ocspAt(rev, { serial: '0x7f0123456789abcdef0123456789abcd' });
    expect(unknown.status, unknown.stdout + unknown.stderr).toBe('unknown');
    expect(unknown.verifyOk).toBe(true);
    // The API listener still serves the same endpoint.
    expect((await ocspAt(t.http, dev.certPath)).status).toBe('good');
  });

  it('ok/a status change by the CLI in another process answers revoked within the change-feed interval, from the cache too', async () => {
    const d = await enrollNewDevice(t, 'RL-LOST');
    // Prime the pre-signed cache (no nonce) with good: only the change feed can turn it.
    expect((await ocspAt(rev, d.certPath, ['-no_nonce'])).status).toBe('good');
    expect((await ocspAt(rev, d.certPath, ['-no_nonce'])).status).toBe('good');
    const set = await cli(['device', 'set-status', d.serial, 'lost', '--reason', 'stolen from site'], t.env);
    const exitedAt = Date.now();
    expect(set.status, set.stderr).toBe(0);
    let r: OcspResult;
    for (;;) {
      r = await ocspAt(rev, d.certPath, ['-no_nonce']);
      if (r.status === 'revoked' || Date.now() - exitedAt > 3000) break;
    }
    expect(r.status, r.stdout + r.stderr).toBe('revoked');
    expect(Date.now() - exitedAt).toBeLessThan(1000);
    expect(r.verifyOk).toBe(true);
    expect(r.reason).toBe('keyCompromise');
  });

  it('fail/curl: on this listener too, a GET answer echoing a nonce, a malformed-request answer and a POST answer are no-store (RFC 5019 §6)', async () => {
    const noncePath = join(t.work, 'rl-req-nonce.der');
    const mk = await run('openssl', ['ocsp', '-issuer', issuingPem(t), '-cert', dev.certPath, '-reqout', noncePath]);
    expect(mk.status, mk.stderr).toBe(0);
    const withNonce = await curlRequest(t.work, [`${rev}/ocsp/${encodeURIComponent(readFileSync(noncePath).toString('base64'))}`]);
    expect(withNonce.status).toBe(200);
    expect(withNonce.headers['cache-control']).toBe('no-store');
    const bad = await curlRequest(t.work, [`${rev}/ocsp/${encodeURIComponent(Buffer.from('not an ocsp request').toString('base64'))}`]);
    expect(bad.status).toBe(200);
    expect(bad.headers['cache-control']).toBe('no-store');
    const reqPath = join(t.work, 'rl-req.der');
    const post = await curlRequest(t.work, ['-X', 'POST', '-H', 'Content-Type: application/ocsp-request', '--data-binary', `@${reqPath}`, `${rev}/ocsp`]);
    expect(post.status).toBe(200);
    expect(post.headers['cache-control']).toBe('no-store');
  });

  it('ok/curl: GET /ocsp/<base64>, CRL (DER, PEM, HEAD) and CA certificates match the API listener byte for byte', async () => {
    const encoded = encodeURIComponent(reqDer.toString('base64'));
    const g = await curlRequest(t.work, [`${rev}/ocsp/${encoded}`]);
    expect(g.status).toBe(200);
    expect(g.headers['content-type']).toBe('application/ocsp-response');
    expect(g.headers['cache-control']).toMatch(/^max-age=\d+, public, no-transform, must-revalidate$/);
    expect(g.headers.date).toMatch(/GMT$/);
    const respPath = join(t.work, 'rl-get-resp.der');
    writeFileSync(respPath, g.bodyBytes);
    const read = parseOcspOutput(await run('openssl', ['ocsp', '-respin', respPath, '-issuer', issuingPem(t), '-cert', dev.certPath, '-CAfile', t.chainPath, '-no_nonce']));
    expect(read.status, read.stdout + read.stderr).toBe('good');
    expect(read.verifyOk).toBe(true);
    for (const [path, type] of [['/crl', 'application/pkix-crl'], ['/crl.pem', 'application/x-pem-file'], ['/crl?format=pem', 'application/x-pem-file'], ['/ca/issuing.crt', 'application/pkix-cert'], ['/ca/root.crt', 'application/pkix-cert'], ['/ca/chain.pem', 'application/x-pem-file']] as const) {
      const a = await curlRequest(t.work, [`${rev}${path}`]);
      const b = await curlRequest(t.work, [`${t.http}${path}`]);
      expect(a.status, path).toBe(200);
      expect(a.headers['content-type'], path).toBe(type);
      expect(a.bodyBytes.equals(b.bodyBytes), path).toBe(true);
    }
    const crlPath = join(t.work, 'rl-crl.der');
    writeFileSync(crlPath, (await curlRequest(t.work, [`${rev}/crl`])).bodyBytes);
    const crl = await run('openssl', ['crl', '-inform', 'DER', '-in', crlPath, '-noout', '-CAfile', t.chainPath]);
    expect(crl.stderr + crl.stdout).toMatch(/verify OK/);
    const head = await exchange([Buffer.from('HEAD /crl HTTP/1.1\r\nHost: x\r\n\r\n'), get('/ca/root.crt')], { want: 2, heads: [true, false], gapMs: 30 });
    expect(head.responses[0]?.status).toBe(200);
    expect(Number(head.responses[0]?.headers['content-length'])).toBeGreaterThan(100);
    // No body after the HEAD answer: the next bytes are the next response's status line.
    expect(head.responses[1]?.status).toBe(200);
    expect(head.responses[1]?.body.equals(t.srv.ca.ca.root.der)).toBe(true);
  });
});

describe('revocation listener: connections', () => {
  it('ok/keep-alive: three requests one after another on one connection', async () => {
    const x = await exchange([post(reqDer), get('/ca/issuing.crt'), post(reqDer)], { want: 3, gapMs: 30 });
    expect(x.responses.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(x.closed).toBe(false);
    expect(ocspStatusOf(x.responses[0] as Parsed)).toBe('successful');
    expect(x.responses[1]?.body.equals(t.srv.ca.ca.issuing.der)).toBe(true);
    expect(x.responses[2]?.body.equals(x.responses[0]?.body as Buffer)).toBe(true);
  });

  it('ok/pipelining: 200 requests in one write, mixing sync and async answers, come back in order', async () => {
    const kinds = Array.from({ length: 200 }, (_, i) => (i % 10 === 3 ? 'crl' : i % 10 === 7 ? 'nope' : 'ocsp'));
    const payload = Buffer.concat(kinds.map((k) => (k === 'crl' ? get('/crl') : k === 'nope' ? get('/nope') : post(reqDer))));
    const x = await exchange([payload], { want: 200 });
    expect(x.responses).toHaveLength(200);
    x.responses.forEach((r, i) => {
      const k = kinds[i];
      expect(r.status, `#${i}`).toBe(k === 'nope' ? 404 : 200);
      expect(r.headers['content-type'], `#${i}`).toBe(k === 'crl' ? 'application/pkix-crl' : k === 'nope' ? 'text/plain; charset=utf-8' : 'application/ocsp-response');
    });
  });

  it('ok/Connection: close gets Connection: close and the server closes; HTTP/1.0 closes by default and keeps alive on request', async () => {
    const x = await exchange([post(reqDer, 'Connection: close\r\n')], { waitClose: true });
    expect(x.responses.map((r) => r.status)).toEqual([200]);
    expect(x.responses[0]?.headers.connection).toBe('close');
    expect(x.closed).toBe(true);
    const h10 = await exchange([Buffer.from('GET /ca/root.crt HTTP/1.0\r\n\r\n')], { waitClose: true });
    expect(h10.responses.map((r) => r.status)).toEqual([200]);
    expect(h10.closed).toBe(true);
    const ka10 = await exchange([Buffer.from('GET /ca/root.crt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'), Buffer.from('GET /ca/root.crt HTTP/1.0\r\n\r\n')], { waitClose: true, gapMs: 30 });
    expect(ka10.responses.map((r) => r.headers.connection)).toEqual(['keep-alive', 'close']);
    expect(ka10.closed).toBe(true);
  });

  it('ok/a request after a close request on the same connection is not answered (RFC 9112 §9.6)', async () => {
    const x = await exchange([Buffer.concat([post(reqDer, 'Connection: close\r\n'), post(reqDer)])], { waitClose: true });
    expect(x.responses.map((r) => r.status)).toEqual([200]);
    expect(x.closed).toBe(true);
  });

  it('ok/a body sent in pieces, and Expect: 100-continue, are answered', async () => {
    const whole = post(reqDer);
    const x = await exchange([whole.subarray(0, 10), whole.subarray(10, 60), whole.subarray(60)], { want: 1, gapMs: 20 });
    expect(x.responses[0]?.status).toBe(200);
    const head = Buffer.from(`POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Length: ${reqDer.length}\r\nExpect: 100-continue\r\n\r\n`);
    const y = await exchange([head, reqDer], { want: 1, gapMs: 50 });
    expect(y.responses[0]?.status).toBe(200);
  });

  it('ok/a client that half-closes right after its request still gets its answer', async () => {
    const x = await new Promise<Parsed[]>((resolve) => {
      const chunks: Buffer[] = [];
      const s = connect({ host: '127.0.0.1', port }, () => s.end(get('/crl')));
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('close', () => resolve(parseResponses(Buffer.concat(chunks))));
    });
    expect(x.map((r) => r.status)).toEqual([200]);
  });
});

describe('revocation listener: bad requests get a clear 4xx', () => {
  const cases: [string, Buffer, number, RegExp][] = [
    ['malformed request line', Buffer.from('HELLO\r\n\r\n'), 400, /malformed request line/],
    ['garbage bytes', Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00]), 400, /not an HTTP request/],
    ['HTTP/2 preface', Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), 505, /HTTP\/2\.0 is not supported/],
    ['no Host', Buffer.from('GET /crl HTTP/1.1\r\n\r\n'), 400, /without a Host/],
    ['POST without Content-Length', Buffer.from('POST /ocsp HTTP/1.1\r\nHost: x\r\n\r\n'), 411, /Content-Length/],
    ['chunked body', Buffer.from('POST /ocsp HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'), 411, /Transfer-Encoding/],
    ['oversized body', Buffer.from('POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n'), 413, /larger than 8192/],
    ['oversized header', Buffer.from(`GET /crl HTTP/1.1\r\nHost: x\r\nX-Pad: ${'p'.repeat(9000)}\r\n\r\n`), 431, /header fields longer/],
    ['oversized request line', Buffer.from(`GET /ocsp/${'A'.repeat(9000)}`), 414, /request line longer/],
  ];
  for (const [name, payload, status, says] of cases) {
    it(`fail/${name}: ${status} with Connection: close, then the connection closes`, async () => {
      const x = await exchange([payload], { waitClose: true });
      expect(x.responses.map((r) => r.status)).toEqual([status]);
      expect(x.responses[0]?.headers.connection).toBe('close');
      expect(x.responses[0]?.body.toString()).toMatch(says);
      expect(x.closed).toBe(true);
    });
  }

  it('fail/well-framed requests for the wrong path or method get 404 or 405 with Allow, and the connection stays usable', async () => {
    const x = await exchange([Buffer.concat([get('/v1/devices'), Buffer.from('PUT /ocsp HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n'), Buffer.from('POST /crl HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n'), post(reqDer)])], { want: 4 });
    expect(x.responses.map((r) => r.status)).toEqual([404, 405, 405, 200]);
    expect(x.responses[1]?.headers.allow).toBe('GET, POST');
    expect(x.responses[2]?.headers.allow).toBe('GET, HEAD');
    expect(x.closed).toBe(false);
  });

  it('fail/malformed OCSP in a well-framed request is an OCSP malformedRequest, not an HTTP error', async () => {
    const x = await exchange([post(Buffer.from('not der at all')), get('/ocsp/%%%')], { want: 2 });
    expect(x.responses.map((r) => r.status)).toEqual([200, 200]);
    expect(x.responses.map(ocspStatusOf)).toEqual(['malformedRequest', 'malformedRequest']);
  });
});

describe('revocation listener: slow and idle clients', () => {
  let slow: RevocationListener;
  let slowPort: number;
  beforeAll(async () => {
    // The production listener with short timeouts, serving the same CA.
    slow = createRevocationListener({ endpoints: () => ({ ocsp: t.srv.ca.ocsp, crl: t.srv.ca.crl, ca: t.srv.ca.ca }), nextUpdateSeconds: 300, logger: silentLogger(), requestTimeoutMs: 300, idleTimeoutMs: 400, lingerMs: 300 });
    slowPort = (await slow.listen('127.0.0.1', 0)).port;
  });
  afterAll(async () => slow?.close());

  it('fail/a request that does not arrive in full within the request timeout gets 408 and is closed (slowloris)', async () => {
    const dribble = [...Buffer.from('GET /crl HTTP/1.1\r\nHost: x\r\nX-Slow: yes\r\n\r\n')].map((b) => Buffer.from([b]));
    const x = await exchange(dribble, { to: slowPort, gapMs: 50, waitClose: true, maxMs: 3000 });
    expect(x.responses.map((r) => r.status)).toEqual([408]);
    expect(x.closed).toBe(true);
    expect(x.ms).toBeLessThan(1500);
    expect(slow.stats.timeouts).toBeGreaterThanOrEqual(1);
  });

  it('fail/a connection that sends nothing, and an idle keep-alive connection, are closed', async () => {
    const silent = await exchange([], { to: slowPort, waitClose: true, maxMs: 3000 });
    expect(silent.closed).toBe(true);
    expect(silent.ms).toBeLessThan(1500);
    const idle = await exchange([get('/ca/root.crt')], { to: slowPort, waitClose: true, maxMs: 3000 });
    expect(idle.responses.map((r) => r.status)).toEqual([200]);
    expect(idle.closed).toBe(true);
    expect(idle.ms).toBeLessThan(1500);
  });

  it('ok/a client that pipelines thousands of requests and reads late is answered in full and in order (backpressure)', async () => {
    const n = 12_000;
    const payload = Buffer.concat(Array.from({ length: n }, (_, i) => (i % 2 ? get('/ca/chain.pem') : post(reqDer))));
    const all = await new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      const s = connect({ host: '127.0.0.1', port: slowPort }, () => {
        s.pause(); // read nothing for a while: the server's send buffer fills and it must stop
        s.write(payload);
        setTimeout(() => s.resume(), 200);
      });
      // Done once nothing has come for 300 ms (parsing on every read would be quadratic).
      let quiet: NodeJS.Timeout | undefined;
      const done = (): void => {
        s.destroy();
        resolve(Buffer.concat(chunks));
      };
      s.on('data', (c: Buffer) => {
        chunks.push(c);
        clearTimeout(quiet);
        quiet = setTimeout(done, 300);
      });
      setTimeout(done, 15_000);
    });
    const rs = parseResponses(all);
    expect(rs).toHaveLength(n);
    expect(slow.stats.blocked, 'the send buffer never filled: the test did not test backpressure').toBeGreaterThan(0);
    rs.forEach((r, i) => expect(r.headers['content-type'], `#${i}`).toBe(i % 2 ? 'application/x-pem-file' : 'application/ocsp-response'));
  });

  it('ok/a client that keeps sending whole requests is not cut off', async () => {
    const x = await exchange(Array.from({ length: 8 }, () => post(reqDer)), { to: slowPort, want: 8, gapMs: 100, maxMs: 5000 });
    expect(x.responses.map((r) => r.status)).toEqual(Array(8).fill(200));
  });
});

describe('revocation listener: fuzz', () => {
  it('ok/random, truncated and mutated requests: a 4xx/OCSP error or a close, never a hang or a crash; good answers after', async () => {
    const rng = xorshift(0x5eed0cf5);
    const valid = [post(reqDer), get('/crl'), get('/ca/chain.pem'), get(`/ocsp/${encodeURIComponent(reqDer.toString('base64'))}`), post(reqDer, 'Connection: close\r\n')];
    const statuses = new Map<number, number>();
    const runOne = async (i: number): Promise<void> => {
      const base = rng.pick(valid);
      const r = rng.int(4);
      const payload =
        r === 0 ? rng.bytes(1 + rng.int(300)) : r === 1 ? base.subarray(0, rng.int(base.length)) : r === 2 ? mutate(rng, mutate(rng, base)) : Buffer.concat([base, rng.bytes(1 + rng.int(64))]);
      const x = await exchange([payload], { want: 1, maxMs: 800 });
      for (const resp of x.responses) {
        statuses.set(resp.status, (statuses.get(resp.status) ?? 0) + 1);
        // 4xx, or 505 for a mutated version number: never a 500.
        expect(resp.status < 500 || resp.status === 505, `case ${i}: ${resp.status} for ${JSON.stringify(payload.toString('latin1'))}`).toBe(true);
        if (resp.headers['content-type'] === 'application/ocsp-response') expect(['successful', 'malformedRequest']).toContain(ocspStatusOf(resp));
      }
      // Silence is allowed only for an incomplete request, which the client gave up on.
      if (x.responses.length === 0 && !x.closed) expect(r === 1 || r === 2, `case ${i} hung: ${JSON.stringify(payload.toString('latin1'))}`).toBe(true);
    };
    const N = 400;
    for (let i = 0; i < N; i += 20) await Promise.all(Array.from({ length: 20 }, (_, k) => runOne(i + k)));
    expect(statuses.get(400) ?? 0).toBeGreaterThan(0);
    expect(statuses.get(200) ?? 0).toBeGreaterThan(0);
    const after = await ocspAt(rev, dev.certPath);
    expect(after.status, after.stdout + after.stderr).toBe('good');
    expect(after.verifyOk).toBe(true);
  }, 120_000);
});

/** Listeners on stub endpoints: a CRL far larger than the socket buffers, answers that never come. */
describe('revocation listener: large answers and stuck answers', () => {
  const BIG = 24 * 1024 * 1024;
  let big: Buffer;
  let bigL: RevocationListener;
  let bigPort: number;
  let never: RevocationListener;
  let neverPort: number;
  let nullL: RevocationListener;
  let nullPort: number;
  /** the stuck CRL promises handed out so far, to settle them late */
  const stuck: ((b: Buffer) => void)[] = [];
  beforeAll(async () => {
    big = Buffer.alloc(BIG);
    for (let i = 0; i < BIG; i += 4096) big.writeUInt32BE(i, i);
    const ep = (): RevocationEndpoints => ({ ocsp: t.srv.ca.ocsp, crl: { current: async () => big } as unknown as RevocationEndpoints['crl'], ca: t.srv.ca.ca });
    // linger and idle far shorter than the transfer of 24 MiB to a client reading at ~20 MiB/s
    bigL = createRevocationListener({ endpoints: ep, nextUpdateSeconds: 300, logger: silentLogger(), requestTimeoutMs: 300, idleTimeoutMs: 400, lingerMs: 150 });
    bigPort = (await bigL.listen('127.0.0.1', 0)).port;
    const stuckEp = (): RevocationEndpoints => ({
      ocsp: { cached: () => undefined, respond: () => new Promise<Buffer>(() => {}) } as unknown as RevocationEndpoints['ocsp'],
      crl: { current: () => new Promise<Buffer>((r) => stuck.push(r)) } as unknown as RevocationEndpoints['crl'],
      ca: t.srv.ca.ca,
    });
    never = createRevocationListener({ endpoints: stuckEp, nextUpdateSeconds: 300, logger: silentLogger(), requestTimeoutMs: 300, idleTimeoutMs: 400, lingerMs: 150 });
    neverPort = (await never.listen('127.0.0.1', 0)).port;
    nullL = createRevocationListener({ endpoints: () => null, nextUpdateSeconds: 300, logger: silentLogger() });
    nullPort = (await nullL.listen('127.0.0.1', 0)).port;
  });
  afterAll(async () => {
    await bigL?.close();
    await never?.close();
    await nullL?.close();
  });

  /**
   * Sends `request` and reads at most `perTick` bytes every `tickMs` (never stopping longer
   * than a tick); with `stallMs` it reads nothing at all for that long first.
   */
  function slowRead(request: Buffer, o: { perTick: number; tickMs: number; stallMs?: number; maxMs: number }): Promise<{ data: Buffer; closed: boolean; ms: number }> {
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let window = 0;
      let ticker: NodeJS.Timeout | undefined;
      const start = Date.now();
      const s = connect({ host: '127.0.0.1', port: bigPort }, () => {
        s.pause();
        s.write(request);
        setTimeout(() => {
          s.resume();
          ticker = setInterval(() => {
            window = 0;
            s.resume();
          }, o.tickMs);
        }, o.stallMs ?? 0);
      });
      s.on('data', (c: Buffer) => {
        chunks.push(c);
        window += c.length;
        if (window >= o.perTick) s.pause();
      });
      const finish = (closed: boolean): void => {
        clearInterval(ticker);
        clearTimeout(giveUp);
        s.destroy();
        resolve({ data: Buffer.concat(chunks), closed, ms: Date.now() - start });
      };
      const giveUp = setTimeout(() => finish(false), o.maxMs);
      s.on('close', () => finish(true));
      s.on('error', () => {});
    });
  }
  const bodyOf = (data: Buffer): Buffer => data.subarray(data.indexOf('\r\n\r\n') + 4);

  it('ok/a client reading a 24 MiB CRL slowly gets all of it, keep-alive and Connection: close, though it takes longer than the linger and idle timeouts', async () => {
    for (const extra of ['', 'Connection: close\r\n']) {
      const before = bigL.stats.timeouts;
      const r = await slowRead(get('/crl', extra), { perTick: 1 << 20, tickMs: 50, maxMs: 15_000 });
      const body = bodyOf(r.data);
      expect(body.length, `${extra || 'keep-alive'}: ${r.data.length} bytes in ${r.ms} ms`).toBe(BIG);
      expect(body.equals(big)).toBe(true);
      expect(r.ms, 'the transfer did not outlast the timeouts: the test tests nothing').toBeGreaterThan(600);
      expect(bigL.stats.timeouts).toBe(before);
      // Connection: close ends with the server's FIN once the client has it all.
      if (extra) expect(r.closed).toBe(true);
    }
  }, 40_000);

  it('fail/a client that stops reading a large answer is dropped once nothing moved for the idle timeout, keep-alive and Connection: close', async () => {
    for (const extra of ['', 'Connection: close\r\n']) {
      const before = bigL.stats.timeouts;
      const start = Date.now();
      // Read nothing for 3 s, then read what the kernel still holds: the server gave up.
      const r = await slowRead(get('/crl', extra), { perTick: 64 << 20, tickMs: 20, stallMs: 3000, maxMs: 10_000 });
      expect(bigL.stats.timeouts, extra || 'keep-alive').toBe(before + 1);
      expect(r.closed).toBe(true);
      expect(bodyOf(r.data).length).toBeLessThan(BIG);
      expect(Date.now() - start).toBeLessThan(8000);
    }
  }, 30_000);

  it('fail/HEAD answers without a body for 404, 405 and 503 too (RFC 9110 §9.3.2): pipelined answers stay in step', async () => {
    const headReq = (path: string): Buffer => Buffer.from(`HEAD ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    const x = await exchange([Buffer.concat([headReq('/nope'), headReq('/ocsp'), get('/ca/root.crt')])], { to: bigPort, want: 3, heads: [true, true, false] });
    expect(x.responses.map((r) => r.status)).toEqual([404, 405, 200]);
    // Content-Length states what GET would have got, as for the 200 HEAD answers.
    expect(Number(x.responses[0]?.headers['content-length'])).toBeGreaterThan(0);
    expect(x.responses[1]?.headers.allow).toBe('GET, POST');
    expect(x.responses[2]?.body.equals(t.srv.ca.ca.root.der)).toBe(true);
    // Nothing but the three messages: no stray body anywhere.
    const heads = x.raw.toString('latin1').split('\r\n\r\n');
    expect(heads.slice(0, 3).every((h) => h.startsWith('HTTP/1.1 '))).toBe(true);
    expect(x.raw.length).toBe(heads[0]!.length + heads[1]!.length + heads[2]!.length + 12 + t.srv.ca.ca.root.der.length);
    // The CA not unlocked: 503 to HEAD /crl and HEAD /ca/chain.pem without a body, then a GET.
    const y = await exchange([Buffer.concat([headReq('/crl'), headReq('/ca/chain.pem'), get('/healthz')])], { to: nullPort, want: 3, heads: [true, true, false] });
    expect(y.responses.map((r) => r.status)).toEqual([503, 503, 200]);
    expect(JSON.parse(y.responses[2]?.body.toString() ?? '')).toEqual({ status: 'ok', ca: 'unavailable' });
  });

  it('fail/an OCSP or CRL answer that never comes gets tryLater or 503 and a close after the request timeout; a late answer is dropped', async () => {
    const before = never.stats.timeouts;
    const ocsp = await exchange([post(reqDer)], { to: neverPort, waitClose: true, maxMs: 3000 });
    expect(ocsp.responses.map((r) => r.status)).toEqual([200]);
    expect(ocsp.responses[0]?.headers.connection).toBe('close');
    expect(ocspStatusOf(ocsp.responses[0] as Parsed)).toBe('tryLater');
    expect(ocsp.closed).toBe(true);
    expect(ocsp.ms).toBeLessThan(1500);
    // Pipelined behind a good answer; the HEAD's 503 has no body.
    const crl = await exchange([Buffer.concat([get('/ca/root.crt'), Buffer.from('HEAD /crl HTTP/1.1\r\nHost: x\r\n\r\n')])], { to: neverPort, waitClose: true, maxMs: 3000, heads: [false, true] });
    expect(crl.responses.map((r) => r.status)).toEqual([200, 503]);
    expect(crl.responses[1]?.headers['retry-after']).toBe('5');
    expect(crl.raw.toString('latin1').endsWith('\r\n\r\n')).toBe(true);
    expect(crl.closed).toBe(true);
    expect(crl.ms).toBeLessThan(1500);
    const get503 = await exchange([get('/crl')], { to: neverPort, waitClose: true, maxMs: 3000 });
    expect(get503.responses.map((r) => r.status)).toEqual([503]);
    expect(get503.responses[0]?.body.toString()).toMatch(/CRL not ready within 300 ms/);
    expect(never.stats.timeouts).toBe(before + 3);
    // The stuck promises settle now, long after: nothing is sent, nothing breaks.
    for (const r of stuck) r(Buffer.from('late'));
    await new Promise((r) => setTimeout(r, 50));
    expect(never.stats.internalErrors).toBe(0);
    const after = await exchange([get('/ca/root.crt')], { to: neverPort, want: 1 });
    expect(after.responses[0]?.body.equals(t.srv.ca.ca.root.der)).toBe(true);
  });
});
