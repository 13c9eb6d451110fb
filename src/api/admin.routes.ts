import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AuditStore } from '../audit-log/index.js';
import { AppError } from '../core/errors.js';
import type { EnrollmentAdmin } from '../est/index.js';
import { fromPemAll } from '../pki/index.js';
import { actorOf, authenticate, requirePermission } from './auth.js';
import { parseWith } from './parse.js';
import { MAX_TOKEN_TTL_SECONDS, permissionsOf, ROLES, type TokenService } from './tokens.js';

const auditQuery = z.strictObject({
  action: z.string().max(100).optional(),
  subject: z.string().max(200).optional(),
  outcome: z.enum(['success', 'denied', 'failure']).optional(),
  afterId: z.coerce.number().int().min(0).optional(),
  beforeId: z.coerce.number().int().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(100),
});
const verifyQuery = z.strictObject({
  anchorId: z.coerce.number().int().min(1).optional(),
  anchorHash: z.string().regex(/^[0-9a-f]{64}$/, 'SHA-256 as 64 lowercase hex digits').optional(),
});
const tokenBody = z.strictObject({ role: z.enum(ROLES), label: z.string().max(200).optional(), ttlSeconds: z.number().int().min(60).max(MAX_TOKEN_TTL_SECONDS).optional() });
const enrollTokenBody = z.strictObject({ ttlSeconds: z.number().int().min(60).max(90 * 86_400).default(7 * 86_400) });

/** Duration text like `7d`, `12h`, `30m`, `90s` (or plain seconds) to seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+)\s*([smhd]?)$/.exec(text.trim());
  if (!m) throw new AppError('invalid', 'request.bad_duration', `"${text}" is not a duration like 7d, 12h, 30m or 3600`);
  return Number(m[1]) * ({ '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'] ?? 1);
}

/** Audit log, API tokens, enrollment tokens and vendor roots. */
export function registerAdminRoutes(app: FastifyInstance, deps: { audit: AuditStore; tokens: TokenService; enrollment: EnrollmentAdmin }): void {
  const { audit, tokens, enrollment } = deps;
  // Any valid token: its own id, role and permissions (never the secret or its hash).
  app.get('/v1/me', async (req) => {
    const p = await authenticate(req, tokens);
    return { tokenId: p.tokenId, role: p.role, permissions: permissionsOf(p.role) };
  });

  app.get('/v1/audit', { preHandler: requirePermission(tokens, 'audit:read') }, async (req) => {
    const q = parseWith(auditQuery, req.query, 'query');
    return { items: await audit.list(q) };
  });
  // The hash chain of the whole log, and, with ?anchorId=&anchorHash=, that a head recorded
  // earlier is still in it. Reads every event: a long log takes a while (the CLI shows progress).
  app.get('/v1/audit/verify', { preHandler: requirePermission(tokens, 'audit:read') }, async (req) => {
    const q = parseWith(verifyQuery, req.query, 'query');
    if ((q.anchorId === undefined) !== (q.anchorHash === undefined)) throw new AppError('invalid', 'audit.bad_anchor', 'anchorId and anchorHash go together (a head as an earlier verification printed it)');
    return audit.verify(q.anchorId !== undefined && q.anchorHash !== undefined ? { anchor: { id: q.anchorId, hash: q.anchorHash } } : {});
  });

  const admin = { preHandler: requirePermission(tokens, 'tokens:admin') };
  app.get('/v1/tokens', admin, async () => ({ items: await tokens.list() }));
  app.post('/v1/tokens', admin, async (req, reply) => {
    const b = parseWith(tokenBody, req.body, 'body');
    const { token, record } = await tokens.create(b.role, actorOf(req), b.label, b.ttlSeconds === undefined ? {} : { ttlSeconds: b.ttlSeconds });
    return reply.code(201).send({ ...record, token });
  });
  app.delete('/v1/tokens/:id', admin, async (req, reply) => {
    const { id } = parseWith(z.strictObject({ id: z.string().min(1).max(100) }), req.params, 'path');
    await tokens.revoke(id, actorOf(req));
    return reply.code(204).send();
  });

  app.post('/v1/devices/:serial/enroll-tokens', { preHandler: requirePermission(tokens, 'enroll:tokens') }, async (req, reply) => {
    const { serial } = parseWith(z.strictObject({ serial: z.string().min(1).max(64) }), req.params, 'path');
    const b = parseWith(enrollTokenBody, req.body ?? {}, 'body');
    return reply.code(201).send(await enrollment.createToken(serial, b.ttlSeconds, actorOf(req)));
  });

  app.post('/v1/vendor-roots', admin, async (req, reply) => {
    const body = req.body;
    const text = Buffer.isBuffer(body) ? body.toString('latin1') : typeof body === 'string' ? body : '';
    const blocks = fromPemAll(text, 'CERTIFICATE');
    if (blocks.length === 0) throw new AppError('invalid', 'est.vendor_root_pem', 'send one or more PEM CERTIFICATE blocks (Content-Type: application/x-pem-file)');
    const out: { fingerprint: string; subject: string; added: boolean }[] = [];
    for (const b of blocks) out.push(await enrollment.addVendorRoot(b.der, actorOf(req)));
    return reply.code(201).send({ items: out });
  });
}
