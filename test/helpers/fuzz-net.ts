/**
 * Tools for the endpoint fuzz test: a seeded PRNG (so a failure replays exactly), byte
 * mutators, an HTTP(S) client that always reports what came back, raw TCP/TLS exchanges for
 * what a well-behaved client library will not send, and a checker for OCSP response bytes.
 */
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { connect as netConnect, createServer as netCreateServer, type AddressInfo, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { TAG, children, content, expectTag, parseRoot, readNode, readOid } from '../../src/pki/der.js';
import { OID } from '../../src/pki/oids.js';
import { ocspErrorResponse } from '../../src/pki/ocsp.js';

/** xorshift32: tiny, deterministic, good enough to pick bytes and lengths. */
export function xorshift(seed: number): { next(): number; int(n: number): number; bytes(n: number): Buffer; pick<T>(xs: readonly T[]): T } {
  let s = seed >>> 0 || 0x9e3779b9;
  const next = (): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
  const int = (n: number): number => next() % n;
  return {
    next,
    int,
    bytes: (n: number): Buffer => {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = next() & 0xff;
      return b;
    },
    pick: <T>(xs: readonly T[]): T => xs[int(xs.length)] as T,
  };
}
export type Prng = ReturnType<typeof xorshift>;

/** One byte of `b` replaced (never by the same value), or one bit flipped, at a random offset. */
export function mutate(rng: Prng, b: Buffer): Buffer {
  const out = Buffer.from(b);
  const i = rng.int(out.length);
  const old = out[i] as number;
  out[i] = rng.int(2) === 0 ? old ^ (1 << rng.int(8)) : (old + 1 + rng.int(255)) & 0xff;
  return out;
}

export interface HttpOutcome {
  status: number | null;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** transport error, when no response arrived */
  error?: string;
}

export interface FuzzClient {
  http(method: string, path: string, headers?: OutgoingHttpHeaders, body?: Buffer | Buffer[]): Promise<HttpOutcome>;
  https(method: string, path: string, headers?: OutgoingHttpHeaders, body?: Buffer | Buffer[]): Promise<HttpOutcome>;
  close(): void;
}

/**
 * Keep-alive clients for both listeners. A `Buffer[]` body is written chunk by chunk without
 * a Content-Length (chunked transfer encoding). Never rejects: a missing response is data.
 */
export function fuzzClient(httpBase: string, httpsBase: string, caPem: string, timeoutMs = 5000): FuzzClient {
  const h = new URL(httpBase);
  const s = new URL(httpsBase);
  const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 16 });
  const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 16, ca: caPem });
  // What each keep-alive socket carried before: when a reused socket fails, the request
  // before it on that socket is the likely culprit, so failures name it.
  const history = new WeakMap<Socket, string[]>();
  const go = (tls: boolean, method: string, path: string, headers: OutgoingHttpHeaders = {}, body?: Buffer | Buffer[]): Promise<HttpOutcome> =>
    new Promise((resolve) => {
      const u = tls ? s : h;
      const hdrs: OutgoingHttpHeaders = { ...headers };
      if (Buffer.isBuffer(body) && hdrs['content-length'] === undefined) hdrs['content-length'] = body.length;
      const opts = { host: u.hostname, port: Number(u.port), method, path, headers: hdrs, timeout: timeoutMs };
      let done = false;
      const finish = (o: HttpOutcome): void => {
        if (!done) {
          done = true;
          resolve(o);
        }
      };
      const req = tls ? httpsRequest({ ...opts, agent: httpsAgent }) : httpRequest({ ...opts, agent: httpAgent });
      const what = `${method} ${path.slice(0, 60)} body ${Array.isArray(body) ? 'chunked' : (body?.length ?? 0)} bytes`;
      let sockHistory: string[] = [];
      req.on('socket', (sock) => {
        sockHistory = history.get(sock) ?? [];
        history.set(sock, sockHistory);
        sockHistory.push(what);
      });
      req.on('response', (res) => {
        sockHistory.push(`  -> ${res.statusCode ?? '?'} connection: ${res.headers.connection ?? '-'}`);
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => finish({ status: res.statusCode ?? null, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', (e) => finish({ status: res.statusCode ?? null, headers: res.headers, body: Buffer.concat(chunks), error: e.message }));
      });
      req.on('timeout', () => req.destroy(new Error(`no response within ${timeoutMs} ms`)));
      // reusedSocket tells a keep-alive race (server closed an idle socket) from a dropped request.
      req.on('error', (e) =>
        finish({ status: null, headers: {}, body: Buffer.alloc(0), error: `${e.message}; ${what}${req.reusedSocket ? `; on a reused keep-alive socket that carried: ${sockHistory.slice(-5, -1).join(' | ')}` : ''}` }),
      );
      if (Array.isArray(body)) {
        for (const c of body) req.write(c);
        req.end();
      } else {
        req.end(body);
      }
    });
  return {
    http: (m, p, hd, b) => go(false, m, p, hd, b),
    https: (m, p, hd, b) => go(true, m, p, hd, b),
    close: () => {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

export interface RawOutcome {
  /** every HTTP status line the server sent, in order */
  statuses: number[];
  bytes: number;
  /** the server closed (or reset) the connection before our deadline */
  closed: boolean;
  /** a status line arrived before we half-closed our side */
  answeredBeforeEnd: boolean;
  /** the server closed the connection while our side was still open */
  closedBeforeEnd: boolean;
  /** the last response carried `Connection: close` */
  closeAnnounced: boolean;
}

/**
 * Writes `payload` on a fresh TCP (or TLS) connection, waits `holdMs` with our side open
 * (a server that answers early shows it), then half-closes (or resets with `abort`) and
 * waits up to `closeMs` for the server to close.
 */
export function rawExchange(
  target: { host: string; port: number; tls?: { ca: string } },
  payload: Buffer,
  opts: { holdMs?: number; closeMs?: number; abort?: boolean } = {},
): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let ended = false;
    let answeredBeforeEnd = false;
    let settled = false;
    const statuses = (): number[] => [...Buffer.concat(chunks).toString('latin1').matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
    const sock: Socket = target.tls
      ? tlsConnect({ host: target.host, port: target.port, ca: target.tls.ca, servername: undefined })
      : netConnect({ host: target.host, port: target.port });
    const settle = (closed: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      sock.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const lastHead = text.slice(text.lastIndexOf('HTTP/1.')).split('\r\n\r\n')[0] ?? '';
      resolve({ statuses: statuses(), bytes: text.length, closed, answeredBeforeEnd, closedBeforeEnd: closed && !ended, closeAnnounced: /^connection:\s*close\s*$/im.test(lastHead) });
    };
    let deadline = setTimeout(() => settle(false), (opts.holdMs ?? 0) + (opts.closeMs ?? 3000) + 5000);
    sock.on('data', (c: Buffer) => {
      chunks.push(c);
      if (!ended && statuses().length > 0) answeredBeforeEnd = true;
    });
    sock.on('error', () => settle(true));
    sock.on('close', () => settle(true));
    sock.on(target.tls ? 'secureConnect' : 'connect', () => {
      sock.write(payload);
      setTimeout(() => {
        ended = true;
        if (opts.abort) {
          sock.resetAndDestroy();
          settle(true);
          return;
        }
        sock.end();
        clearTimeout(deadline);
        deadline = setTimeout(() => settle(false), opts.closeMs ?? 3000);
      }, opts.holdMs ?? 0);
    });
  });
}

/** The first flight a real TLS client (Node's OpenSSL) sends: a ClientHello, captured locally. */
export function captureClientHello(): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const srv = netCreateServer((s) => {
      s.once('data', (c: Buffer) => {
        resolve(c);
        s.destroy();
        srv.close();
      });
    });
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as AddressInfo).port;
      const c = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'femtoguard.test' });
      c.on('error', () => undefined);
      setTimeout(() => reject(new Error('no ClientHello captured')), 5000).unref();
    });
  });
}

const SIG_HASH: Readonly<Record<string, string>> = {
  [OID.ecdsaWithSHA256]: 'sha256',
  [OID.ecdsaWithSHA384]: 'sha384',
  [OID.ecdsaWithSHA512]: 'sha512',
  [OID.sha256WithRSAEncryption]: 'sha256',
  [OID.sha384WithRSAEncryption]: 'sha384',
  [OID.sha512WithRSAEncryption]: 'sha512',
};
const OCSP_STATUS_NAMES = ['successful', 'malformedRequest', 'internalError', 'tryLater', '(4 unused)', 'sigRequired', 'unauthorized'];

/**
 * Classifies OCSP response bytes: `malformedRequest` when they are exactly femtoguard's
 * constant error response, otherwise the RFC 6960 §4.2.1 responseStatus name. A
 * `successful` response must carry a BasicOCSPResponse whose signature verifies with the
 * responder's key. Throws on anything that is not a well-formed OCSPResponse.
 */
export function classifyOcspResponse(body: Buffer, responderSpki: Buffer): string {
  if (body.equals(ocspErrorResponse('malformedRequest'))) return 'malformedRequest';
  const root = parseRoot(body);
  const top = children(body, expectTag(root, TAG.SEQUENCE, 'OCSPResponse'));
  const statusNode = expectTag(top[0], TAG.ENUMERATED, 'responseStatus');
  const code = content(body, statusNode)[0] ?? 255;
  const name = OCSP_STATUS_NAMES[code] ?? `status ${code}`;
  if (code !== 0) {
    if (top.length !== 1) throw new Error(`error response ${name} carries responseBytes`);
    return name;
  }
  const rb = children(body, expectTag(children(body, expectTag(top[1], 0xa0, 'responseBytes'))[0], TAG.SEQUENCE, 'ResponseBytes'));
  if (readOid(body, expectTag(rb[0], TAG.OID, 'responseType')) !== OID.ocspBasic) throw new Error('responseType is not id-pkix-ocsp-basic');
  const basicOctets = expectTag(rb[1], TAG.OCTET_STRING, 'response');
  const basic = content(body, basicOctets);
  const parts = children(basic, expectTag(readNode(basic, 0), TAG.SEQUENCE, 'BasicOCSPResponse'));
  const tbs = expectTag(parts[0], TAG.SEQUENCE, 'tbsResponseData');
  const alg = readOid(basic, expectTag(children(basic, expectTag(parts[1], TAG.SEQUENCE, 'signatureAlgorithm'))[0], TAG.OID, 'algorithm'));
  const sig = content(basic, expectTag(parts[2], TAG.BIT_STRING, 'signature')).subarray(1);
  const hash = SIG_HASH[alg];
  if (!hash) throw new Error(`unexpected signature algorithm ${alg}`);
  const key = createPublicKey({ key: responderSpki, format: 'der', type: 'spki' });
  if (!nodeVerify(hash, basic.subarray(tbs.start, tbs.end), key, sig)) throw new Error('BasicOCSPResponse signature does not verify with the responder key');
  return 'successful';
}
