/**
 * The SQLite store of live detection's cell flags: flags come back as saved after the
 * database file is closed and reopened, a save replaces a cell's flag and forgets lapsed ones
 * in the same transaction, and a row this version cannot read is reported and skipped.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqlite, type SqliteDb } from './database.js';
import { sqliteCellFlagStore } from './cell-flag-store.js';

let dir: string;
let path: string;
let db: SqliteDb;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fg-flags-'));
  path = join(dir, 'femtoguard.db');
  db = openSqlite(path);
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('sqliteCellFlagStore', () => {
  it('ok/flags survive reopening the file; a save replaces the cell\'s flag and keeps the rules\' order', async () => {
    const store = sqliteCellFlagStore(db);
    await store.save([{ cellId: '45008-1', t: 100, last: 200, rules: ['unregistered-device', 'device-moving'] }], -Infinity);
    await store.save([{ cellId: '45008-1', t: 100, last: 300, rules: ['unregistered-device', 'device-moving', 'subscriber-surge'] }, { cellId: '45008-2', t: 50, last: 50, rules: ['ims-downgrade'] }], -Infinity);
    db.close();
    db = openSqlite(path);
    const got = await sqliteCellFlagStore(db).load();
    expect(got.sort((a, b) => a.cellId.localeCompare(b.cellId))).toEqual([
      { cellId: '45008-1', t: 100, last: 300, rules: ['unregistered-device', 'device-moving', 'subscriber-surge'] },
      { cellId: '45008-2', t: 50, last: 50, rules: ['ims-downgrade'] },
    ]);
  });

  it('fail/flags whose latest time is before forgetBefore are forgotten, others kept', async () => {
    const store = sqliteCellFlagStore(db);
    await store.save(
      [
        { cellId: 'old', t: 10, last: 99, rules: ['unregistered-cell'] },
        { cellId: 'edge', t: 10, last: 100, rules: ['unregistered-cell'] },
      ],
      -Infinity,
    );
    await store.save([], 100);
    expect((await store.load()).map((f) => f.cellId)).toEqual(['edge']);
  });

  it('fail/a row that cannot be read (not JSON, unknown rule, bad times) is skipped and reported, the others load', async () => {
    const why: string[] = [];
    const store = sqliteCellFlagStore(db, (w) => why.push(w));
    await store.save([{ cellId: 'good', t: 1, last: 2, rules: ['location-mismatch'] }], -Infinity);
    const put = db.prepare('INSERT INTO detection_cell_flags (cell_id, first_t, last_t, rules) VALUES (?, ?, ?, ?)');
    put.run('notjson', 1, 2, '[unregistered');
    put.run('unknown', 1, 2, '["no-such-rule"]');
    put.run('empty', 1, 2, '[]');
    put.run('times', 5, 2, '["unregistered-cell"]');
    expect((await store.load()).map((f) => f.cellId)).toEqual(['good']);
    expect(why.sort()).toEqual([
      'cell empty: rules is not a list of known rule ids',
      'cell notjson: rules is not JSON',
      'cell times: bad flag times',
      'cell unknown: rules is not a list of known rule ids',
    ]);
  });
});
