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
  | 'payments:risk'
  | 'subscribers:identifiers';

const GRANTS: Readonly<Record<Role, readonly Permission[]>> = {
  admin: ['devices:read', 'devices:write', 'certs:read', 'certs:revoke', 'enroll:tokens', 'audit:read', 'tokens:admin', 'events:ingest', 'alerts:read', 'alerts:write', 'payments:hold', 'payments:risk', 'subscribers:identifiers'],
  operator: ['devices:read', 'devices:write', 'certs:read', 'certs:revoke', 'enroll:tokens', 'audit:read', 'alerts:read', 'alerts:write', 'payments:hold', 'payments:risk'],
  viewer: ['devices:read', 'certs:read', 'audit:read', 'alerts:read'],
  ingest: ['events:ingest'],
  // The payment gateway: risk checks on subscribers it already knows by number.
  payment: ['payments:risk'],
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
}

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
  return {
    async create(role: Role, actor: string, label?: string): Promise<{ token: string; record: ApiTokenRecord }> {
      if (!ROLES.includes(role)) throw new AppError('invalid', 'token.bad_role', `role must be one of ${ROLES.join(', ')}`);
      const id = randomBytes(6).toString('hex');
      const token = `fgt_${id}_${randomBytes(32).toString('base64url')}`;
      const record: ApiTokenRecord = { id, role, label: label ?? null, createdAt: clock.now().toISOString(), revokedAt: null };
      await store.insert(record, sha256Hex(token));
      await audit.record({ action: 'token.created', actor, subject: id, outcome: 'success', details: { role, label: label ?? null } });
      return { token, record };
    },
    /** Resolves a presented token, or null (unknown, malformed, revoked). */
    async verify(presented: string): Promise<Principal | null> {
      if (!TOKEN_RE.test(presented)) return null;
      const rec = await store.byHash(sha256Hex(presented));
      if (!rec || rec.revokedAt) return null;
      return { tokenId: rec.id, role: rec.role };
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
