/**
 * The SQLite webhook outbox: a target's jobs come back in enqueue order, survive closing and
 * reopening the database file, and a full queue loses its oldest jobs, never another target's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { WebhookOutbox } from '../../detection/sinks/outbox.js';
import { openSqlite, type SqliteDb } from './database.js';
import { sqliteWebhookOutbox } from './webhook-outbox.js';

const T0 = Date.parse('2025-08-02T15:00:00Z');
let dir: string;
let path: string;
let db: SqliteDb;
let outbox: WebhookOutbox;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fg-outbox-'));
  path = join(dir, 'femtoguard.db');
  db = openSqlite(path);
  outbox = sqliteWebhookOutbox(db);
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const job = (target: string, n: number): { target: string; body: string; alertId: string } => ({ target, body: `{"n":${n}}`, alertId: `al_${n}` });

describe('sqliteWebhookOutbox', () => {
  it('ok/each target its own queue, oldest first; remove reveals the next', () => {
    outbox.enqueue([job('A', 1), job('B', 1)], T0, 10);
    outbox.enqueue([job('A', 2)], T0 + 1, 10);
    const a1 = outbox.head('A');
    expect(a1).toMatchObject({ target: 'A', body: '{"n":1}', alertId: 'al_1', attempt: 0, nextAt: T0 });
    expect(outbox.head('B')?.alertId).toBe('al_1');
    outbox.remove(a1?.id ?? -1);
    expect(outbox.head('A')).toMatchObject({ alertId: 'al_2', nextAt: T0 + 1 });
    expect(outbox.head('C')).toBeUndefined();
    expect(outbox.pendingByTarget()).toEqual(new Map([['A', 1], ['B', 1]]));
  });

  it('ok/a failed attempt is recorded: attempt, next time, reason; the job keeps its place', () => {
    outbox.enqueue([job('A', 1), job('A', 2)], T0, 10);
    const head = outbox.head('A');
    outbox.retryLater(head?.id ?? -1, 1, T0 + 500, 'HTTP 503');
    expect(outbox.head('A')).toMatchObject({ id: head?.id, attempt: 1, nextAt: T0 + 500 });
    expect(db.prepare('SELECT last_error FROM webhook_outbox WHERE id = ?').pluck().get(head?.id)).toBe('HTTP 503');
  });

  it('ok/survives closing and reopening the file (a restart)', () => {
    outbox.enqueue([job('A', 1), job('A', 2)], T0, 10);
    db.close();
    db = openSqlite(path);
    outbox = sqliteWebhookOutbox(db);
    expect(outbox.head('A')?.alertId).toBe('al_1');
    expect(outbox.pendingByTarget().get('A')).toBe(2);
  });

  it('fail/beyond maxQueue the oldest jobs of that target are dropped and returned; other targets untouched', () => {
    outbox.enqueue([job('A', 1), job('B', 1)], T0, 2);
    outbox.enqueue([job('A', 2)], T0, 2);
    const dropped = outbox.enqueue([job('A', 3), job('A', 4)], T0, 2);
    expect(dropped.map((d) => [d.target, d.alertId])).toEqual([['A', 'al_1'], ['A', 'al_2']]);
    expect(outbox.head('A')?.alertId).toBe('al_3');
    expect(outbox.pendingByTarget()).toEqual(new Map([['A', 2], ['B', 1]]));
  });

  it('fail/removing or retrying a job already gone changes nothing', () => {
    outbox.enqueue([job('A', 1)], T0, 10);
    outbox.remove(999);
    outbox.retryLater(999, 3, T0 + 1, 'timeout');
    expect(outbox.head('A')).toMatchObject({ alertId: 'al_1', attempt: 0 });
    expect(outbox.enqueue([], T0, 10)).toEqual([]);
  });
});
