/**
 * The HTTP layer of a gateway (rotated pool) listener, on bare `node:https` rather than
 * Fastify: these listeners serve one route, and every request is a new mutual-TLS connection
 * from a femtocell. Fastify's routing, hooks, reply and content-type machinery cost about as
 * much CPU per check-in as the decision itself (measured with --cpu-prof under
 * `npm run bench:admission`); what they did is done here, answer for answer:
 *
 *   POST /v1/femto/checkin   the check-in (answerCheckin, shared with the main listener)
 *   GET|HEAD /healthz        {"status":"ok"}
 *   anything else            404 problem+json (RFC 9457), as femtoguard's API answers
 *   unparsable HTTP          400/408/431 problem+json and Connection: close (clientErrorHandler)
 *
 * The body limit is enforced on the declared Content-Length before reading, and on the bytes
 * read (chunked): 413 `report-too-large`, recorded, and the connection closed.
 */
import { createServer, type Server, type ServerOptions } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { clientErrorHandler, problemBody } from '../api/index.js';
import type { Logger } from '../core/logger.js';
import { answerCheckin, answerRefusal, connectionOfSocket, type CheckinAnswer } from './checkin.routes.js';
import type { Admission } from './service.js';

const CHECKIN = '/v1/femto/checkin';
const JSON_TYPE = 'application/json; charset=utf-8';
const HEALTH = Buffer.from(JSON.stringify({ status: 'ok' }));
/** Headers and body of one request, from its first byte (Node's default headersTimeout is 60 s too). */
const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

export interface GatewayServerOptions {
  /** TLS settings: the server certificate, the client-certificate request, the cipher list (src/app/tls-app.ts) */
  tls: ServerOptions;
  admission: Admission;
  maxReportBytes: number;
  logger: Logger;
}

/** The API's problem+json (src/api/problem.ts), for the few answers here. */
function problem(res: ServerResponse, status: number, code: string, detail: string, close = false): void {
  const body = problemBody(status, code, detail);
  const headers: Record<string, string | number> = { 'content-type': 'application/problem+json; charset=utf-8', 'content-length': Buffer.byteLength(body) };
  if (close) headers.connection = 'close';
  res.writeHead(status, headers).end(body);
}

function answer(res: ServerResponse, a: CheckinAnswer): void {
  if (res.destroyed) return;
  const body = JSON.stringify(a.body);
  const headers: Record<string, string | number> = a.close ? { connection: 'close' } : {};
  headers['cache-control'] = 'no-store';
  headers['content-type'] = JSON_TYPE;
  headers['content-length'] = Buffer.byteLength(body);
  res.writeHead(a.status, headers).end(body);
}

type Body = { kind: 'ok'; body: Buffer | undefined } | { kind: 'too-large' } | { kind: 'gone' };

/** Reads the request body up to `limit` bytes. */
function readBody(req: IncomingMessage, limit: number): Promise<Body> {
  const declared = req.headers['content-length'];
  // Node's parser has already refused a Content-Length that is not a number.
  if (declared !== undefined && Number(declared) > limit) return Promise.resolve({ kind: 'too-large' });
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        resolve({ kind: 'too-large' });
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.once('end', () => resolve({ kind: 'ok', body: chunks.length === 0 ? undefined : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size) }));
    req.once('error', () => resolve({ kind: 'gone' }));
    req.once('aborted', () => resolve({ kind: 'gone' }));
  });
}

/** A gateway listener's HTTPS server (not listening: listenTlsFront hands it connections). */
export function createGatewayServer(opts: GatewayServerOptions): Server & { closing: boolean } {
  const { admission, logger, maxReportBytes } = opts;

  async function checkin(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const b = await readBody(req, maxReportBytes);
    if (b.kind === 'gone') {
      req.socket.destroy();
      return;
    }
    const conn = connectionOfSocket(req.socket, false);
    if (b.kind === 'too-large') return answer(res, await answerRefusal(admission, logger, 'report-too-large', conn, `report larger than ${maxReportBytes} bytes`, 413));
    answer(res, await answerCheckin(admission, logger, b.body, conn));
  }

  const server = createServer(opts.tls, (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (server.closing) return problem(res, 503, 'unavailable', 'the listener is shutting down', true);
    if (path === CHECKIN && req.method === 'POST') {
      checkin(req, res).catch((e: unknown) => {
        // answerCheckin never throws; this is a bug, and still a deny (fail closed)
        logger.error({ err: String(e) }, 'check-in failed');
        answer(res, { status: 500, body: { decision: 'deny', reason: 'internal-error' } });
      });
      return;
    }
    req.resume();
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(200, { 'content-type': JSON_TYPE, 'content-length': HEALTH.length }).end(HEALTH);
      return;
    }
    problem(res, 404, 'not_found', `no route for ${req.method ?? '?'} ${path}`);
  }) as Server & { closing: boolean };
  server.closing = false;
  // Keep-alive 72 s (what these listeners had under Fastify). A check-in is a few hundred
  // bytes: a client that sends its headers and then dribbles the body must not hold the
  // connection forever, so the whole request gets a bound as well (408, then close).
  server.keepAliveTimeout = 72_000;
  server.requestTimeout = opts.tls.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT_MS;
  server.on('clientError', clientErrorHandler);
  // No client-initiated renegotiation (the TLS options also set SSL_OP_NO_RENEGOTIATION; see
  // src/app/tls-app.ts): a check-in needs one handshake, and each renegotiation would cost a
  // full one. Node closes a connection that tries.
  server.on('secureConnection', (socket: TLSSocket) => socket.disableRenegotiation());
  // listenTlsFront listens and hands connections over, so this server never emits
  // 'listening' itself; that event is what starts Node's connection tracking, without which
  // headersTimeout (a client that completes TLS, then dribbles its headers) is never enforced
  // and closeAllConnections finds nothing. The Fastify listener had the same gap.
  server.emit('listening');
  return server;
}
