import { randomBytes } from 'node:crypto';
import type { AuditSink } from '../audit-log/index.js';
import type { Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import { sha256Hex } from '../core/ids.js';

/** API roles. `ingest` posts events; `payment` is the payment gateway's risk checks. */
export const ROLES = ['admin', 'operator', 'viewer', 'ingest', 'payment'] as const;
export type Role = (typeof ROLES)[number];

export type Permission =
  | 'devices:read'
  | 'devices:write'
  | 'certs:read'
  | 'certs:revoke'
  | 'enroll:tokens'
  | 'audit:read'
  | 'tokens:admin'
  | 'events:ingest'
  | 'alerts:read'
  | 'alerts:write'
  | 'payments:hold'
  | 'payments:hold-status'
  | 'payments:risk'
  | 'subscribers:identifiers';

const GRANTS: Readonly<Record<Role, readonly Permission[]>> = {
  admin: ['devices:read', 'devices:write', 'certs:read', 'certs:revoke', 'enroll:tokens', 'audit:read', 'tokens:admin', 'events:ingest', 'alerts:read', 'alerts:write', 'payments:hold', 'payments:hold-status', 'payments:risk', 'subscribers:identifiers'],
  operator: ['devices:read', 'devices:write', 'certs:read', 'certs:revoke', 'enroll:tokens', 'audit:read', 'alerts:read', 'alerts:write', 'payments:hold', 'payments:hold-status', 'payments:risk'],
  viewer: ['devices:read', 'certs:read', 'audit:read', 'alerts:read'],
  ingest: ['events:ingest'],
  // The payment gateway: risk checks on subscribers it already knows by number, and whether a
  // payment of its own is held (GET /v1/payment-holds/{txId}).
  payment: ['payments:risk', 'payments:hold-status'],
};

export function can(role: Role, p: Permission): boolean {
  return GRANTS[role].includes(p);
}

/** Everything `role` may do (what `GET /v1/me` tells a client, so a console shows only what the token allows). */
export function permissionsOf(role: Role): readonly Permission[] {
  return GRANTS[role];
}

export interface ApiTokenRecord {
  id: string;
  role: Role;
  label: string | null;
  createdAt: string;
  revokedAt: string | null;
  /** when the token stops being valid (ISO 8601); null: valid until revoked */
  expiresAt: string | null;
}

/** Why a presented token was not accepted: the `auth.denied` audit event's reason. */
export type TokenRefusal = 'auth.invalid_token' | 'auth.expired_token';
export type TokenCheck = { ok: true; principal: Principal } | { ok: false; reason: TokenRefusal };

/** The longest lifetime a token may be given: ten years (beyond that, leave it without expiry and say so). */
export const MAX_TOKEN_TTL_SECONDS = 10 * 365 * 86_400;

/** Port: API tokens, stored only as SHA-256 hashes of the secret. */
export interface TokenStore {
  insert(rec: ApiTokenRecord, tokenHash: string): Promise<void>;
  byHash(tokenHash: string): Promise<ApiTokenRecord | null>;
  list(): Promise<ApiTokenRecord[]>;
  revoke(id: string, at: string): Promise<boolean>;
}

export interface Principal {
  tokenId: string;
  role: Role;
}

const TOKEN_RE = /^fgt_([A-Za-z0-9_-]{8,64})_([A-Za-z0-9_-]{32,128})$/;

/**
 * Bearer tokens: `fgt_<id>_<secret>`, 256-bit secret. Only the SHA-256 hash of the
 * whole token is stored (it is high-entropy, so a slow KDF adds nothing); the token is
 * shown once, at creation.
 */
export function createTokenService(deps: { store: TokenStore; audit: AuditSink; clock: Clock }) {
  const { store, audit, clock } = deps;
  /** Resolves a presented token, or says why it is refused (unknown, malformed, revoked: invalid; past its expiry: expired). */
  async function check(presented: string): Promise<TokenCheck> {
    if (!TOKEN_RE.test(presented)) return { ok: false, reason: 'auth.invalid_token' };
    const rec = await store.byHash(sha256Hex(presented));
    if (!rec || rec.revokedAt) return { ok: false, reason: 'auth.invalid_token' };
    // Fail closed on an expiry that does not read as a time.
    if (rec.expiresAt !== null && !(Date.parse(rec.expiresAt) > clock.now().getTime())) return { ok: false, reason: 'auth.expired_token' };
    return { ok: true, principal: { tokenId: rec.id, role: rec.role } };
  }
  return {
    /** A new token; with `ttlSeconds` it expires that long after now (else it is valid until revoked). */
    async create(role: Role, actor: string, label?: string, opts: { ttlSeconds?: number } = {}): Promise<{ token: string; record: ApiTokenRecord }> {
      if (!ROLES.includes(role)) throw new AppError('invalid', 'token.bad_role', `role must be one of ${ROLES.join(', ')}`);
      const ttl = opts.ttlSeconds;
      if (ttl !== undefined && !(Number.isInteger(ttl) && ttl >= 60 && ttl <= MAX_TOKEN_TTL_SECONDS)) {
        throw new AppError('invalid', 'token.bad_ttl', `a token's lifetime must be a whole number of seconds from 60 to ${MAX_TOKEN_TTL_SECONDS} (ten years), got ${String(ttl)}`);
      }
      const id = randomBytes(6).toString('hex');
      const token = `fgt_${id}_${randomBytes(32).toString('base64url')}`;
      const now = clock.now();
      const expiresAt = ttl === undefined ? null : new Date(now.getTime() + ttl * 1000).toISOString();
      const record: ApiTokenRecord = { id, role, label: label ?? null, createdAt: now.toISOString(), revokedAt: null, expiresAt };
      await store.insert(record, sha256Hex(token));
      await audit.record({ action: 'token.created', actor, subject: id, outcome: 'success', details: { role, label: label ?? null, expiresAt } });
      return { token, record };
    },
    check,
    /** Resolves a presented token, or null (unknown, malformed, revoked, expired). */
    async verify(presented: string): Promise<Principal | null> {
      const c = await check(presented);
      return c.ok ? c.principal : null;
    },
    list: (): Promise<ApiTokenRecord[]> => store.list(),
    async revoke(id: string, actor: string): Promise<void> {
      const ok = await store.revoke(id, clock.now().toISOString());
      if (!ok) throw new AppError('not_found', 'token.not_found', `no active token ${id}`);
      await audit.record({ action: 'token.revoked', actor, subject: id, outcome: 'success' });
    },
  };
}

export type TokenService = ReturnType<typeof createTokenService>;
