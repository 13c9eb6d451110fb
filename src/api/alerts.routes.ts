import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AuditSink } from '../audit-log/index.js';
import { AppError } from '../core/errors.js';
import { maskSubscriberFields } from '../core/mask.js';
import { RULE_IDS, SEVERITIES, type AlertHub, type AlertStore, type PaymentHoldStore } from '../detection/index.js';
import { formatEventTime, parseEventTime } from '../events/index.js';
import { actorOf, authorize, requirePermission } from './auth.js';
import { parseWith } from './parse.js';
import { can, type TokenService } from './tokens.js';

const listQuery = z.strictObject({
  rule: z.enum(RULE_IDS).optional(),
  minSeverity: z.enum(SEVERITIES).optional(),
  status: z.enum(['open', 'acknowledged', 'resolved']).optional(),
  serial: z.string().max(64).optional(),
  cellId: z.string().max(64).optional(),
  since: z.string().max(40).optional(),
  before: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(100),
});
const statusBody = z.strictObject({ note: z.string().max(1000).optional() });
const idParam = z.strictObject({ id: z.string().min(1).max(64) });

/**
 * `since` as the UTC time the store compares with: RFC 3339 with an offset (FORMATS.md §1, read
 * by the events' own parser) or epoch milliseconds. Anything else is a 400 naming the parameter.
 */
export function sinceParam(text: string): string {
  const t = parseEventTime(/^\d+$/.test(text) ? Number(text) : text);
  if (Number.isNaN(t)) throw new AppError('invalid', 'alerts.bad_since', 'query parameter since must be an RFC 3339 time with an offset (2025-08-05T19:00:00+09:00) or epoch milliseconds', { parameter: 'since' });
  return formatEventTime(t);
}

/** IMSI and MSISDN in full only for roles that may see them. */
function view<T extends { imsi?: string; msisdn?: string; imei?: string }>(req: FastifyRequest, a: T): T {
  return req.principal && can(req.principal.role, 'subscribers:identifiers') ? a : maskSubscriberFields(a);
}

/** `/v1/alerts`: list, acknowledge, resolve; `/v1/alerts/stream`: live server-sent events. Payment holds. */
export function registerAlertRoutes(app: FastifyInstance, deps: { alerts: AlertStore; holds: PaymentHoldStore; hub: AlertHub; tokens: TokenService; audit: AuditSink; streamPingMs: number }): void {
  const { alerts, holds, hub, tokens, audit } = deps;
  const read = { preHandler: requirePermission(tokens, 'alerts:read') };
  const write = { preHandler: requirePermission(tokens, 'alerts:write') };
  /** the open alert streams' close functions: a closing server ends them (else it waits for their clients forever) */
  const streams = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const close of [...streams]) close();
  });

  app.get('/v1/alerts', read, async (req) => {
    const { limit, since, ...f } = parseWith(listQuery, req.query, 'query');
    // A cursor that names no alert is a client error, not a reason to start again at page 1.
    if (f.before !== undefined && !(await alerts.get(f.before))) throw new AppError('invalid', 'alerts.unknown_cursor', `query parameter before names no alert (${f.before}): use the next value of a previous page`, { parameter: 'before' });
    const items = await alerts.list({ ...f, since: since === undefined ? undefined : sinceParam(since), limit });
    const last = items[items.length - 1];
    return { items: items.map((a) => view(req, a)), next: items.length === limit && last ? last.id : null };
  });

  app.get('/v1/alerts/stream', async (req, reply) => {
    await authorize(req, tokens, 'alerts:read');
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(': femtoguard alert stream\n\n');
    let open = true;
    let checking = false;
    const send = (text: string): void => {
      if (open && !res.writableEnded && !res.destroyed) res.write(text);
    };
    const off = hub.subscribe((a, isNew) => {
      send(`event: ${isNew ? 'alert' : 'alert-update'}\nid: ${a.id}\ndata: ${JSON.stringify(view(req, a))}\n\n`);
    });
    // Each keep-alive checks the token again: a token revoked (or of a role changed) while its
    // stream is open stops receiving alerts within one interval, not when the connection drops;
    // a role that lost `subscribers:identifiers` gets masked identifiers from then on.
    const token = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
    const close = (): void => {
      if (!open) return;
      open = false;
      streams.delete(close);
      clearInterval(ping);
      off();
      if (!res.writableEnded) res.end();
    };
    streams.add(close);
    const ping = setInterval(() => {
      // The last check has not answered within a whole interval: fail closed (the client
      // reconnects and is checked again) rather than stream on unchecked.
      if (checking) return close();
      checking = true;
      tokens.verify(token).then(
        (still) => {
          checking = false;
          if (!still || !can(still.role, 'alerts:read')) return close();
          req.principal = still;
          send(': ping\n\n');
        },
        () => {
          checking = false;
          close();
        },
      );
    }, deps.streamPingMs);
    req.raw.on('close', close);
    // A client that left while its token was being looked up: its 'close' has been and gone.
    if (req.raw.destroyed || res.destroyed) close();
  });

  app.get('/v1/alerts/:id', read, async (req) => {
    const { id } = parseWith(idParam, req.params, 'path');
    const a = await alerts.get(id);
    if (!a) throw new AppError('not_found', 'alert.not_found', `no alert ${id}`);
    return view(req, a);
  });

  for (const [verb, status] of [
    ['acknowledge', 'acknowledged'],
    ['resolve', 'resolved'],
    ['reopen', 'open'],
  ] as const) {
    app.post(`/v1/alerts/:id/${verb}`, write, async (req) => {
      const { id } = parseWith(idParam, req.params, 'path');
      const { note } = parseWith(statusBody, req.body ?? {}, 'body');
      const a = await alerts.setStatus(id, status, actorOf(req), note ?? null, new Date().toISOString());
      if (!a) throw new AppError('not_found', 'alert.not_found', `no alert ${id}`);
      await audit.record({ action: `alert.${status}`, actor: actorOf(req), subject: id, outcome: 'success', details: { note: note ?? null } });
      return view(req, a);
    });
  }

  app.get('/v1/payment-holds', { preHandler: requirePermission(tokens, 'payments:hold') }, async (req) => {
    const q = parseWith(z.strictObject({ status: z.enum(['held', 'released']).optional(), limit: z.coerce.number().int().min(1).max(10_000).default(100) }), req.query, 'query');
    const items = await holds.list(q.status, q.limit);
    return { items: items.map((h) => view(req, h)) };
  });

  // One payment's hold, for the payment gateway (which may not list or release holds): held,
  // released (with when), or 404 when femtoguard never held it. Identifiers masked by role.
  app.get('/v1/payment-holds/:txId', { preHandler: requirePermission(tokens, 'payments:hold-status') }, async (req) => {
    const { txId } = parseWith(z.strictObject({ txId: z.string().min(1).max(256) }), req.params, 'path');
    const h = await holds.get(txId);
    if (!h) throw new AppError('not_found', 'payment.not_held', `payment ${txId} is not held and was never held`);
    return view(req, h);
  });
  const releaseBody = z.strictObject({ reason: z.string().trim().min(1, 'a reason is required').max(500) });
  const TX_ID = z.string().min(1).max(256);
  async function release(req: FastifyRequest, txId: string, reason: string) {
    const h = await holds.release(txId, actorOf(req), reason, new Date().toISOString());
    if (!h) throw new AppError('not_found', 'payment.not_held', `payment ${txId} is not held`);
    await audit.record({ action: 'payment.released', actor: actorOf(req), subject: txId, outcome: 'success', details: { reason } });
    return view(req, h);
  }
  app.post('/v1/payment-holds/:txId/release', { preHandler: requirePermission(tokens, 'payments:hold') }, async (req) => {
    const { txId } = parseWith(z.strictObject({ txId: TX_ID }), req.params, 'path');
    return release(req, txId, parseWith(releaseBody, req.body ?? {}, 'body').reason);
  });
  // The same with the txId in the body: any txId, including ones a URL path cannot carry as
  // they are ("." and ".." are collapsed by browsers and URL parsers). The console uses this one.
  app.post('/v1/payment-holds/release', { preHandler: requirePermission(tokens, 'payments:hold') }, async (req) => {
    const b = parseWith(releaseBody.extend({ txId: TX_ID }), req.body ?? {}, 'body');
    return release(req, b.txId, b.reason);
  });
}
