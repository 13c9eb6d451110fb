import { constants } from 'node:crypto';
import type { ServerOptions } from 'node:https';
import { DEFAULT_CIPHERS, type TLSSocket } from 'node:tls';
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
 * TLS 1.2 suites: ECDHE (forward secrecy) with an AEAD cipher only. OpenSSL's default list
 * also offers the CBC suites with HMAC-SHA1/SHA-256 (ECDHE-ECDSA-AES128-SHA, AES256-SHA, ...):
 * no forward secrecy for the static-RSA ones, and MAC-then-encrypt CBC, the family of
 * Lucky13 and POODLE-style padding oracles (RFC 7457 §2; BSI TR-02102-2 and Mozilla's
 * "intermediate" profile keep only AEAD). The RSA entries matter only if the server key ever
 * becomes RSA: femtoguard's TLS keys are P-256.
 */
const TLS12_SUITES = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-RSA-CHACHA20-POLY1305',
];

/**
 * The cipher string of femtoguard's TLS listeners. Node splits it: `TLS_*` entries set the TLS
 * 1.3 suites, the rest the TLS 1.2 list. TLS 1.3 keeps Node's own suites (all AEAD, RFC 8446
 * §9.1), named here from `tls.DEFAULT_CIPHERS` so the string states every suite offered; only
 * TLS 1.2 is narrowed.
 */
export const TLS_CIPHERS = [...DEFAULT_CIPHERS.split(':').filter((c) => c.startsWith('TLS_')), ...TLS12_SUITES].join(':');

/**
 * Client-initiated renegotiation is refused on every TLS listener: nothing here needs it (the
 * client certificate is asked for in the first handshake), each one costs the server a full
 * handshake (a CPU lever for a flood, CVE-2011-1473), and it was the vehicle of the
 * RFC 5746 prefix injection. SSL_OP_NO_RENEGOTIATION makes OpenSSL refuse it;
 * {@link refuseRenegotiation} makes Node close the connection that tries.
 */
const NO_RENEGOTIATION = constants.SSL_OP_NO_RENEGOTIATION;

/** Turns off renegotiation on every connection `server` accepts (its 'secureConnection'). */
export function refuseRenegotiation(server: { on(event: 'secureConnection', listener: (socket: TLSSocket) => void): unknown }): void {
  server.on('secureConnection', (socket: TLSSocket) => socket.disableRenegotiation());
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
    ciphers: TLS_CIPHERS,
    honorCipherOrder: true,
    handshakeTimeout: opts.handshakeTimeoutMs ?? 10_000,
    requestCert: true,
    rejectUnauthorized: false,
    ca: opts.clientCaDers.map((d) => toPem('CERTIFICATE', d)),
    secureOptions: NO_RENEGOTIATION | (opts.sessionTickets === false ? constants.SSL_OP_NO_TICKET : 0),
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
  refuseRenegotiation(app.server as unknown as Parameters<typeof refuseRenegotiation>[0]);
  app.setErrorHandler(problemErrorHandler(opts.log));
  app.setNotFoundHandler((req, reply) => sendProblem(reply, 404, 'not_found', `no route for ${req.method} ${req.url.split('?')[0]}`));
  return app;
}
