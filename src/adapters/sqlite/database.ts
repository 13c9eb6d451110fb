import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { AppError } from '../../core/errors.js';
import { MIGRATIONS } from './migrations.js';

export type SqliteDb = Database.Database;

/**
 * Opens (creating if needed) the SQLite database and applies pending migrations, each in
 * its own transaction, recorded in `schema_migrations`. WAL lets the CLI and the server
 * share the file; busy_timeout makes a writer wait rather than fail.
 */
export function openSqlite(path: string): SqliteDb {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  // FULL: a committed transaction (an acknowledged event) survives a crash of the process or the machine.
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

export function migrate(db: SqliteDb): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
  const done = new Set((db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version));
  // A database a newer femtoguard has migrated: this one would write around what it added (an
  // audit event without its hash link breaks the chain for good; a token's expiry would be
  // ignored). Refused before anything is written; going back means restoring a backup.
  const known = Math.max(...MIGRATIONS.map((m) => m.version));
  const newest = Math.max(0, ...done);
  if (newest > known) {
    throw new AppError('unavailable', 'db.schema_newer', `the database is at schema version ${newest}, written by a newer femtoguard; this one knows up to ${known}: run the newer version, or restore a backup taken before the upgrade`, { schemaVersion: newest, known });
  }
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    if (done.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      m.after?.(db);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
    }).immediate();
    applied.push(m.version);
  }
  return applied;
}
