import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { authorize, can, type TokenService } from '../api/index.js';
import type { AuditSink } from '../audit-log/index.js';
import { AppError, isAppError } from '../core/errors.js';
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

/** RFC 3339 §5.6 `date-time` (a space for `T` allowed, §5.6 NOTE); any year 0000-9999. */
const RFC3339_WINDOW = /^(\d{4})-(\d\d)-(\d\d)[Tt ]([01]\d|2[0-3]):([0-5]\d):([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$/;
const DATE_ONLY = /^(\d{4})-(\d\d)-(\d\d)$/;
/** The largest time a JavaScript Date holds (ECMA-262 §21.4.1.1): larger bounds could not be written back in the summary. */
const MAX_TIME_MS = 8.64e15;

/** RFC 3339 Appendix C: Gregorian leap years. */
function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

const validDate = (y: string, m: string, d: string): boolean => Number(m) >= 1 && Number(m) <= 12 && Number(d) >= 1 && Number(d) <= daysInMonth(Number(y), Number(m));

/**
 * A bound of an impact window: `YYYY-MM-DD` (midnight UTC), RFC 3339 with an offset, or
 * non-negative integer epoch milliseconds. Unlike an event's `ts` (FORMATS.md §1, years
 * 2000-2099, anything else being a unit mistake), a window bound may be any time: `from=0`
 * means "from the beginning". Throws `invalid` naming the parameter otherwise.
 */
export function parseWindowTime(text: string, what: string): number {
  const t = windowTime(text);
  if (Number.isNaN(t)) throw new AppError('invalid', 'impact.bad_time', `${what} must be YYYY-MM-DD, RFC 3339 with an offset, or non-negative integer epoch milliseconds`, { parameter: what });
  return t;
}

function windowTime(text: string): number {
  if (/^\d{1,16}$/.test(text)) {
    const ms = Number(text);
    return ms <= MAX_TIME_MS ? ms : NaN;
  }
  const date = DATE_ONLY.exec(text);
  if (date) {
    const [, y = '', m = '', d = ''] = date;
    return validDate(y, m, d) ? utc(Number(y), Number(m), Number(d), 0, 0, 0, 0) : NaN;
  }
  const dt = RFC3339_WINDOW.exec(text);
  if (!dt) return NaN;
  const [, y = '', m = '', d = '', hh = '', mm = '', ss = '', frac = '', zone = ''] = dt;
  if (!validDate(y, m, d)) return NaN;
  // More than 3 fraction digits: truncated to the millisecond, as for event times.
  const ms = frac ? Number(frac.slice(1, 4).padEnd(3, '0')) : 0;
  // RFC 3339 §4.2: local time = UTC + offset, so UTC = local - offset.
  const offsetMin = zone === 'Z' || zone === 'z' ? 0 : (zone.startsWith('-') ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  // A leap second (:60, §5.7) rolls over to the next minute's :00.
  const t = utc(Number(y), Number(m), Number(d), Number(hh), Number(mm), Number(ss), ms) - offsetMin * 60_000;
  return Math.abs(t) <= MAX_TIME_MS ? t : NaN;
}

/** Epoch ms of a UTC date and time; years taken literally (Date.UTC reads 0-99 as 1900-1999). */
function utc(year: number, month: number, day: number, h: number, min: number, sec: number, ms: number): number {
  const t = new Date(0);
  t.setUTCFullYear(year, month - 1, day);
  t.setUTCHours(h, min, sec, ms);
  return t.getTime();
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
