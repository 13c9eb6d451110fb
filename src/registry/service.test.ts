import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { openSqlite, sqliteAuditStore, sqliteDeviceStore } from '../adapters/sqlite/index.js';
import { fixedClock } from '../core/clock.js';
import type { DeviceStatus } from './device-input.js';
import { createRegistry, type CredentialRevoker } from './service.js';

function setup() {
  const db = openSqlite(':memory:');
  const calls: [string, DeviceStatus | null, DeviceStatus][] = [];
  const revoker: CredentialRevoker = {
    applyStatus: (serial, from, to) => {
      calls.push([serial, from, to]);
      return Promise.resolve(to === 'lost' ? 2 : 0);
    },
  };
  const audit = sqliteAuditStore(db);
  const registry = createRegistry({ store: sqliteDeviceStore(db), revoker, audit, clock: fixedClock(new Date('2026-01-01T00:00:00Z')) });
  return { registry, calls, audit };
}

const base = { cellIds: [], siteLat: null, siteLon: null, siteRadiusM: 300, ipPrefixes: [], expectedNeighbors: [], certFingerprints: [], owner: null };
const csv = (s: string): Readable => Readable.from([Buffer.from(s)]);

describe('registry service', () => {
  it('ok/status changes are enforced, recorded with who/when/from/to/why, and revoke credentials', async () => {
    const { registry, calls, audit } = setup();
    await registry.add({ ...base, serial: 'A', status: 'active' }, 'cli:alice');
    const res = await registry.setStatus('A', 'lost', 'token:t1', 'stolen from the shop');
    expect(res.device.status).toBe('lost');
    expect(res.certificatesChanged).toBe(2);
    expect(calls).toEqual([['A', 'active', 'lost']]);
    const h = await registry.history('A');
    expect(h.map((x) => [x.from, x.to, x.actor, x.reason])).toEqual([
      [null, 'active', 'cli:alice', 'added'],
      ['active', 'lost', 'token:t1', 'stolen from the shop'],
    ]);
    expect(h[1]?.at).toBe('2026-01-01T00:00:00.000Z');
    expect((await audit.list({ action: 'device.status_changed' })).length).toBe(1);
  });

  it('fail/forbidden transition is refused, audited, and changes nothing', async () => {
    const { registry, calls, audit } = setup();
    await registry.add({ ...base, serial: 'B', status: 'decommissioned' }, 'cli');
    await expect(registry.setStatus('B', 'active', 'cli', 'oops')).rejects.toMatchObject({ code: 'device.transition_not_allowed' });
    expect((await registry.mustGet('B')).status).toBe('decommissioned');
    expect(calls).toEqual([]);
    expect((await audit.list({ action: 'device.status_change_refused' }))[0]?.outcome).toBe('denied');
  });

  it('fail/unknown device and duplicate add', async () => {
    const { registry } = setup();
    await expect(registry.setStatus('nope', 'active', 'cli', 'x')).rejects.toMatchObject({ code: 'device.not_found', kind: 'not_found' });
    await registry.add({ ...base, serial: 'C', status: 'provisioned' }, 'cli');
    await expect(registry.add({ ...base, serial: 'C', status: 'provisioned' }, 'cli')).rejects.toMatchObject({ code: 'device.exists' });
  });

  it('ok/import keeps good rows and reports bad ones by line', async () => {
    const { registry } = setup();
    const r = await registry.importCsv(
      csv('serial,status,site_lat,site_lon,ip_prefixes\nD1,active,37.5,127.0,10.0.0.0/24\nD2,flying,,,\nD3,provisioned,,,\nD4,active,91,127,\n"D5,active\nD1,active,,,\n'),
      'cli',
    );
    expect(r.inserted).toBe(2);
    expect(r.errors.map((e) => e.line)).toEqual([3, 5, 6, 7]);
    expect(r.errors[0]?.message).toMatch(/status/);
    expect(r.errors[1]?.message).toMatch(/site_lat/);
    expect(r.errors[3]?.message).toMatch(/appears again \(first at line 2\)/);
    expect((await registry.mustGet('D1')).ipPrefixes).toEqual(['10.0.0.0/24']);
    expect(await registry.get('D2')).toBeNull();
  });

  it('ok/re-import updates, applies lifecycle, and refuses a forbidden transition row (named in the audit event)', async () => {
    const { registry, calls, audit } = setup();
    await registry.importCsv(csv('serial,status,owner\nE1,active,a\nE2,decommissioned,b\nE3,active,c\n'), 'cli');
    calls.length = 0;
    const r = await registry.importCsv(csv('serial,status,owner\nE1,lost,a\nE2,active,b\nE3,active,c2\n'), 'cli');
    expect(r).toMatchObject({ updated: 2, unchanged: 0, statusChanges: 1, certificatesRevoked: 2 });
    expect(r.errors).toEqual([{ line: 3, message: 'device E2 cannot go from decommissioned to active; row skipped' }]);
    expect(calls).toEqual([['E1', 'active', 'lost']]);
    expect((await registry.mustGet('E3')).owner).toBe('c2');
    expect((await audit.list({ action: 'device.imported', limit: 1 }))[0]?.details).toMatchObject({ statusChangesRefused: 1, refused: ['E2:decommissioned>active'] });
  });

  it('fail/a failed revocation leaves the status, says so, is audited; repeating the status re-runs it', async () => {
    const db = openSqlite(':memory:');
    const audit = sqliteAuditStore(db);
    let valid = 2;
    let broken = true;
    const revoker: CredentialRevoker = {
      applyStatus: () => {
        if (broken) return Promise.reject(Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }));
        const n = valid;
        valid = 0;
        return Promise.resolve(n);
      },
    };
    const registry = createRegistry({ store: sqliteDeviceStore(db), revoker, audit, clock: fixedClock(new Date('2026-01-01T00:00:00Z')) });
    await registry.add({ ...base, serial: 'R1', status: 'active' }, 'cli');
    await expect(registry.setStatus('R1', 'lost', 'token:t1', 'stolen')).rejects.toMatchObject({ code: 'device.revocation_pending', kind: 'unavailable' });
    expect((await registry.mustGet('R1')).status).toBe('lost');
    const failedEv = await audit.list({ action: 'cert.revocation_failed' });
    expect(failedEv.map((e) => [e.subject, e.outcome, e.details])).toEqual([['R1', 'failure', { status: 'lost', code: 'SQLITE_BUSY' }]]);
    broken = false;
    const retry = await registry.setStatus('R1', 'lost', 'token:t1', 'retry');
    expect(retry).toMatchObject({ device: { status: 'lost' }, certificatesChanged: 2 });
    expect((await audit.list({ action: 'device.status_reapplied' }))[0]?.details).toMatchObject({ status: 'lost', certificates: 2 });
    // Nothing left to revoke: the repeat is the no-op it always was.
    await expect(registry.setStatus('R1', 'lost', 'token:t1', 'again')).rejects.toMatchObject({ code: 'device.status_unchanged' });
    expect((await registry.history('R1')).map((h) => h.to)).toEqual(['active', 'lost']);
  });

  it('fail/repeating a non-revoking status is still refused without touching credentials', async () => {
    const { registry, calls } = setup();
    await registry.add({ ...base, serial: 'R2', status: 'active' }, 'cli');
    await expect(registry.setStatus('R2', 'active', 'cli', 'x')).rejects.toMatchObject({ code: 'device.status_unchanged' });
    expect(calls).toEqual([]);
  });

  it('fail/an import keeps revoking the rows after one whose revocation failed, and names it', async () => {
    const db = openSqlite(':memory:');
    const tried: string[] = [];
    const revoker: CredentialRevoker = {
      applyStatus: (serial) => {
        tried.push(serial);
        return serial === 'I2' ? Promise.reject(new Error('boom')) : Promise.resolve(1);
      },
    };
    const audit = sqliteAuditStore(db);
    const registry = createRegistry({ store: sqliteDeviceStore(db), revoker, audit, clock: fixedClock(new Date('2026-01-01T00:00:00Z')) });
    await registry.importCsv(csv('serial,status\nI1,active\nI2,active\nI3,active\n'), 'cli');
    const r = await registry.importCsv(csv('serial,status\nI1,lost\nI2,lost\nI3,decommissioned\n'), 'cli');
    expect(tried).toEqual(['I1', 'I2', 'I3']);
    expect(r).toMatchObject({ statusChanges: 3, certificatesRevoked: 2 });
    expect(r.errors).toEqual([{ line: 3, message: 'device I2 is now lost but revoking its certificates failed (Error); the reconcile step retries it' }]);
    expect((await registry.mustGet('I2')).status).toBe('lost');
    expect((await audit.list({ action: 'device.imported', outcome: 'failure' })).map((e) => e.details)).toMatchObject([{ rows: 3, updated: 3, errors: 1 }]);
  });

  it('fail/a CSV without the required columns imports nothing and says which is missing', async () => {
    const { registry } = setup();
    await expect(registry.importCsv(csv('serial,owner\nX,y\n'), 'cli')).rejects.toMatchObject({ code: 'registry.csv_header' });
    await expect(registry.importCsv(csv(''), 'cli')).rejects.toMatchObject({ code: 'registry.csv_empty' });
  });

  it('ok/the sample fleet imports whole', async () => {
    const { registry } = setup();
    const { createReadStream } = await import('node:fs');
    const r = await registry.importCsv(createReadStream(new URL('../../../shared/samples/kt-small/registry.csv', import.meta.url)), 'cli');
    expect(r.errors).toEqual([]);
    expect(r.inserted).toBe(125);
    expect(await registry.count({ status: 'active' })).toBeGreaterThan(100);
  });
});
