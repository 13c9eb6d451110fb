import type { ApiTokenRecord, TokenStore } from '../../api/tokens.js';
import type { SqliteDb } from './database.js';

const SELECT = 'SELECT id, role, label, created_at AS createdAt, revoked_at AS revokedAt, expires_at AS expiresAt FROM api_tokens';

export function sqliteTokenStore(db: SqliteDb): TokenStore {
  const ins = db.prepare('INSERT INTO api_tokens (id, role, token_hash, label, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)');
  const byHash = db.prepare(`${SELECT} WHERE token_hash = ?`);
  return {
    insert(r, hash) {
      ins.run(r.id, r.role, hash, r.label, r.createdAt, r.expiresAt);
      return Promise.resolve();
    },
    byHash: (h) => Promise.resolve((byHash.get(h) as ApiTokenRecord | undefined) ?? null),
    list: () => Promise.resolve(db.prepare(`${SELECT} ORDER BY created_at`).all() as ApiTokenRecord[]),
    revoke: (id, at) => Promise.resolve(db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(at, id).changes === 1),
  };
}
