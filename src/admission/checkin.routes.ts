/**
 * The admission edge: `POST /v1/femto/checkin` on the mutual-TLS listeners (the device's own
 * certificate is its credential) and `POST /v1/segw/sessions` on the REST API (an external
 * security gateway reporting a session, with an `ingest` token).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TLSSocket } from 'node:tls';
import { z } from 'zod';
import type { TokenService } from '../api/index.js';
import { AppError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { parseEventTime } from '../events/index.js';
import { pemOrDerToDerList } from '../pki/index.js';
import { formatZodError, isIp } from '../registry/index.js';
import { guard } from './guard.js';
import { endpointOf } from './rotation.js';
import type { Admission, CheckinConnection } from './service.js';
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
 * leaf: femtoguard's issuing CA signs device certificates directly). `getPeerCertificate()`
 * and not `getPeerX509Certificate()`, which builds a new X509 object (~0.25 ms a handshake
 * measured on Node 20 with femtoguard's certificates, 3x the former), nor
 * `getPeerCertificate(true)`, which converts every certificate of the chain.
 */
export function peerChain(req: FastifyRequest): Buffer[] | undefined {
  const sock = req.raw.socket as TLSSocket;
  if (typeof sock.getPeerCertificate !== 'function') return undefined;
  const leaf = sock.getPeerCertificate(false) as { raw?: Buffer } | null;
  return leaf?.raw ? [leaf.raw] : undefined;
}

function connectionOf(req: FastifyRequest, mainListener: boolean): CheckinConnection {
  const s = req.raw.socket;
  return {
    clientChain: peerChain(req),
    sourceIp: peerAddress(s.remoteAddress),
    endpoint: s.localAddress !== undefined && s.localPort !== undefined ? endpointOf(s.localAddress, s.localPort) : undefined,
    mainListener,
  };
}

/** A refusal tells the device one code and nothing else; the details are in the record. */
function deny(reply: FastifyReply, status: number, reason: string): FastifyReply {
  return reply.code(status).header('cache-control', 'no-store').type('application/json').send({ decision: 'deny', reason });
}

/**
 * Registers the check-in on a TLS listener. `mainListener` marks femtoguard's main TLS
 * listener (EST), which is not a rotated gateway address.
 */
export function registerCheckinRoutes(app: FastifyInstance, opts: { admission: Admission; maxReportBytes: number; mainListener: boolean; logger: Logger }): void {
  const { admission, logger } = opts;
  app.register(
    (scope, _o, done) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: opts.maxReportBytes }, (_req, body, next) => next(null, body));
      scope.setErrorHandler(async (err: unknown, req, reply) => {
        const e = err as { statusCode?: number; code?: string; message?: string };
        const conn = connectionOf(req, opts.mainListener);
        try {
          if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
            const d = await admission.refuse('report-too-large', conn, `report larger than ${opts.maxReportBytes} bytes`);
            return deny(reply, 413, d.reason ?? 'report-too-large');
          }
          if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
            const d = await admission.refuse('malformed-report', conn, `unreadable request: ${e.message ?? 'bad request'}`);
            return deny(reply, e.statusCode, d.reason ?? 'malformed-report');
          }
        } catch (recordErr) {
          logger.error({ err: String(recordErr) }, 'admission refusal could not be recorded');
        }
        logger.error({ err: { message: e.message, code: e.code } }, 'check-in failed');
        return deny(reply, 500, 'internal-error');
      });

      scope.post('/checkin', async (req, reply) => {
        const conn = connectionOf(req, opts.mainListener);
        let report: CheckinReport;
        try {
          const body = req.body;
          if (!Buffer.isBuffer(body) || body.length === 0) throw new Error('empty body: send the femto.report fields as JSON');
          const parsed = checkinReportSchema.safeParse(JSON.parse(body.toString('utf8')));
          if (!parsed.success) throw new Error(formatZodError(parsed.error));
          report = parsed.data;
        } catch (e) {
          const d = await admission.refuse('malformed-report', conn, `malformed report: ${(e as Error).message.slice(0, 300)}`);
          return deny(reply, d.reason === 'stale-endpoint' ? 403 : 400, d.reason ?? 'malformed-report');
        }
        const { decision, admitted } = await admission.checkin(report, conn);
        if (admitted) return reply.header('cache-control', 'no-store').send(admitted);
        return deny(reply, decision.reason === 'internal-error' ? 500 : 403, decision.reason ?? 'denied');
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
  app.post('/v1/segw/sessions', { bodyLimit: 128 * 1024, preHandler: guard(opts.tokens, 'events:ingest') }, async (req) => {
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
