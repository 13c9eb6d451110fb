import type { FastifyRequest } from 'fastify';
import { AppError } from '../core/errors.js';
import { can, type Permission, type Principal, type TokenService } from './tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** Resolves the bearer token of a request, or throws 401. */
export async function authenticate(req: FastifyRequest, tokens: TokenService): Promise<Principal> {
  const h = req.headers.authorization;
  const m = h ? /^Bearer\s+(\S+)\s*$/i.exec(h) : null;
  if (!m) throw new AppError('unauthenticated', 'auth.missing_token', 'this endpoint needs an API token: Authorization: Bearer <token>');
  const p = await tokens.verify(m[1] as string);
  if (!p) throw new AppError('unauthenticated', 'auth.invalid_token', 'the API token is not valid');
  req.principal = p;
  return p;
}

/** Authenticated and allowed, or throws 401/403: for routes that answer in their own error format. */
export async function authorize(req: FastifyRequest, tokens: TokenService, permission: Permission): Promise<Principal> {
  const p = await authenticate(req, tokens);
  if (!can(p.role, permission)) throw new AppError('forbidden', 'auth.forbidden', `role ${p.role} may not ${permission}`);
  return p;
}

/** A route guard: authenticated and allowed. */
export function requirePermission(tokens: TokenService, permission: Permission) {
  return async (req: FastifyRequest): Promise<void> => {
    await authorize(req, tokens, permission);
  };
}

export const actorOf = (req: FastifyRequest): string => (req.principal ? `token:${req.principal.tokenId}` : 'anonymous');
