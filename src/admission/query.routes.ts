import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { requirePermission, type TokenService } from '../api/index.js';
import { AppError } from '../core/errors.js';
import { formatZodError } from '../registry/index.js';
import type { GatewayRotation } from './rotation.js';
import type { DecisionStore } from './store.js';

const decisionQuery = z
  .object({
    serial: z.string().min(1).max(256).optional(),
    decision: z.enum(['admit', 'deny']).optional(),
    since: z.string().min(1).max(64).optional(),
    limit: z.coerce.number().int().min(1).max(10_000).optional(),
  })
  .strict();

/**
 * Operators' read side: `GET /v1/admission/decisions` (role with `audit:read`: the reasons
 * are audit material) and `GET /v1/admission/gateways` (the rotation state).
 */
export function registerAdmissionQueryRoutes(app: FastifyInstance, deps: { decisions: DecisionStore; rotation: GatewayRotation; tokens: TokenService }): void {
  app.get('/v1/admission/decisions', { preHandler: requirePermission(deps.tokens, 'audit:read') }, async (req) => {
    const q = decisionQuery.safeParse(req.query);
    if (!q.success) throw new AppError('invalid', 'request.invalid', `query: ${formatZodError(q.error)}`);
    return { items: await deps.decisions.list(q.data) };
  });
  app.get('/v1/admission/gateways', { preHandler: requirePermission(deps.tokens, 'devices:read') }, async () => {
    const view = await deps.rotation.refresh();
    return { pool: deps.rotation.pool(), ...view.announcement(), epoch: view.latest?.seq ?? null, retired: view.retired() };
  });
}
