import type { FastifyRequest } from 'fastify';
import { can, type Permission, type TokenService } from '../api/index.js';
import { AppError } from '../core/errors.js';

/** Route guard for admission's REST routes: a bearer token whose role has `permission`. */
export function guard(tokens: TokenService, permission: Permission) {
  return async (req: FastifyRequest): Promise<void> => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!m) throw new AppError('unauthenticated', 'auth.missing_token', 'this endpoint needs an API token: Authorization: Bearer <token>');
    const p = await tokens.verify(m[1] as string);
    if (!p) throw new AppError('unauthenticated', 'auth.invalid_token', 'the API token is not valid');
    if (!can(p.role, permission)) throw new AppError('forbidden', 'auth.forbidden', `role ${p.role} may not ${permission}`);
    req.principal = p;
  };
}
