import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { HTTP_STATUS, isAppError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

/** RFC 9457 problem details. `code` is femtoguard's stable error code. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  instance?: string;
  [k: string]: unknown;
}

/** The RFC 9457 body every femtoguard listener answers errors with, serialised. */
export function problemBody(status: number, code: string, detail: string, extra?: Record<string, unknown>): string {
  const body: Problem = { type: `https://femtoguard.dev/problems/${code}`, title: code, status, detail, code, ...extra };
  return JSON.stringify(body);
}

export function sendProblem(reply: FastifyReply, status: number, code: string, detail: string, extra?: Record<string, unknown>): FastifyReply {
  return reply.code(status).header('content-type', 'application/problem+json; charset=utf-8').send(problemBody(status, code, detail, extra));
}

/**
 * A body refused for its media type before it is read (RFC 9110 §15.5.16). It carries fastify's
 * own code, so every error handler that maps fastify's 415 (problem+json here, the CAMARA scope
 * of the risk check) maps this one too; its message names what the route takes.
 */
export class UnsupportedMediaTypeError extends Error {
  readonly statusCode = 415;
  readonly code = 'FST_ERR_CTP_INVALID_MEDIA_TYPE';
  constructor(
    readonly mediaType: string,
    readonly accepted: readonly string[],
  ) {
    super(`Content-Type ${mediaType ? `"${mediaType.slice(0, 100)}"` : '(none)'} is not accepted here: send ${accepted.join(' or ')}`);
    this.name = 'UnsupportedMediaTypeError';
  }
}

/** What a too-large body is told: the limit of the route it was sent to. */
export function bodyTooLargeDetail(req: FastifyRequest): string {
  return `the request body is larger than ${req.routeOptions.bodyLimit} bytes, the limit of ${req.method} ${req.routeOptions.url ?? req.url.split('?')[0]}`;
}

/** The one place AppError meets HTTP. Unknown errors become a bare 500 and one log line. */
export function problemErrorHandler(log: Logger) {
  return (err: unknown, req: FastifyRequest, reply: FastifyReply): FastifyReply => {
    if (isAppError(err)) {
      if (err.kind === 'unauthenticated') reply.header('www-authenticate', 'Bearer realm="femtoguard"');
      const retry = err.details?.retryAfterSeconds;
      if (typeof retry === 'number') reply.header('retry-after', String(retry));
      return sendProblem(reply, HTTP_STATUS[err.kind], err.code, err.message, err.details ? { details: err.details } : undefined);
    }
    if (err instanceof UnsupportedMediaTypeError) return sendProblem(reply, 415, 'request.unsupported_media_type', err.message, { accepted: err.accepted });
    const fe = err as FastifyError;
    if (fe.validation) return sendProblem(reply, 400, 'request.invalid', fe.message);
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendProblem(reply, 413, 'request.too_large', bodyTooLargeDetail(req), { limitBytes: req.routeOptions.bodyLimit });
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
      const code =
        fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
          ? 'request.unsupported_media_type'
          : fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || fe instanceof SyntaxError
            ? 'request.malformed_json'
            : 'request.invalid';
      return sendProblem(reply, fe.statusCode, code, fe.message);
    }
    log.error({ err: { message: fe.message, code: fe.code }, url: req.url }, 'unhandled error');
    return sendProblem(reply, 500, 'internal', 'internal error');
  };
}

/**
 * Answer for a request Node could not even parse (bad framing, headers too large). Unlike
 * fastify's default it says `Connection: close` (RFC 9112 §9.6): the socket is closed after
 * it, and a keep-alive client must not send its next request on it.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: import('node:net').Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const code = status === 431 ? 'request.headers_too_large' : status === 408 ? 'request.timeout' : 'request.malformed_http';
  const body = problemBody(status, code, `the request could not be parsed (${err.code ?? 'error'})`);
  socket.end(`HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request'}\r\nConnection: close\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}
