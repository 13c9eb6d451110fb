import type { FastifyRequest } from 'fastify';
import type { AuditSink } from '../audit-log/index.js';
import { AppError, isAppError } from '../core/errors.js';
import { can, type Permission, type Principal, type TokenService } from './tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/**
 * Resolves the bearer token of a request, or throws 401. The token is looked up once per
 * request: the server authenticates every route that needs a token before its body is read
 * (`onRequest`), and handlers that call this again get that principal.
 */
export async function authenticate(req: FastifyRequest, tokens: TokenService): Promise<Principal> {
  if (req.principal) return req.principal;
  const h = req.headers.authorization;
  const m = h ? /^Bearer\s+(\S+)\s*$/i.exec(h) : null;
  if (!m) throw new AppError('unauthenticated', 'auth.missing_token', 'this endpoint needs an API token: Authorization: Bearer <token>');
  const c = await tokens.check(m[1] as string);
  if (!c.ok) throw new AppError('unauthenticated', c.reason, c.reason === 'auth.expired_token' ? 'the API token has expired: ask an administrator for a new one' : 'the API token is not valid');
  req.principal = c.principal;
  return c.principal;
}

/** Authenticated and allowed, or throws 401/403: for routes that answer in their own error format. */
export async function authorize(req: FastifyRequest, tokens: TokenService, permission: Permission): Promise<Principal> {
  const p = await authenticate(req, tokens);
  if (!can(p.role, permission)) throw new AppError('forbidden', 'auth.forbidden', `role ${p.role} may not ${permission}`);
  return p;
}

type Guard = (req: FastifyRequest) => Promise<void>;
const guards = new WeakSet<Guard>();

/**
 * A route guard: authenticated and allowed. Routes name it as their `preHandler`; the API
 * server moves it to `onRequest` (see `isPermissionGuard`), so a refused caller is answered
 * before a byte of its body is read.
 */
export function requirePermission(tokens: TokenService, permission: Permission): Guard {
  const guard: Guard = async (req) => {
    await authorize(req, tokens, permission);
  };
  guards.add(guard);
  return guard;
}

/** Whether `fn` came from `requirePermission` (it reads only headers, so it may run before the body). */
export function isPermissionGuard(fn: unknown): fn is Guard {
  return typeof fn === 'function' && guards.has(fn as Guard);
}

export const actorOf = (req: FastifyRequest): string => (req.principal ? `token:${req.principal.tokenId}` : 'anonymous');

/** One refused API request, as the audit log keeps it: never the presented token. */
export interface Denial {
  /** the verified token's id (a 403); null when no valid token was presented (a 401) */
  tokenId: string | null;
  /** `METHOD /route/:pattern`, never the raw URL (bounded, and no query strings in the log) */
  route: string;
  /** the refusal's stable code: `auth.missing_token`, `auth.invalid_token`, `auth.forbidden` */
  reason: string;
  /** the client address of the latest refusal counted */
  ip: string;
}

/** The denial an error stands for, or null when it is not a 401/403. */
export function denialOf(req: FastifyRequest, err: unknown): Denial | null {
  if (!isAppError(err) || (err.kind !== 'unauthenticated' && err.kind !== 'forbidden')) return null;
  const url = req.routeOptions.url;
  return { tokenId: req.principal?.tokenId ?? null, route: url ? `${req.method} ${url}` : '(no route)', reason: err.code, ip: req.ip };
}

interface DenialWindow {
  denial: Denial;
  /** when the last event for this key was written (epoch ms) */
  writtenAt: number;
  /** refusals since that event, not yet in the log */
  pending: number;
  firstPendingAt: number;
}

export interface DenialAudit {
  /** Counts a refusal; writes `auth.denied` at once when its key has no event in the current window. */
  record(d: Denial): void;
  /** Writes the pending counts of windows that have ended and forgets idle keys (the timer calls it). */
  flush(): void;
  /** Stops the timer and writes every pending count. */
  close(): void;
}

/**
 * `auth.denied` audit events, at most one per (token, route, reason) per window with a
 * `count`: a flood of refused requests costs one row a minute per key, not a row each. The
 * key holds only bounded values (a verified token id, a route pattern, a code); the keys kept
 * are capped, and refusals beyond the cap are counted under one overflow key.
 */
export function createDenialAudit(opts: { audit: AuditSink; windowMs?: number; maxKeys?: number; onError?: (e: unknown) => void }): DenialAudit {
  const windowMs = opts.windowMs ?? 60_000;
  const maxKeys = opts.maxKeys ?? 10_000;
  const windows = new Map<string, DenialWindow>();

  const write = (d: Denial, count: number, firstAt: number, now: number): void => {
    opts.audit
      .record({
        action: 'auth.denied',
        actor: d.tokenId ? `token:${d.tokenId}` : 'anonymous',
        subject: d.route,
        outcome: 'denied',
        details: { reason: d.reason, route: d.route, tokenId: d.tokenId, ip: d.ip, count, firstAt: new Date(firstAt).toISOString(), lastAt: new Date(now).toISOString(), windowSeconds: windowMs / 1000 },
      })
      .catch((e: unknown) => opts.onError?.(e));
  };

  const flush = (final = false): void => {
    const now = Date.now();
    for (const [key, w] of windows) {
      if (!final && now - w.writtenAt < windowMs) continue;
      if (w.pending > 0) {
        write(w.denial, w.pending, w.firstPendingAt, now);
        w.writtenAt = now;
        w.pending = 0;
      } else windows.delete(key);
    }
    if (final) windows.clear();
  };
  const timer = setInterval(() => flush(), Math.max(1000, Math.floor(windowMs / 4)));
  timer.unref();

  return {
    record(d) {
      const now = Date.now();
      let key = `${d.tokenId ?? ''}\u0000${d.route}\u0000${d.reason}`;
      let denial = d;
      if (!windows.has(key) && windows.size >= maxKeys) {
        key = 'overflow';
        denial = { tokenId: null, route: '*', reason: 'auth.denied_overflow', ip: d.ip };
      }
      const w = windows.get(key);
      if (!w || (now - w.writtenAt >= windowMs && w.pending === 0)) {
        windows.set(key, { denial, writtenAt: now, pending: 0, firstPendingAt: now });
        write(denial, 1, now, now);
        return;
      }
      if (now - w.writtenAt >= windowMs) {
        // The window ended before the timer came round: this refusal and those pending go out together.
        write(denial, w.pending + 1, w.firstPendingAt, now);
        Object.assign(w, { denial, writtenAt: now, pending: 0, firstPendingAt: now });
        return;
      }
      if (w.pending === 0) w.firstPendingAt = now;
      w.pending++;
      w.denial = denial;
    },
    flush: () => flush(),
    close() {
      clearInterval(timer);
      flush(true);
    },
  };
}
