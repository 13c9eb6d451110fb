/**
 * A data directory a newer femtoguard migrated is refused by an older one: writing to it would
 * go around what the newer schema added (the audit chain, token expiry).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isAppError } from '../../core/errors.js';
import { openSqlite } from './database.js';
import { MIGRATIONS } from './migrations.js';

describe('openSqlite and the schema version', () => {
  it('ok/a database at this version opens again, with nothing left to apply', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'fg-db-')), 'db.sqlite');
    openSqlite(file).close();
    const db = openSqlite(file);
    const versions = (db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as { version: number }[]).map((r) => r.version);
    expect(versions).toEqual(MIGRATIONS.map((m) => m.version));
    db.close();
  });

  it('fail/a database migrated by a newer femtoguard is refused, naming both versions', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'fg-db-')), 'db.sqlite');
    const db = openSqlite(file);
    const known = Math.max(...MIGRATIONS.map((m) => m.version));
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(known + 1, 'from the future', new Date().toISOString());
    db.close();
    let err: unknown;
    try {
      openSqlite(file);
    } catch (e) {
      err = e;
    }
    expect(isAppError(err) && err.code).toBe('db.schema_newer');
    expect(String((err as Error).message)).toContain(`schema version ${known + 1}`);
    expect(String((err as Error).message)).toContain(`knows up to ${known}`);
  });
});
