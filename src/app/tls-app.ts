import { constants } from 'node:crypto';
import type { ServerOptions } from 'node:https';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { clientErrorHandler, problemErrorHandler, sendProblem } from '../api/index.js';
import type { Logger } from '../core/logger.js';
import { toPem } from '../pki/index.js';

export interface MtlsOptions {
  certPem: string;
  keyPem: string;
  clientCaDers: readonly Buffer[];
  handshakeTimeoutMs?: number;
  /**
   * false: no stateless TLS 1.3 session tickets (SSL_OP_NO_TICKET; RFC 8446 §4.6.1). By
   * default OpenSSL sends two after every full handshake, each the whole session (with the
   * client's certificate) serialised, encrypted and MACed: CPU spent on every check-in for a
   * resumption a femtocell checking in every few minutes cannot use (the ticket key and
   * lifetime are the process's, 300 s). Verification is unchanged; a client that offers a
   * ticket gets a full handshake.
   */
  sessionTickets?: boolean;
}

/**
 * TLS settings of a listener that asks for client certificates without requiring them: the
 * route (EST, check-in) judges the certificate, or its absence, and records why, which a
 * failed handshake could not. OpenSSL still verifies the chain it is given.
 */
export function mtlsServerOptions(opts: MtlsOptions): ServerOptions {
  return {
    key: opts.keyPem,
    cert: opts.certPem,
    minVersion: 'TLSv1.2',
    handshakeTimeout: opts.handshakeTimeoutMs ?? 10_000,
    requestCert: true,
    rejectUnauthorized: false,
    ca: opts.clientCaDers.map((d) => toPem('CERTIFICATE', d)),
    ...(opts.sessionTickets === false ? { secureOptions: constants.SSL_OP_NO_TICKET } : {}),
  };
}

/**
 * A fastify app on such a TLS listener. Errors are problem+json; bad framing closes with
 * Connection: close.
 */
export function createMtlsApp(opts: MtlsOptions & { log: Logger }): FastifyInstance {
  const app: FastifyInstance = Fastify({
    loggerInstance: opts.log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    clientErrorHandler,
    https: mtlsServerOptions(opts),
  }) as unknown as FastifyInstance;
  app.setErrorHandler(problemErrorHandler(opts.log));
  app.setNotFoundHandler((req, reply) => sendProblem(reply, 404, 'not_found', `no route for ${req.method} ${req.url.split('?')[0]}`));
  return app;
}
