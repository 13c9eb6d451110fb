/**
 * The SQLite device store under writers that race: a data-only update (PATCH, an import row
 * with the same status) never writes the status back, and a status change is a compare-and-set
 * on the status it was read with, so a change committed meanwhile by another process (the CLI)
 * is never silently undone.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deviceCreateSchema, type DeviceStore } from '../../registry/index.js';
import { openSqlite, type SqliteDb } from './database.js';
import { sqliteDeviceStore } from './device-store.js';

const AT = '2026-03-01T00:00:00.000Z';
let db: SqliteDb;
let store: DeviceStore;

beforeEach(async () => {
  db = openSqlite(':memory:');
  store = sqliteDeviceStore(db);
  const device = deviceCreateSchema.parse({ serial: 'R1', status: 'active' });
  await store.write([{ kind: 'insert', device, change: { serial: 'R1', from: null, to: 'active', actor: 't', reason: 't', at: AT } }], AT);
});
afterEach(() => db.close());

describe('sqliteDeviceStore.write', () => {
  it('fail/a data-only update read before another process set the device lost leaves it lost', async () => {
    const read = await store.get('R1');
    if (!read) throw new Error('no device');
    expect(await store.setStatus({ serial: 'R1', from: 'active', to: 'lost', actor: 'cli', reason: 'stolen', at: AT })).toMatchObject({ status: 'lost' });
    expect(await store.write([{ kind: 'update', device: { ...read, owner: 'new owner' }, change: null }], AT)).toEqual({ conflicts: [] });
    expect(await store.get('R1')).toMatchObject({ status: 'lost', owner: 'new owner' });
  });

  it('fail/a status change from a status that no longer holds is a conflict: nothing of the row is written, no history row', async () => {
    const read = await store.get('R1');
    if (!read) throw new Error('no device');
    await store.setStatus({ serial: 'R1', from: 'active', to: 'lost', actor: 'cli', reason: 'stolen', at: AT });
    const r = await store.write([{ kind: 'update', device: { ...read, status: 'suspended', owner: 'x' }, change: { serial: 'R1', from: 'active', to: 'suspended', actor: 'import', reason: 'import', at: AT } }], AT);
    expect(r).toEqual({ conflicts: ['R1'] });
    expect(await store.get('R1')).toMatchObject({ status: 'lost', owner: null });
    expect((await store.history('R1')).map((h) => `${h.from ?? ''}>${h.to}`)).toEqual(['>active', 'active>lost']);
  });

  it('ok/a status change from the status it was read with is written with its history row', async () => {
    const read = await store.get('R1');
    if (!read) throw new Error('no device');
    const r = await store.write([{ kind: 'update', device: { ...read, status: 'suspended' }, change: { serial: 'R1', from: 'active', to: 'suspended', actor: 'import', reason: 'import', at: AT } }], AT);
    expect(r).toEqual({ conflicts: [] });
    expect(await store.get('R1')).toMatchObject({ status: 'suspended' });
  });
});
