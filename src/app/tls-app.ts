import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { clientErrorHandler, problemErrorHandler, sendProblem } from '../api/index.js';
import type { Logger } from '../core/logger.js';
import { toPem } from '../pki/index.js';

/**
 * A fastify app on a TLS listener that asks for client certificates without requiring them:
 * the route (EST, check-in) judges the certificate, or its absence, and records why, which a
 * failed handshake could not. Errors are problem+json; bad framing closes with Connection: close.
 */
export function createMtlsApp(opts: { log: Logger; certPem: string; keyPem: string; clientCaDers: readonly Buffer[]; handshakeTimeoutMs?: number }): FastifyInstance {
  const app: FastifyInstance = Fastify({
    loggerInstance: opts.log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    clientErrorHandler,
    https: {
      key: opts.keyPem,
      cert: opts.certPem,
      minVersion: 'TLSv1.2',
      handshakeTimeout: opts.handshakeTimeoutMs ?? 10_000,
      requestCert: true,
      rejectUnauthorized: false,
      ca: opts.clientCaDers.map((d) => toPem('CERTIFICATE', d)),
    },
  }) as unknown as FastifyInstance;
  app.setErrorHandler(problemErrorHandler(opts.log));
  app.setNotFoundHandler((req, reply) => sendProblem(reply, 404, 'not_found', `no route for ${req.method} ${req.url.split('?')[0]}`));
  return app;
}
