import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Logger } from '../core/logger.js';
import { decodeOcspGetPath, ocspErrorResponse, OCSP_CONTENT_TYPES, toPem } from '../pki/index.js';
import { buildResponse, CONTINUE_100, errorResponse, parseRequestHead, type ConnMode, type RequestHead } from './http1.js';
import { append, Conn, MAX_BUFFERED, P_CRL, P_NONE, P_OCSP, progressOf } from './revocation-conn.js';
import { ocspCacheControl, type RevocationEndpoints } from './revocation-http.js';

/**
 * The dedicated revocation listener: OCSP (RFC 6960 Appendix A, RFC 5019 §5), CRL and CA
 * certificates on plain `node:net`, below node:http. Security gateways check every IKE
 * authentication here, many of them one connection per request (`openssl ocsp` and others
 * close after each answer), so the cost per connection is what counts: a cached answer is
 * one pre-built buffer (status line, headers and body, built once per signed response and
 * per second for the Date header) sent with one write, then the socket is closed at once
 * when the client asked to close. It also lets operators expose OCSP/CRL to gateways
 * without exposing the management API.
 *
 * Limits: heads of at most 8 KiB, bodies of at most 8 KiB (http1.ts); a request must arrive
 * in full within `requestTimeoutMs` of its first byte (slowloris), and its answer must be
 * ready within `requestTimeoutMs` of the request (else OCSP tryLater / 503, then close);
 * idle keep-alive connections close after `idleTimeoutMs`. While an answer is still queued
 * for a client that reads slowly, the connection only times out when not one byte of it
 * left for `idleTimeoutMs` (a slow reader gets all of a large CRL, a stalled one is
 * dropped). After a close answer has been handed to the kernel in full, the listener waits
 * at most `lingerMs` for the client's FIN (RFC 9112 §9.6).
 * Keep-alive and pipelining follow RFC 9112 §9.3: answers leave in request order.
 */
export interface RevocationListenerOptions {
  /** the unlocked CA's endpoints; null until the CA is open (answers tryLater / 503) */
  endpoints: () => RevocationEndpoints | null;
  nextUpdateSeconds: number;
  logger: Logger;
  requestTimeoutMs?: number;
  idleTimeoutMs?: number;
  lingerMs?: number;
  maxConnections?: number;
}

export interface RevocationListener {
  listen(host: string, port: number): Promise<AddressInfo>;
  close(): Promise<void>;
  /** counters; `blocked`: times a client stopped reading and the listener stopped parsing for it */
  readonly stats: { connections: number; requests: number; clientErrors: number; timeouts: number; internalErrors: number; blocked: number };
}


const CONN = Symbol('revocation connection');
type ConnSocket = Socket & { [CONN]?: Conn };
const ignore = (): void => {};

type Kind = 0 | 1 | 2 | 3 | 4 | 5;
const K_OCSP_POST = 0;
const K_OCSP_GET = 1;
const K_CRL = 2;
const K_CRL_PEM = 3;
const K_CERT = 4;
const K_PEM = 5;
const MODES: Readonly<Record<ConnMode, number>> = { keep: 0, close: 1, keep10: 2 };

export function createRevocationListener(o: RevocationListenerOptions): RevocationListener {
  const log = o.logger.child({ listener: 'revocation' });
  const requestTimeoutMs = o.requestTimeoutMs ?? 10_000;
  const idleTimeoutMs = o.idleTimeoutMs ?? 65_000;
  const lingerMs = o.lingerMs ?? 2_000;
  const stats = { connections: 0, requests: 0, clientErrors: 0, timeouts: 0, internalErrors: 0, blocked: 0 };
  const conns = new Set<Conn>();
  const headersOf: readonly (readonly (readonly [string, string])[])[] = [
    // OCSP answers HTTP caches must not keep (POST, errors, nonce echoes: RFC 5019 §6), then those they may
    [['Content-Type', OCSP_CONTENT_TYPES.response], ['Cache-Control', 'no-store']],
    [['Content-Type', OCSP_CONTENT_TYPES.response], ['Cache-Control', ocspCacheControl(o.nextUpdateSeconds)]],
    [['Content-Type', 'application/pkix-crl']],
    [['Content-Type', 'application/x-pem-file']],
    [['Content-Type', 'application/pkix-cert']],
    [['Content-Type', 'application/x-pem-file']],
  ];

  /**
   * Whole response messages, keyed by the identity of the body they carry: a signed OCSP
   * response, a CRL, a certificate. A re-signed or rebuilt body is a new object, so its
   * old messages go with the old body (invalidated with the cache entry, never stale);
   * the Date header makes a message good for the current second only.
   */
  const memo = new WeakMap<Buffer, { sec: number; wires: (Buffer | undefined)[] }>();
  function message(kind: Kind, body: Buffer, mode: ConnMode, headOnly: boolean, now: number): Buffer {
    const sec = Math.floor(now / 1000);
    let m = memo.get(body);
    if (m === undefined || m.sec !== sec) memo.set(body, (m = { sec, wires: [] }));
    const k = kind * 6 + MODES[mode] * 2 + (headOnly ? 1 : 0);
    let w = m.wires[k];
    if (w === undefined) {
      const payload = kind === K_CRL_PEM ? Buffer.from(toPem('X509 CRL', body)) : body;
      w = m.wires[k] = buildResponse(200, headersOf[kind] as (readonly [string, string])[], payload, mode, now, headOnly);
    }
    return w;
  }

  function modeOf(h: RequestHead): ConnMode {
    return h.close ? 'close' : h.keepAlive10 ? 'keep10' : 'keep';
  }

  /** Writes one answer; may leave the connection closing, or blocked until 'drain'. */
  function send(c: Conn, wire: Buffer, mode: ConnMode, serverClose = false): void {
    if (c.s.destroyed) return;
    if (mode === 'close') {
      c.closing = true;
      if (!serverClose && c.buf === null) {
        // The client asked to close and MUST NOT send more (RFC 9112 §9.6), and all it sent
        // has been read: nothing can arrive to reset the answer away, so once the kernel
        // holds all of it, close at once (the FIN follows the data). This skips a shutdown
        // and a wait for the client's FIN: a quarter of the CPU of a one-request connection.
        c.s.write(wire);
        if (c.s.writableLength === 0) return void c.s.destroy();
        c.s.end();
        return armClose(c);
      }
      // Server-initiated close, or bytes already sent after the request: close in stages
      // (half-close, keep reading and dropping, wait up to lingerMs for the client's FIN).
      c.buf = null;
      c.s.end(wire);
      return armClose(c);
    }
    if (!c.s.write(wire)) {
      // The client is not reading its answers: stop parsing until it does.
      c.blocked = true;
      stats.blocked++;
      c.deadline = Date.now() + idleTimeoutMs;
      c.progress = progressOf(c.s);
      c.s.once('drain', onDrain);
    }
  }

  /**
   * The linger wait for the client's FIN starts once the kernel holds the whole answer;
   * until then the sweep gives a slow reader `idleTimeoutMs` per stretch without progress.
   */
  function armClose(c: Conn): void {
    c.lingering = c.s.writableLength === 0;
    c.deadline = Date.now() + (c.lingering ? lingerMs : idleTimeoutMs);
    if (c.lingering) return;
    c.progress = progressOf(c.s);
    c.s.once('finish', onFinish);
  }

  /** Marks `c` busy with an asynchronous answer, bounded by `requestTimeoutMs`. */
  function pend(c: Conn, kind: number, headOnly: boolean): void {
    c.waiting = true;
    c.pendingKind = kind;
    c.pendingHead = headOnly;
    c.deadline = Date.now() + requestTimeoutMs;
  }

  function fail(c: Conn, status: number, message: string, extra: readonly (readonly [string, string])[] = []): void {
    stats.clientErrors++;
    send(c, errorResponse(status, message, 'close', Date.now(), extra), 'close', true);
  }

  /** Answers one complete request. May leave the connection busy (async answer) or closing. */
  function answer(c: Conn, h: RequestHead, body: Buffer): void {
    stats.requests++;
    const now = Date.now();
    const mode = modeOf(h);
    const t = h.target;
    const m = h.method;
    // RFC 9110 §9.3.2: the answer to HEAD, error or not, is the GET answer's head alone.
    const headOnly = m === 'HEAD';
    if (t === '/ocsp' || t.startsWith('/ocsp/')) {
      const isPost = m === 'POST' && (t === '/ocsp' || t === '/ocsp/');
      const isGet = m === 'GET' && t.startsWith('/ocsp/');
      if (!isPost && !isGet) return reply(c, 405, 'OCSP: use POST /ocsp or GET /ocsp/{base64 request}', mode, headOnly, [['Allow', 'GET, POST']]);
      const ep = o.endpoints();
      // Only a GET's successful answer without a nonce (the responder's pre-signed one) is cacheable.
      const kindOf = (out: Buffer): Kind => (isGet && ep?.ocsp.cacheable(out) ? K_OCSP_GET : K_OCSP_POST);
      if (!ep) return send(c, buildResponse(200, headersOf[K_OCSP_POST] as (readonly [string, string])[], ocspErrorResponse('tryLater'), mode, now), mode);
      let der = body;
      if (isGet) {
        try {
          der = decodeOcspGetPath(t.slice('/ocsp/'.length));
        } catch {
          return send(c, buildResponse(200, headersOf[K_OCSP_POST] as (readonly [string, string])[], ocspErrorResponse('malformedRequest'), mode, now), mode);
        }
      }
      // A repeat of a request already answered from the cache: no parsing, no promise.
      const hit = ep.ocsp.cached(der);
      if (hit) return send(c, message(kindOf(hit), hit, mode, false, now), mode);
      pend(c, P_OCSP, false);
      ep.ocsp.respond(Buffer.from(der)).then(
        (out) => resume(c, message(kindOf(out), out, mode, false, Date.now()), mode),
        () => resume(c, buildResponse(200, headersOf[K_OCSP_POST] as (readonly [string, string])[], ocspErrorResponse('internalError'), mode, Date.now()), mode),
      );
      return;
    }
    const q = t.indexOf('?');
    const path = q < 0 ? t : t.slice(0, q);
    if (path === '/crl' || path === '/crl.pem') {
      if (m !== 'GET' && !headOnly) return reply(c, 405, 'method not allowed', mode, false, [['Allow', 'GET, HEAD']]);
      const ep = o.endpoints();
      if (!ep) return reply(c, 503, 'CA not available', mode, headOnly);
      const pem = path === '/crl.pem' || /[?&]format=pem\b/.test(t);
      pend(c, P_CRL, headOnly);
      ep.crl.current().then(
        (der) => resume(c, message(pem ? K_CRL_PEM : K_CRL, der, mode, headOnly, Date.now()), mode),
        () => resume(c, errorResponse(503, 'CRL temporarily unavailable', mode, Date.now(), [], headOnly), mode),
      );
      return;
    }
    if (path === '/ca/issuing.crt' || path === '/ca/root.crt' || path === '/ca/chain.pem') {
      if (m !== 'GET' && !headOnly) return reply(c, 405, 'method not allowed', mode, false, [['Allow', 'GET, HEAD']]);
      const ep = o.endpoints();
      if (!ep) return reply(c, 503, 'CA not available', mode, headOnly);
      if (path === '/ca/chain.pem') return send(c, message(K_PEM, chainBuffer(ep), mode, headOnly, now), mode);
      return send(c, message(K_CERT, path === '/ca/root.crt' ? ep.ca.root.der : ep.ca.issuing.der, mode, headOnly, now), mode);
    }
    if (path === '/healthz' && (m === 'GET' || headOnly)) {
      const ok = Buffer.from(JSON.stringify({ status: 'ok', ca: o.endpoints() ? 'unlocked' : 'unavailable' }));
      return send(c, buildResponse(200, [['Content-Type', 'application/json']], ok, mode, now, headOnly), mode);
    }
    return reply(c, 404, `no revocation endpoint at ${path.slice(0, 200)}`, mode, headOnly);
  }

  const chains = new WeakMap<object, Buffer>();
  function chainBuffer(ep: RevocationEndpoints): Buffer {
    let b = chains.get(ep.ca);
    if (!b) chains.set(ep.ca, (b = Buffer.from(ep.ca.chainPem)));
    return b;
  }

  /** A 4xx/5xx answer to a well-framed request: the connection may stay open. */
  function reply(c: Conn, status: number, text: string, mode: ConnMode, headOnly: boolean, extra: readonly (readonly [string, string])[] = []): void {
    stats.clientErrors++;
    send(c, errorResponse(status, text, mode, Date.now(), extra, headOnly), mode);
  }

  /** An asynchronous answer is ready: send it, then go on with pipelined requests. */
  function resume(c: Conn, wire: Buffer, mode: ConnMode): void {
    // Too late: the sweep already answered for it (see `late`) and closed.
    if (!c.waiting) return;
    c.waiting = false;
    c.pendingKind = P_NONE;
    if (c.s.destroyed) return;
    c.deadline = Date.now() + (c.buf === null ? idleTimeoutMs : requestTimeoutMs);
    send(c, wire, mode);
    if (!c.blocked && c.s.isPaused()) c.s.resume();
    drive(c);
  }

  /** Parses and answers every complete request buffered on `c`, in order (pipelining). */
  function drive(c: Conn): void {
    let corked = false;
    try {
      while (c.buf !== null && !c.waiting && !c.blocked && !c.closing) {
        const buf = c.buf;
        let h = c.head;
        if (h === null) {
          const r = parseRequestHead(buf, 0, c.scanned);
          if (r.kind === 'incomplete') {
            c.scanned = r.scanned;
            break;
          }
          if (r.kind === 'error') {
            fail(c, r.error.status, r.error.message);
            break;
          }
          h = r.head;
        }
        const total = h.headEnd + h.contentLength;
        if (buf.length < total) {
          // RFC 9110 §10.1.1: a client waiting for 100 before sending the body.
          if (h.expectContinue && !c.continued) {
            c.continued = true;
            c.s.write(CONTINUE_100);
          }
          c.head = h;
          break;
        }
        const body = buf.subarray(h.headEnd, total);
        c.buf = total === buf.length ? null : buf.subarray(total);
        c.head = null;
        c.scanned = 0;
        c.continued = false;
        if (c.buf !== null && !corked) {
          // Pipelined requests: their answers leave in one send.
          c.s.cork();
          corked = true;
        }
        // Nagle never holds the first answer of a connection (nothing is unacknowledged
        // yet), so TCP_NODELAY, a syscall, is only set once a connection is reused.
        if (c.served++ === 1) c.s.setNoDelay(true);
        answer(c, h, body);
        if (!c.waiting && !c.blocked && !c.closing) c.deadline = Date.now() + (c.buf === null ? idleTimeoutMs : requestTimeoutMs);
      }
    } catch (e) {
      // Never let one request take the listener down.
      stats.internalErrors++;
      log.error({ err: String(e) }, 'revocation listener: unexpected error');
      if (!c.closing) send(c, errorResponse(500, 'internal error', 'close', Date.now()), 'close', true);
      else c.s.destroy();
    } finally {
      if (corked) c.s.uncork();
    }
    // The client half-closed: everything complete is answered, an incomplete rest never will be.
    if (c.peerEnded && !c.waiting && !c.blocked && !c.closing) {
      c.closing = true;
      c.buf = null;
      c.s.end();
      armClose(c);
    }
  }

  // allowHalfOpen: a client that half-closes after its request still gets an answer that needs a moment (cache miss, CRL).
  // Shared handlers, not closures per connection: a connection per request is the common
  // case here (gateways that close after each answer), so what it allocates is what it costs.
  function onData(this: Socket, chunk: Buffer): void {
    const c = (this as ConnSocket)[CONN];
    if (c === undefined || c.closing) return;
    if (c.buf === null) {
      c.buf = chunk;
      if (!c.waiting && !c.blocked) c.deadline = Date.now() + requestTimeoutMs;
    } else {
      append(c, chunk);
    }
    if (c.waiting || c.blocked) {
      // An answer is pending: hold at most one more request's worth, then stop reading.
      if (c.buf.length > MAX_BUFFERED) this.pause();
      return;
    }
    drive(c);
  }
  function onDrain(this: Socket): void {
    const c = (this as ConnSocket)[CONN];
    if (c === undefined || !c.blocked || c.closing) return;
    c.blocked = false;
    if (c.waiting) return;
    c.deadline = Date.now() + (c.buf === null ? idleTimeoutMs : requestTimeoutMs);
    if (this.isPaused()) this.resume();
    drive(c);
  }
  /** A close answer left in full (all of it with the kernel): the linger wait starts now. */
  function onFinish(this: Socket): void {
    const c = (this as ConnSocket)[CONN];
    if (c === undefined || c.lingering) return;
    c.lingering = true;
    c.deadline = Date.now() + lingerMs;
  }
  function onEnd(this: Socket): void {
    const c = (this as ConnSocket)[CONN];
    if (c === undefined) return;
    c.peerEnded = true;
    // After our close answer the client's FIN completes the staged close (RFC 9112 §9.6):
    // the socket destroys itself once our side has finished sending too.
    if (c.closing) return;
    if (!c.waiting && !c.blocked) drive(c);
  }
  function onClose(this: Socket): void {
    const c = (this as ConnSocket)[CONN];
    if (c !== undefined) conns.delete(c);
  }

  // allowHalfOpen: a client that half-closes after its request still gets an answer that needs a moment (cache miss, CRL).
  const server: Server = createServer({ allowHalfOpen: true }, (s) => {
    const c = new Conn(s, Date.now() + requestTimeoutMs);
    (s as ConnSocket)[CONN] = c;
    stats.connections++;
    conns.add(c);
    s.on('data', onData);
    s.on('end', onEnd);
    s.on('error', ignore);
    s.on('close', onClose);
  });
  server.maxConnections = o.maxConnections ?? 10_000;
  server.on('error', (e) => log.warn({ err: String(e) }, 'revocation listener error'));

  /**
   * An asynchronous answer did not come within requestTimeoutMs (a stuck signer or store):
   * answer what a client can act on and close, so the connection is not held forever. OCSP
   * gets tryLater (RFC 6960 §2.3), the CRL 503 (RFC 9110 §15.6.4). The late answer, if it
   * ever comes, is dropped by `resume`.
   */
  function late(c: Conn): void {
    stats.timeouts++;
    log.warn({ kind: c.pendingKind === P_OCSP ? 'ocsp' : 'crl', ms: requestTimeoutMs }, 'revocation listener: answer not ready in time');
    const wire =
      c.pendingKind === P_OCSP
        ? buildResponse(200, headersOf[K_OCSP_POST] as (readonly [string, string])[], ocspErrorResponse('tryLater'), 'close', Date.now())
        : errorResponse(503, `CRL not ready within ${requestTimeoutMs} ms`, 'close', Date.now(), [['Retry-After', '5']], c.pendingHead);
    c.waiting = false;
    c.pendingKind = P_NONE;
    send(c, wire, 'close', true);
    // Read and drop what the client still sends (RFC 9112 §9.6) so its FIN can be seen.
    if (c.s.isPaused()) c.s.resume();
  }

  // One timer for all connections: cheaper than a timer per socket, 1/4 of the shortest timeout late at most.
  const tick = Math.max(10, Math.min(1000, Math.floor(Math.min(requestTimeoutMs, lingerMs) / 4)));
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const c of conns) {
      if (c.deadline > now) continue;
      const s = c.s;
      if (!s.destroyed && s.writableLength > 0) {
        // Answers still queued: a client that read anything since the last check gets
        // another idleTimeoutMs, however long the whole transfer takes; one that read
        // nothing for that long has stopped reading and is dropped.
        const p = progressOf(s);
        if (p !== c.progress) {
          c.progress = p;
          c.deadline = now + idleTimeoutMs;
        } else {
          stats.timeouts++;
          s.destroy();
        }
      } else if (c.closing && !c.lingering && !s.destroyed) {
        // The whole close answer is with the kernel now: wait for the client's FIN.
        c.lingering = true;
        c.deadline = now + lingerMs;
      } else if (c.waiting) {
        late(c);
      } else if (c.closing || s.destroyed || c.buf === null || c.blocked) {
        s.destroy();
      } else {
        // Part of a request arrived, the rest did not in time (RFC 9110 §15.5.9).
        stats.timeouts++;
        fail(c, 408, `request not received within ${requestTimeoutMs} ms`);
      }
    }
  }, tick);
  sweep.unref();

  return {
    stats,
    listen: (host, port) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host, port }, () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(sweep);
        for (const c of conns) c.s.destroy();
        if (!server.listening) return resolve();
        server.close(() => resolve());
      }),
  };
}
