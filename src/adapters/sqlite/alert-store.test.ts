/**
 * The SQLite alert store folds by itself: each upsert is one more finding, whatever the
 * engine's alert book still holds. A restart (a second, empty book over the same database
 * file) continues the stored count and never lowers the stored severity.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AlertBook, type Finding } from '../../detection/alerts.js';
import type { AlertStore, UpsertedAlert } from '../../detection/store.js';
import { sqliteAlertStore } from './alert-store.js';
import { openSqlite, type SqliteDb } from './database.js';

const T0 = Date.parse('2025-08-02T15:00:00Z');
const MIN = 60_000;
const iso = (m: number): string => new Date(T0 + m * MIN).toISOString();
const finding = (m: number, severity: Finding['severity'], summary: string): Finding => ({ rule: 'unregistered-cell', severity, t: T0 + m * MIN, cellId: '45008-300348010', summary, evidence: { summary } });

let dir: string;
let db: SqliteDb;
let store: AlertStore;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fg-alert-store-'));
  db = openSqlite(join(dir, 'femtoguard.db'));
  store = sqliteAlertStore(db);
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** What live detection does per finding: fold it into the engine's book, write the alert. */
async function fold(book: AlertBook, f: Finding, at: number): Promise<string> {
  return (await write(book, f, at)).alert.id;
}

/** As `fold`, returning what the store made of the finding. */
async function write(book: AlertBook, f: Finding, at: number): Promise<UpsertedAlert> {
  const { alert } = book.fold(f);
  return store.upsert({ ...alert }, iso(at));
}

/** The server stops and starts again over the same file: a new store, a new (empty) book. */
function restart(): AlertBook {
  db.close();
  db = openSqlite(join(dir, 'femtoguard.db'));
  store = sqliteAlertStore(db);
  return new AlertBook();
}

describe('sqlite alert store: upsert is one more finding', () => {
  it('ok/a new alert is stored as the finding, with count 1', async () => {
    const id = await fold(new AlertBook(), finding(0, 'high', 'first'), 1);
    expect(await store.get(id)).toMatchObject({ count: 1, severity: 'high', summary: 'first', evidence: { summary: 'first' }, ts: iso(0), firstSeen: iso(0), lastSeen: iso(0), status: 'open', updatedAt: iso(1) });
  });

  it('ok/after a restart the count continues from the stored one', async () => {
    const book = new AlertBook();
    for (let m = 0; m < 5; m++) await fold(book, finding(m, 'high', `before ${m}`), m);
    const again = restart();
    let id = '';
    for (let m = 10; m < 13; m++) id = await fold(again, finding(m, 'high', `after ${m}`), m);
    expect(again.list()[0]?.count).toBe(3); // the book knows only what it saw
    expect(await store.get(id)).toMatchObject({ count: 8, ts: iso(0), firstSeen: iso(0), lastSeen: iso(12), summary: 'before 0', updatedAt: iso(12) });
  });

  it('fail/a finding of lower severity after a restart does not lower the stored severity, summary or evidence', async () => {
    const book = new AlertBook();
    await fold(book, finding(0, 'medium', 'a medium'), 0);
    await fold(book, finding(1, 'critical', 'the critical'), 1);
    const id = await fold(restart(), finding(5, 'high', 'a high, after the restart'), 5);
    expect(await store.get(id)).toMatchObject({ count: 3, severity: 'critical', summary: 'the critical', evidence: { summary: 'the critical' }, lastSeen: iso(5) });
  });

  it('fail/a finding of the same severity does not replace the stored summary and evidence', async () => {
    const id = await fold(new AlertBook(), finding(0, 'high', 'the first high'), 0);
    await fold(restart(), finding(3, 'high', 'another high'), 3);
    expect(await store.get(id)).toMatchObject({ severity: 'high', summary: 'the first high', evidence: { summary: 'the first high' } });
  });

  it('ok/a finding of strictly higher severity replaces severity, summary and evidence together', async () => {
    const id = await fold(new AlertBook(), finding(0, 'low', 'a low'), 0);
    await fold(restart(), finding(2, 'high', 'now high'), 2);
    expect(await store.get(id)).toMatchObject({ count: 2, severity: 'high', summary: 'now high', evidence: { summary: 'now high' }, ts: iso(0) });
  });

  it('ok/firstSeen is the earlier and lastSeen the later, whatever order the findings are written in; ts stays the first write', async () => {
    const id = await fold(new AlertBook(), finding(20, 'high', 'at 20'), 20);
    // After a restart, a late event older than everything stored.
    await fold(restart(), finding(5, 'high', 'late, at 5'), 21);
    const a = await store.get(id);
    expect(a).toMatchObject({ count: 2, ts: iso(20), firstSeen: iso(5), lastSeen: iso(20) });
  });

  it('ok/the operator\'s status is kept by later findings, before and after a restart', async () => {
    const book = new AlertBook();
    const id = await fold(book, finding(0, 'high', 'first'), 0);
    await store.setStatus(id, 'acknowledged', 'noc', 'looking', iso(1));
    await fold(book, finding(2, 'critical', 'worse'), 2);
    await fold(restart(), finding(3, 'high', 'again'), 3);
    expect(await store.get(id)).toMatchObject({ status: 'acknowledged', statusBy: 'noc', statusNote: 'looking', count: 3, severity: 'critical', updatedAt: iso(3) });
  });

  it('ok/a finding on a resolved alert reopens it: status open by system:detection, its responses due again; fail/an acknowledged one is not reopened', async () => {
    const book = new AlertBook();
    const id = await fold(book, finding(0, 'high', 'first'), 0);
    await store.markResponded(id, iso(0));
    await store.setStatus(id, 'resolved', 'noc', 'device reactivated', iso(1));
    const r = await write(book, finding(5, 'high', 'back'), 5);
    expect(r).toMatchObject({ isNew: false, reopened: true, alert: { status: 'open', statusBy: 'system:detection', statusNote: 'raised again after it was resolved', respondedAt: null, count: 2 } });
    await store.markResponded(id, iso(5));
    await store.setStatus(id, 'acknowledged', 'noc', 'on it', iso(6));
    const again = await write(book, finding(7, 'high', 'more'), 7);
    expect(again).toMatchObject({ reopened: false, alert: { status: 'acknowledged', statusBy: 'noc', respondedAt: iso(5), count: 3 } });
  });

  it('ok/minSeverity still filters on the stored severity', async () => {
    await fold(new AlertBook(), finding(0, 'critical', 'c'), 0);
    await fold(restart(), finding(1, 'low', 'l'), 1);
    expect((await store.list({ minSeverity: 'critical' })).map((a) => a.severity)).toEqual(['critical']);
    expect(await store.list({ minSeverity: 'critical', rule: 'idle-device' })).toEqual([]);
  });
});

describe('sqlite alert store: upsert says what the store made of the finding', () => {
  it('ok/a new id is new, with severityBefore -1 and the stored row as written', async () => {
    const r = await write(new AlertBook(), finding(0, 'high', 'first'), 1);
    expect(r).toMatchObject({ isNew: true, severityBefore: -1, reopened: false, alert: { count: 1, severity: 'high', status: 'open', updatedAt: iso(1) } });
    expect(r.alert).toEqual(await store.get(r.alert.id));
  });

  it('fail/after a restart the engine\'s new alert is not new to the store: the stored count, firstSeen and status come back', async () => {
    const book = new AlertBook();
    for (let m = 0; m < 3; m++) await fold(book, finding(m, 'high', `before ${m}`), m);
    const id = await fold(book, finding(3, 'high', 'before 3'), 3);
    await store.setStatus(id, 'acknowledged', 'noc', null, iso(4));
    const again = restart();
    const r = await write(again, finding(10, 'high', 'after'), 10);
    expect(again.list()[0]?.count).toBe(1);
    expect(r).toMatchObject({ isNew: false, severityBefore: 2, alert: { count: 5, firstSeen: iso(0), lastSeen: iso(10), summary: 'before 0', status: 'acknowledged', statusBy: 'noc' } });
  });

  it('ok/severityBefore is the stored rank before the finding: a rise shows as before < after, a lower finding as before = after', async () => {
    const book = new AlertBook();
    await fold(book, finding(0, 'medium', 'm'), 0);
    const up = await write(restart(), finding(1, 'critical', 'c'), 1);
    expect(up).toMatchObject({ isNew: false, severityBefore: 1, alert: { severity: 'critical', summary: 'c' } });
    const down = await write(restart(), finding(2, 'low', 'l'), 2);
    expect(down).toMatchObject({ isNew: false, severityBefore: 3, alert: { severity: 'critical', count: 3 } });
  });

  it('fail/a write that fails rejects, adds nothing and leaves the store usable', async () => {
    const book = new AlertBook();
    const id = await fold(book, finding(0, 'high', 'first'), 0);
    const { alert } = book.fold(finding(1, 'high', 'second'));
    // evidence that JSON cannot carry: the statement never runs
    await expect(store.upsert({ ...alert, evidence: { n: 1n } as unknown as Record<string, unknown> }, iso(1))).rejects.toThrow();
    expect(await store.get(id)).toMatchObject({ count: 1 });
    expect(await write(book, finding(2, 'high', 'third'), 2)).toMatchObject({ isNew: false, alert: { count: 2 } });
  });
});

describe('sqlite alert store: list filters', () => {
  const at = (m: number, cell: string): Finding => ({ rule: 'unregistered-cell', severity: 'high', t: T0 + m * MIN, cellId: cell, summary: cell, evidence: {} });

  it('ok/since with an offset is compared as the UTC time it stands for, not as text', async () => {
    const book = new AlertBook();
    await fold(book, at(0, '45008-1'), 0); // 15:00Z
    await fold(book, at(120, '45008-2'), 120); // 17:00Z
    // 00:30 the next day in Korea is 15:30Z: only the second alert is at or after it.
    expect((await store.list({ since: '2025-08-03T00:30:00+09:00' })).map((a) => a.cellId)).toEqual(['45008-2']);
    expect((await store.list({ since: '2025-08-02T23:59:59.999+09:00' })).map((a) => a.cellId)).toEqual(['45008-2', '45008-1']);
    await expect(store.list({ since: 'garbage' })).rejects.toThrow(/since/);
  });

  it('fail/a before cursor that names no alert lists nothing, not page 1 again', async () => {
    const book = new AlertBook();
    await fold(book, at(0, '45008-1'), 0);
    const second = await fold(book, at(1, '45008-2'), 1);
    expect((await store.list({ before: second })).map((a) => a.cellId)).toEqual(['45008-1']);
    expect(await store.list({ before: 'al_nothing' })).toEqual([]);
  });
});
