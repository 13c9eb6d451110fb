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
  const boundTo = db.prepare('SELECT serial FROM vendor_bindings WHERE credential = ?').pluck();
  const bind = db.prepare('INSERT INTO vendor_bindings (credential, serial, bound_at) VALUES (?, ?, ?)');
  const bindTx = db.transaction((creds: readonly string[], serial: string, at: string) => {
    for (const credential of creds) {
      const cur = boundTo.get(credential) as string | undefined;
      if (cur !== undefined && cur !== serial) return { ok: false as const, credential, boundTo: cur };
    }
    const created: string[] = [];
    for (const credential of creds) {
      if (boundTo.get(credential) === undefined) {
        bind.run(credential, serial, at);
        created.push(credential);
      }
    }
    return { ok: true as const, created };
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
    bindVendorCredentials: (creds, serial, at) => Promise.resolve(bindTx.immediate(creds, serial, at)),
    unbindVendorCredentials(creds, serial) {
      const del = db.prepare('DELETE FROM vendor_bindings WHERE credential = ? AND serial = ?');
      db.transaction(() => {
        for (const c of creds) del.run(c, serial);
      }).immediate();
      return Promise.resolve();
    },
  };
}
