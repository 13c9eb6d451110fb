import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { authorize, can, type TokenService } from '../api/index.js';
import type { AuditSink } from '../audit-log/index.js';
import { AppError, isAppError } from '../core/errors.js';
import { parseEventTime } from '../events/index.js';
import { formatZodError } from '../registry/index.js';
import { toCsv, toJson, type ImpactView } from './exports.js';
import { maskImpact } from './impact.js';
import { CamaraError, parseRiskRequest } from './risk.js';
import type { SubscriberService } from './service.js';

/** CAMARA Commonalities: x-correlator is echoed; its value is constrained to this pattern. */
const CORRELATOR = /^[a-zA-Z0-9\-_:;./<>{}]{0,256}$/;

function camaraError(err: unknown, limit: number): CamaraError {
  if (err instanceof CamaraError) return err;
  if (isAppError(err)) {
    switch (err.kind) {
      case 'unauthenticated':
        return new CamaraError(401, 'UNAUTHENTICATED', 'Request not authenticated due to missing, invalid, or expired credentials.');
      case 'forbidden':
        return new CamaraError(403, 'PERMISSION_DENIED', 'Client does not have sufficient permissions to perform this action.');
      case 'unavailable':
        return new CamaraError(503, 'UNAVAILABLE', 'Service Unavailable.');
      case 'invalid':
        return new CamaraError(400, 'INVALID_ARGUMENT', err.message);
      default:
        return new CamaraError(500, 'INTERNAL', 'Unknown server error.');
    }
  }
  const fe = err as FastifyError;
  // Any body but JSON is refused before it is read (the API server's media gate, or fastify).
  if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new CamaraError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Send the request as application/json.');
  if (fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || fe instanceof SyntaxError) return new CamaraError(400, 'INVALID_ARGUMENT', 'body is not valid JSON');
  if (fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return new CamaraError(400, 'INVALID_ARGUMENT', 'body is empty: send a JSON object');
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new CamaraError(413, 'INVALID_ARGUMENT', `The request body is larger than ${limit} bytes.`);
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) return new CamaraError(400, 'INVALID_ARGUMENT', 'Client specified an invalid argument, request body or query param.');
  return new CamaraError(500, 'INTERNAL', 'Unknown server error.');
}

const impactQuery = z.strictObject({
  cells: z.string().max(100_000).optional(),
  flagged: z.enum(['true', 'false']).optional(),
  from: z.string().max(40).optional(),
  to: z.string().max(40).optional(),
  format: z.enum(['json', 'csv']).default('json'),
  view: z.enum(['subscribers', 'payments', 'notification', 'summary']).default('subscribers'),
});

/** `YYYY-MM-DD` (midnight UTC), RFC 3339 with an offset, or epoch milliseconds. */
export function parseWindowTime(text: string, what: string): number {
  const t = /^\d{4}-\d\d-\d\d$/.test(text) ? parseEventTime(`${text}T00:00:00Z`) : parseEventTime(/^\d+$/.test(text) ? Number(text) : text);
  if (Number.isNaN(t)) throw new AppError('invalid', 'impact.bad_time', `${what} must be YYYY-MM-DD, RFC 3339 with an offset, or epoch milliseconds`);
  return t;
}

/**
 * `POST /v1/payment-risk/check` (CAMARA-style, for the payment gateway) and `GET /v1/impact`
 * (the breach impact analysis and its exports).
 */
export function registerSubscriberRoutes(app: FastifyInstance, deps: { service: () => SubscriberService | null; tokens: TokenService; audit: AuditSink }): void {
  const { tokens, audit } = deps;
  const running = (): SubscriberService => {
    const s = deps.service();
    if (!s || !s.ready) throw new AppError('unavailable', 'subscribers.starting', 'the exposure index is starting');
    return s;
  };

  // The risk check lives in its own scope: CAMARA errors `{status, code, message}` and the
  // x-correlator echo apply to it, not to the rest of the API (problem+json).
  void app.register(async (scope) => {
    scope.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
      const c = req.headers['x-correlator'];
      if (c === undefined) return;
      if (typeof c !== 'string' || !CORRELATOR.test(c)) throw new CamaraError(400, 'INVALID_ARGUMENT', 'x-correlator must match ^[a-zA-Z0-9-_:;./<>{}]{0,256}$');
      reply.header('x-correlator', c);
    });
    scope.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
      const e = camaraError(err, req.routeOptions.bodyLimit);
      return reply.code(e.status).header('content-type', 'application/json').send(JSON.stringify({ status: e.status, code: e.code, message: e.message }));
    });
    scope.post('/v1/payment-risk/check', async (req, reply) => {
      await authorize(req, tokens, 'payments:risk');
      const s = running();
      const body = parseRiskRequest(req.body, s.limits);
      return reply.header('cache-control', 'no-store').send(s.check(body));
    });
  });

  app.get('/v1/impact', async (req, reply) => {
    const principal = await authorize(req, tokens, 'alerts:read');
    const parsed = impactQuery.safeParse(req.query);
    if (!parsed.success) throw new AppError('invalid', 'request.invalid', `query: ${formatZodError(parsed.error)}`);
    const q = parsed.data;
    const s = running();
    const cells = q.flagged === 'true' ? s.flaggedCells() : (q.cells ?? '').split(',').map((c) => c.trim()).filter(Boolean);
    if (cells.length === 0) throw new AppError('invalid', 'impact.no_cells', 'name the cells: cells=ID,ID (or flagged=true for every cell detection flagged)');
    if (cells.length > 10_000) throw new AppError('invalid', 'impact.too_many_cells', 'at most 10000 cells per analysis');
    const now = Date.now();
    const from = q.from ? parseWindowTime(q.from, 'from') : now - s.retentionMs;
    const to = q.to ? parseWindowTime(q.to, 'to') : now + 1;
    if (to <= from) throw new AppError('invalid', 'impact.bad_window', 'to must be after from');
    if (q.view === 'summary' && q.format === 'csv') throw new AppError('invalid', 'impact.summary_is_json', 'the summary is JSON only (format=json)');
    const full = can(principal.role, 'subscribers:identifiers');
    const raw = await s.impact({ cells, from, to });
    const result = full ? raw : maskImpact(raw);
    // Personal data leaving the system: who took it, and whether in full.
    await audit.record({ action: 'subscribers.impact_export', actor: `token:${principal.tokenId}`, outcome: 'success', details: { cells: cells.length, subscribers: result.subscribers.length, view: q.view, format: q.format, identifiers: full ? 'full' : 'masked' } });
    if (q.format === 'csv') {
      const view = q.view as Exclude<ImpactView, 'summary'>;
      return reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${view}.csv"`).send(toCsv(result, view));
    }
    return toJson(result, q.view);
  });
}
