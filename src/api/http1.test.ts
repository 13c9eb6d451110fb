import { describe, expect, it } from 'vitest';
import { buildResponse, dateHeader, HTTP1_LIMITS, parseRequestHead, type HeadResult } from './http1.js';

const parse = (s: string | Buffer, scanFrom?: number): HeadResult => parseRequestHead(Buffer.isBuffer(s) ? s : Buffer.from(s, 'latin1'), 0, scanFrom);
const ok = (s: string) => {
  const r = parse(s);
  if (r.kind !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(r)}`);
  return r.head;
};
const status = (s: string | Buffer): number | string => {
  const r = parse(s);
  return r.kind === 'error' ? r.error.status : r.kind;
};

describe('parseRequestHead: what OCSP and CRL clients send', () => {
  it('ok/an openssl-style POST /ocsp with Content-Length', () => {
    const h = ok('POST /ocsp HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/ocsp-request\r\nContent-Length: 83\r\n\r\n');
    expect(h).toMatchObject({ method: 'POST', target: '/ocsp', minor: 1, contentLength: 83, close: false, keepAlive10: false, expectContinue: false });
  });

  it('ok/headEnd points past the empty line; bytes after it are not read', () => {
    const s = 'GET /crl HTTP/1.1\r\nHost: x\r\n\r\nGET /x HTTP/1.1\r\n';
    expect(ok(s).headEnd).toBe(s.indexOf('\r\n\r\n') + 4);
  });

  it('ok/Connection: close (any case, in a list) and HTTP/1.0 defaults (RFC 9112 §9.3)', () => {
    expect(ok('GET /crl HTTP/1.1\r\nHost: x\r\nConnection: Keep-Alive, CLOSE\r\n\r\n').close).toBe(true);
    expect(ok('GET /crl HTTP/1.0\r\n\r\n')).toMatchObject({ close: true, keepAlive10: false, minor: 0 });
    expect(ok('GET /crl HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')).toMatchObject({ close: false, keepAlive10: true });
  });

  it('ok/absolute-form targets are reduced to their path (RFC 9112 §3.2.2)', () => {
    expect(ok('GET http://ocsp.example:8080/ocsp/MEMw HTTP/1.1\r\nHost: ocsp.example\r\n\r\n').target).toBe('/ocsp/MEMw');
    expect(ok('GET http://ocsp.example HTTP/1.1\r\nHost: ocsp.example\r\n\r\n').target).toBe('/');
  });

  it('ok/Expect: 100-continue is noted; leading empty lines are skipped (RFC 9112 §2.2)', () => {
    expect(ok('POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n').expectContinue).toBe(true);
    expect(ok('\r\n\r\nGET /crl HTTP/1.1\r\nHost: x\r\n\r\n').target).toBe('/crl');
  });

  it('ok/incomplete heads wait, and say how far they were scanned', () => {
    const part = 'POST /ocsp HTTP/1.1\r\nHost: x\r\n';
    expect(parse(part)).toEqual({ kind: 'incomplete', scanned: part.length });
    const full = Buffer.from('POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n');
    // Resuming the scan near the end still finds a terminator that straddles two reads.
    expect(parseRequestHead(full, 0, full.length - 2).kind).toBe('ok');
    expect(parse('').kind).toBe('incomplete');
    expect(parse('GE').kind).toBe('incomplete');
  });

  it('ok/identical Content-Length fields are accepted', () => {
    expect(ok('POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\ncontent-length: 7\r\n\r\n').contentLength).toBe(7);
  });
});

describe('parseRequestHead: refusals', () => {
  it('fail/malformed request lines are 400', () => {
    for (const s of ['GET\r\n\r\n', 'GET /crl\r\n\r\n', 'G@T /crl HTTP/1.1\r\nHost: x\r\n\r\n', 'GET crl HTTP/1.1\r\nHost: x\r\n\r\n', 'GET /c rl HTTP/1.1\r\nHost: x\r\n\r\n', 'GET /crl HTTP/one\r\nHost: x\r\n\r\n', ' GET /crl HTTP/1.1\r\n\r\n']) {
      expect(status(s), JSON.stringify(s)).toBe(400);
    }
  });

  it('fail/other HTTP versions are 505', () => {
    expect(status('GET /crl HTTP/2.0\r\nHost: x\r\n\r\n')).toBe(505);
    expect(status('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')).toBe(505);
  });

  it('fail/garbage is 400 at once, without waiting for more bytes', () => {
    expect(status(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]))).toBe(400);
    expect(status('\x00\x01\x02')).toBe(400);
    expect(status('get /crl')).toBe(400);
  });

  it('fail/header field syntax: space before colon, obs-fold, bare CR or LF, control characters (RFC 9112 §5)', () => {
    expect(status('GET /crl HTTP/1.1\r\nHost : x\r\n\r\n')).toBe(400);
    expect(status('GET /crl HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n')).toBe(400);
    expect(status('GET /crl HTTP/1.1\r\nHost: x\nX-A: 1\r\n\r\n')).toBe(400);
    expect(status('GET /crl HTTP/1.1\r\nHost: x\rX-A: 1\r\n\r\n')).toBe(400);
    expect(status('GET /crl HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n')).toBe(400);
    expect(status('GET /crl HTTP/1.1\r\nHost: x\r\nnocolon\r\n\r\n')).toBe(400);
  });

  it('fail/HTTP/1.1 without Host, or with two, is 400 (RFC 9112 §3.2)', () => {
    expect(status('GET /crl HTTP/1.1\r\n\r\n')).toBe(400);
    expect(status('GET /crl HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n')).toBe(400);
  });

  it('fail/body framing: no Content-Length on POST is 411, Transfer-Encoding is 411, bad or conflicting lengths are 400', () => {
    expect(status('POST /ocsp HTTP/1.1\r\nHost: x\r\n\r\n')).toBe(411);
    expect(status('POST /ocsp HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n')).toBe(411);
    expect(status('POST /ocsp HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n')).toBe(411);
    expect(status('POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n')).toBe(400);
    expect(status('POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Length: 1e3\r\n\r\n')).toBe(400);
    expect(status('POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\n')).toBe(400);
    expect(status('POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n')).toBe(400);
  });

  it('fail/oversized: body over the limit is 413, long header fields 431, a long request line 414', () => {
    expect(status(`POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Length: ${HTTP1_LIMITS.maxBodyBytes + 1}\r\n\r\n`)).toBe(413);
    expect(status(`GET /crl HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(HTTP1_LIMITS.maxHeadBytes)}\r\n\r\n`)).toBe(431);
    expect(status(`GET /crl HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(HTTP1_LIMITS.maxHeadBytes)}`)).toBe(431);
    expect(status(`GET /ocsp/${'A'.repeat(HTTP1_LIMITS.maxHeadBytes)}`)).toBe(414);
    const many = Array.from({ length: HTTP1_LIMITS.maxHeaderFields + 1 }, (_, i) => `X-${i}: 1\r\n`).join('');
    expect(status(`GET /crl HTTP/1.1\r\nHost: x\r\n${many}\r\n`)).toBe(431);
  });

  it('fail/Expect other than 100-continue is 417', () => {
    expect(status('POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nExpect: something\r\n\r\n')).toBe(417);
  });

  it('fail/random bytes never throw', () => {
    let seed = 12345;
    for (let i = 0; i < 5000; i++) {
      const n = (seed = (seed * 1103515245 + 12345) >>> 0) % 200;
      const b = Buffer.alloc(n);
      for (let j = 0; j < n; j++) b[j] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
      const prefix = i % 2 ? Buffer.from('POST /ocsp HTTP/1.1\r\nHost: x\r\n') : Buffer.alloc(0);
      expect(() => parseRequestHead(Buffer.concat([prefix, b, Buffer.from('\r\n\r\n')]), 0)).not.toThrow();
    }
  });
});

describe('buildResponse', () => {
  it('ok/one buffer: status line, headers, Content-Length, Date, Connection, then the body', () => {
    const now = Date.UTC(2026, 10, 28, 3, 4, 5);
    const b = buildResponse(200, [['Content-Type', 'application/ocsp-response']], Buffer.from('BODY'), 'close', now).toString('latin1');
    expect(b).toBe('HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\nContent-Length: 4\r\nDate: Sat, 28 Nov 2026 03:04:05 GMT\r\nConnection: close\r\n\r\nBODY');
    expect(buildResponse(200, [], Buffer.from('BODY'), 'keep10', now).toString('latin1')).toContain('Connection: keep-alive\r\n\r\nBODY');
    expect(buildResponse(200, [], Buffer.from('BODY'), 'keep', now, true).toString('latin1')).toMatch(/Content-Length: 4\r\nDate: [^\r]+\r\n\r\n$/);
    expect(dateHeader(now + 999)).toBe('Date: Sat, 28 Nov 2026 03:04:05 GMT\r\n');
    expect(dateHeader(now + 1000)).toBe('Date: Sat, 28 Nov 2026 03:04:06 GMT\r\n');
  });
});
