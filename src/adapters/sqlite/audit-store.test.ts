/**
 * Reading the audit log in pages: newest first by default, and a follower that pages forward
 * with `afterId` (the last id it read) gets every later event exactly once, oldest first.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditStore } from '../../audit-log/index.js';
import { sqliteAuditStore } from './audit-store.js';
import { openSqlite, type SqliteDb } from './database.js';

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
