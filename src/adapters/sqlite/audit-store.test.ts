/**
 * The audit log's hash chain as stored: every write is linked, tampering with the file is
 * found, two processes writing one file keep one chain, and a log from before the chain
 * is chained by its migration. Also: reading the audit log in pages: newest first by default, and a follower that pages forward
 * with `afterId` (the last id it read) gets every later event exactly once, oldest first.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditStore } from '../../audit-log/index.js';
import { sqliteAuditStore } from './audit-store.js';
import { migrate, openSqlite, type SqliteDb } from './database.js';
import { MIGRATIONS } from './migrations.js';

let db: SqliteDb;
let audit: AuditStore;
beforeEach(async () => {
  db = openSqlite(':memory:');
  audit = sqliteAuditStore(db);
  for (let i = 1; i <= 25; i++) await audit.record({ action: 'test.event', actor: 't', subject: `s${i}`, outcome: 'success' });
});
afterEach(() => db.close());

describe('sqliteAuditStore.list', () => {
  it('ok/newest first without a cursor; beforeId pages back', async () => {
    const page = await audit.list({ limit: 10 });
    expect(page.map((e) => e.subject)).toEqual(Array.from({ length: 10 }, (_, i) => `s${25 - i}`));
    const back = await audit.list({ limit: 10, beforeId: page[page.length - 1]?.id });
    expect(back.map((e) => e.subject)).toEqual(Array.from({ length: 10 }, (_, i) => `s${15 - i}`));
  });

  it('fail/a follower paging forward with afterId misses none and repeats none (it got the newest again before)', async () => {
    const seen: string[] = [];
    let cursor = 0;
    for (;;) {
      const page = await audit.list({ afterId: cursor, limit: 10 });
      if (page.length === 0) break;
      seen.push(...page.map((e) => e.subject ?? ''));
      cursor = page[page.length - 1]?.id ?? cursor;
    }
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `s${i + 1}`));
  });
});

describe('sqliteAuditStore: the hash chain', () => {
  it('ok/every event written is chained; the list shows each event\'s hash', async () => {
    const r = await audit.verify();
    expect(r).toMatchObject({ ok: true, events: 25, breakCount: 0 });
    const [newest] = await audit.list({ limit: 1 });
    expect(r.head).toEqual({ id: newest?.id, hash: newest?.hash });
    expect(newest?.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(await audit.count()).toBe(25);
  });

  it('fail/an event changed, or deleted, in the database file is named', async () => {
    db.prepare("UPDATE audit_events SET outcome = 'denied' WHERE subject = 's7'").run();
    db.prepare("DELETE FROM audit_events WHERE subject = 's12'").run();
    const r = await audit.verify();
    expect(r.ok).toBe(false);
    const ids = (await audit.list({ limit: 100 })).reduce<Record<string, number>>((m, e) => ({ ...m, [e.subject ?? '']: e.id }), {});
    expect(r.breaks.map((b) => [b.id, b.problem])).toEqual([
      [ids.s7, 'content-changed'],
      [ids.s13, 'link-broken'],
    ]);
  });

  it('fail/a row inserted around the store (no hash) is named, and the log still takes events after it', async () => {
    db.prepare("INSERT INTO audit_events (at, actor, action, subject, outcome) VALUES ('2026-01-01T00:00:00Z', 'x', 'forged', 'f', 'success')").run();
    await audit.record({ action: 'test.after', actor: 't', outcome: 'success' });
    const r = await audit.verify();
    expect(r.breaks.map((b) => b.problem)).toEqual(['unchained', 'link-broken']);
  });

  it('fail/a subject with a lone surrogate (a client-chosen serial) is hashed as stored: the chain stays intact', async () => {
    await audit.record({ action: 'admission.deny', actor: 'anonymous', subject: 'X\ud800', outcome: 'denied', details: { claimed: 'Y\udfff' } });
    await audit.record({ action: 'test.after', actor: 'anonymous\udc00', outcome: 'success' });
    expect(await audit.verify()).toMatchObject({ ok: true, events: 27 });
    expect((await audit.list({ limit: 2 })).map((e) => e.actor)).toEqual(['anonymous\ufffd', 'anonymous']);
  });

  it('ok/verification reads the log in pages and leaves the event loop free between them; one at a time', async () => {
    for (let i = 0; i < 5000; i++) await audit.record({ action: 'test.bulk', actor: 't', outcome: 'success' });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const running = audit.verify();
    const second = await audit.verify().catch((e: unknown) => e);
    expect(second).toMatchObject({ code: 'audit.verify_running' });
    const r = await running;
    clearInterval(timer);
    expect(r).toMatchObject({ ok: true, events: 5025 });
    expect(ticks).toBeGreaterThan(0);
    expect(await audit.verify()).toMatchObject({ ok: true });
  });

  it('ok/two connections to one file (the server and the CLI) writing in turn keep one chain', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'fg-chain-')), 'db.sqlite');
    const a = openSqlite(file);
    const b = openSqlite(file);
    try {
      const sa = sqliteAuditStore(a);
      const sb = sqliteAuditStore(b);
      for (let i = 0; i < 40; i++) await (i % 3 === 0 ? sb : sa).record({ action: 'test.turn', actor: i % 3 === 0 ? 'cli' : 'server', outcome: 'success' });
      expect(await sa.verify()).toMatchObject({ ok: true, events: 40 });
      expect(await sb.verify()).toMatchObject({ ok: true, events: 40 });
    } finally {
      a.close();
      b.close();
    }
  });

  it('ok/a log written before the chain existed is chained by migration 10, oldest first', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'fg-chain-')), 'db.sqlite');
    const old = new Database(file);
    old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    for (const m of MIGRATIONS.filter((m) => m.version < 10)) {
      old.exec(m.sql);
      old.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, '2026-01-01T00:00:00Z');
    }
    const ins = old.prepare('INSERT INTO audit_events (at, actor, action, subject, outcome, details) VALUES (?, ?, ?, ?, ?, ?)');
    // More than two of the migration's pages of 10,000.
    old.transaction(() => {
      for (let i = 1; i <= 25_005; i++) ins.run('2026-01-01T00:00:00.000Z', 'cli', 'old.event', `o${i}`, 'success', i % 2 ? null : '{"k":1}');
    })();
    expect(migrate(old)).toEqual(MIGRATIONS.filter((m) => m.version >= 10).map((m) => m.version));
    old.close();
    const reopened = openSqlite(file);
    try {
      const store = sqliteAuditStore(reopened);
      await store.record({ action: 'new.event', actor: 't', outcome: 'success' });
      expect(await store.verify()).toMatchObject({ ok: true, events: 25_006 });
    } finally {
      reopened.close();
    }
  });
});
