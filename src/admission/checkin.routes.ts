/**
 * The admission edge: `POST /v1/femto/checkin` on the mutual-TLS listeners (the device's own
 * certificate is its credential) and `POST /v1/segw/sessions` on the REST API (an external
 * security gateway reporting a session, with an `ingest` token).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { z } from 'zod';
import { requirePermission, type TokenService } from '../api/index.js';
import { AppError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { parseEventTime } from '../events/index.js';
import { pemOrDerToDerList } from '../pki/index.js';
import { formatZodError, isIp } from '../registry/index.js';
import { endpointOf } from './rotation.js';
import type { Admission, CheckinAdmitted, CheckinConnection } from './service.js';
import type { CheckinReport } from './types.js';

const ID = z.string().min(1).max(256);
const LIST = z.array(ID).max(1024);
const gps = z.object({ lat: z.number().min(-90).max(90), lon: z.number().min(-180).max(180), accuracyM: z.number().min(0).max(1e7).optional() });

/** The check-in body: the `femto.report` fields of FORMATS.md §1 (other fields are ignored). */
export const checkinReportSchema = z.object({
  serial: ID,
  cellIds: LIST.optional(),
  gps: gps.optional(),
  neighbors: LIST.optional(),
  swVersion: ID.optional(),
  configHash: ID.optional(),
});

/** `POST /v1/segw/sessions`: the `femto.session` fields plus the certificate the gateway verified. */
export const gatewaySessionSchema = z
  .object({
    phase: z.enum(['up', 'down']),
    serial: ID.optional(),
    sourceIp: z.string().refine(isIp, 'must be an IPv4 or IPv6 address'),
    certFingerprint: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be the SHA-256 of the DER certificate, 64 hex digits').optional(),
    /** the peer certificate (chain), PEM or base64 DER, leaf first */
    certificate: z.string().min(1).max(64 * 1024).optional(),
    cellIds: LIST.optional(),
    endpoint: ID.optional(),
    sessionId: ID.optional(),
    ts: z.union([z.string(), z.number()]).optional(),
  })
  .refine((v) => v.serial !== undefined || v.certFingerprint !== undefined || v.certificate !== undefined, 'name the device: serial, certFingerprint or certificate');

/** IPv4 peers of a dual-stack socket show as ::ffff:a.b.c.d; the registry writes a.b.c.d. */
export function peerAddress(raw: string | undefined): string {
  const a = raw ?? '';
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

/**
 * The certificate the TLS client presented, as a one-element chain (the decision judges the
 * leaf: femtoguard's issuing CA signs device certificates directly). `getPeerCertificate(false)`
 * converts the leaf alone to an object (~50-80 µs a handshake on Node 20). The alternatives
 * cost more: `getPeerCertificate(true)` converts the whole chain, `getPeerX509Certificate()`
 * builds a JS X509Certificate (~140-200 µs), and even the native handle's X509 object (5 µs
 * for a bare leaf) copies every intermediate the client sent (X509_dup: a re-parse through
 * OpenSSL 3.0's slow key decoders, ~150 µs with a device sending leaf + issuing CA, measured
 * with perf under `npm run bench:admission`).
 */
export function peerChainOf(sock: Socket): Buffer[] | undefined {
  const tls = sock as TLSSocket;
  if (typeof tls.getPeerCertificate !== 'function') return undefined;
  const leaf = tls.getPeerCertificate(false) as { raw?: Buffer } | null;
  return leaf?.raw ? [leaf.raw] : undefined;
}

export function peerChain(req: FastifyRequest): Buffer[] | undefined {
  return peerChainOf(req.raw.socket);
}

/** The connection a check-in came over, read from its socket. */
export function connectionOfSocket(s: Socket, mainListener: boolean): CheckinConnection {
  return {
    clientChain: peerChainOf(s),
    sourceIp: peerAddress(s.remoteAddress),
    endpoint: s.localAddress !== undefined && s.localPort !== undefined ? endpointOf(s.localAddress, s.localPort) : undefined,
    mainListener,
  };
}

/** An answer to a check-in: status and JSON body; `close` asks for Connection: close. */
export interface CheckinAnswer {
  status: number;
  body: CheckinAdmitted | { decision: 'deny'; reason: string };
  close?: boolean;
}

/** A refusal tells the device one code and nothing else; the details are in the record. */
const denied = (status: number, reason: string, close?: boolean): CheckinAnswer => ({ status, body: { decision: 'deny', reason }, ...(close ? { close } : {}) });

/**
 * The check-in behind either HTTP layer (Fastify on the main listener, bare node:https on the
 * gateway listeners): reads the report from the raw body, decides, records. Never throws:
 * a failure is a 500 `internal-error` (fail closed) and one log line.
 */
export async function answerCheckin(admission: Admission, logger: Logger, body: Buffer | undefined, conn: CheckinConnection): Promise<CheckinAnswer> {
  try {
    let report: CheckinReport;
    try {
      if (body === undefined || body.length === 0) throw new Error('empty body: send the femto.report fields as JSON');
      const parsed = checkinReportSchema.safeParse(JSON.parse(body.toString('utf8')));
      if (!parsed.success) throw new Error(formatZodError(parsed.error));
      report = parsed.data;
    } catch (e) {
      return await answerRefusal(admission, logger, 'malformed-report', conn, `malformed report: ${(e as Error).message.slice(0, 300)}`, 400, 403);
    }
    const { decision, admitted } = await admission.checkin(report, conn);
    if (admitted) return { status: 200, body: admitted };
    return denied(decision.reason === 'internal-error' ? 500 : 403, decision.reason ?? 'denied');
  } catch (e) {
    logger.error({ err: { message: (e as Error).message, code: (e as NodeJS.ErrnoException).code } }, 'check-in failed');
    return denied(500, 'internal-error');
  }
}

/**
 * A check-in refused before any check ran (unreadable, oversized), recorded as such. A stale
 * address is told `stale-endpoint` (with `staleStatus`) whatever the body was. Never throws.
 */
export async function answerRefusal(admission: Admission, logger: Logger, code: 'malformed-report' | 'report-too-large', conn: CheckinConnection, detail: string, status: number, staleStatus = status): Promise<CheckinAnswer> {
  try {
    const d = await admission.refuse(code, conn, detail);
    return denied(d.reason === 'stale-endpoint' ? staleStatus : status, d.reason ?? code, code === 'report-too-large');
  } catch (e) {
    logger.error({ err: String(e) }, 'admission refusal could not be recorded');
    return denied(500, 'internal-error');
  }
}

function send(reply: FastifyReply, a: CheckinAnswer): FastifyReply {
  if (a.close) reply.header('connection', 'close');
  return reply.code(a.status).header('cache-control', 'no-store').type('application/json').send(a.body);
}

/**
 * Registers the check-in on a Fastify TLS listener (femtoguard's main listener, with EST).
 * `mainListener` marks it: it is not a rotated gateway address. The gateway listeners serve
 * the same check-in without Fastify (gateway-server.ts).
 */
export function registerCheckinRoutes(app: FastifyInstance, opts: { admission: Admission; maxReportBytes: number; mainListener: boolean; logger: Logger }): void {
  const { admission, logger } = opts;
  app.register(
    (scope, _o, done) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: opts.maxReportBytes }, (_req, body, next) => next(null, body));
      scope.setErrorHandler(async (err: unknown, req, reply) => {
        const e = err as { statusCode?: number; code?: string; message?: string };
        const conn = connectionOfSocket(req.raw.socket, opts.mainListener);
        if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return send(reply, await answerRefusal(admission, logger, 'report-too-large', conn, `report larger than ${opts.maxReportBytes} bytes`, 413));
        if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) return send(reply, await answerRefusal(admission, logger, 'malformed-report', conn, `unreadable request: ${e.message ?? 'bad request'}`, e.statusCode));
        logger.error({ err: { message: e.message, code: e.code } }, 'check-in failed');
        return send(reply, denied(500, 'internal-error'));
      });

      scope.post('/checkin', async (req, reply) => {
        const body = req.body;
        return send(reply, await answerCheckin(admission, logger, Buffer.isBuffer(body) ? body : undefined, connectionOfSocket(req.raw.socket, opts.mainListener)));
      });
      done();
    },
    { prefix: '/v1/femto' },
  );
}

function certificateChain(text: string): Buffer[] {
  const t = text.trim();
  try {
    return pemOrDerToDerList(t.includes('-----BEGIN') ? Buffer.from(t, 'latin1') : Buffer.from(t, 'base64'));
  } catch (e) {
    throw new AppError('invalid', 'request.invalid', `certificate: ${(e as Error).message}`);
  }
}

/**
 * `POST /v1/segw/sessions` (role `ingest`): an external gateway reports a session up or
 * down; the answer is the full decision (the gateway is trusted with the reasons, and
 * enforces a deny by closing the SA).
 */
export function registerGatewaySessionRoutes(app: FastifyInstance, opts: { admission: Admission; tokens: TokenService }): void {
  app.post('/v1/segw/sessions', { bodyLimit: 128 * 1024, preHandler: requirePermission(opts.tokens, 'events:ingest') }, async (req) => {
    const r = gatewaySessionSchema.safeParse(req.body);
    if (!r.success) throw new AppError('invalid', 'request.invalid', `session: ${formatZodError(r.error)}`);
    const v = r.data;
    let at: Date | undefined;
    if (v.ts !== undefined) {
      const t = parseEventTime(v.ts);
      if (Number.isNaN(t)) throw new AppError('invalid', 'request.invalid', 'ts must be RFC 3339 with an offset, or epoch milliseconds');
      at = new Date(t);
    }
    const d = await opts.admission.admitGatewaySession({
      phase: v.phase,
      serial: v.serial,
      sourceIp: peerAddress(v.sourceIp),
      clientChain: v.certificate !== undefined ? certificateChain(v.certificate) : undefined,
      certFingerprint: v.certFingerprint,
      cellIds: v.cellIds,
      endpoint: v.endpoint,
      sessionId: v.sessionId,
      at,
      actor: req.principal ? `token:${req.principal.tokenId}` : 'gateway',
    });
    return { id: d.id, decision: d.decision, reason: d.reason, reasons: d.reasons, serial: d.serial, certFingerprint: d.certFingerprint, at: d.at };
  });
}
