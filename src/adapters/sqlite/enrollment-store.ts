import type { ConsumeResult, EnrollTokenRecord, EnrollmentStore, VendorRoot } from '../../est/store.js';
import type { SqliteDb } from './database.js';

const SELECT = 'SELECT id, serial, created_at AS createdAt, expires_at AS expiresAt, used_at AS usedAt, created_by AS createdBy FROM enroll_tokens';

export function sqliteEnrollmentStore(db: SqliteDb): EnrollmentStore {
  const ins = db.prepare('INSERT INTO enroll_tokens (id, serial, token_hash, created_at, expires_at, created_by) VALUES (?, ?, ?, ?, ?, ?)');
  const byHash = db.prepare(`${SELECT} WHERE token_hash = ?`);
  const use = db.prepare('UPDATE enroll_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL');
  const consumeTx = db.transaction((hash: string, serial: string, now: string): ConsumeResult => {
    const t = byHash.get(hash) as EnrollTokenRecord | undefined;
    if (!t) return 'unknown';
    if (t.serial !== serial) return 'wrong_serial';
    if (t.usedAt) return 'used';
    if (t.expiresAt <= now) return 'expired';
    return use.run(now, hash).changes === 1 ? 'ok' : 'used';
  });
  const bindTx = db.transaction((cred: string, serial: string, at: string): string => {
    const cur = db.prepare('SELECT serial FROM vendor_bindings WHERE credential = ?').pluck().get(cred) as string | undefined;
    if (cur !== undefined) return cur;
    db.prepare('INSERT INTO vendor_bindings (credential, serial, bound_at) VALUES (?, ?, ?)').run(cred, serial, at);
    return serial;
  });
  return {
    insertToken(r, hash) {
      ins.run(r.id, r.serial, hash, r.createdAt, r.expiresAt, r.createdBy);
      return Promise.resolve();
    },
    consumeToken: (hash, serial, now) => Promise.resolve(consumeTx.immediate(hash, serial, now)),
    unconsumeToken(hash) {
      db.prepare('UPDATE enroll_tokens SET used_at = NULL WHERE token_hash = ?').run(hash);
      return Promise.resolve();
    },
    listTokens: (serial) =>
      Promise.resolve((serial ? db.prepare(`${SELECT} WHERE serial = ? ORDER BY created_at`).all(serial) : db.prepare(`${SELECT} ORDER BY created_at`).all()) as EnrollTokenRecord[]),
    addVendorRoot(r: VendorRoot) {
      const res = db.prepare('INSERT OR IGNORE INTO vendor_roots (fingerprint, subject, der, added_at) VALUES (?, ?, ?, ?)').run(r.fingerprint, r.subject, r.der, r.addedAt);
      return Promise.resolve(res.changes === 1);
    },
    vendorRoots: () => Promise.resolve(db.prepare('SELECT fingerprint, subject, der, added_at AS addedAt FROM vendor_roots').all() as VendorRoot[]),
    bindVendorCredential: (cred, serial, at) => Promise.resolve(bindTx.immediate(cred, serial, at)),
  };
}
