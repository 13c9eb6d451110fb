import { describe, expect, it } from 'vitest';
import { openSqlite, sqliteAuditStore, sqliteCertStore, sqliteDeviceStore } from '../adapters/sqlite/index.js';
import { fixedClock } from '../core/clock.js';
import { deviceCreateSchema, type DeviceStatus } from '../registry/index.js';
import { CRL_REASONS } from './crl.js';
import { reconcileRevocations, type ReconcileDeps } from './reconcile.js';
import { createRevocation } from './revocation.js';
import type { CertRecord } from './store.js';

const clock = fixedClock(new Date('2026-03-01T00:00:00Z'));

/** Devices written straight to the store with a status and valid certificates, as a failed revocation leaves them. */
async function setup(devices: [string, DeviceStatus, number][]) {
  const db = openSqlite(':memory:');
  const certs = sqliteCertStore(db);
  const devs = sqliteDeviceStore(db);
  const audit = sqliteAuditStore(db);
  const revocation = createRevocation({ store: certs, audit, clock });
  const at = clock.now().toISOString();
  let n = 0;
  await devs.write(
    devices.map(([serial, status]) => ({ kind: 'insert' as const, device: deviceCreateSchema.parse({ serial, status }), change: { serial, from: null, to: status, actor: 't', reason: 't', at } })),
    at,
  );
  for (const [serial, , count] of devices) {
    for (let i = 0; i < count; i++) {
      const serialHex = (++n).toString(16).padStart(16, '0');
      const rec: CertRecord = {
        serialHex,
        kind: 'device',
        deviceSerial: serial,
        fingerprint: serialHex.padStart(64, 'f'),
        spkiSha256: serialHex.padStart(64, 'a'),
        notBefore: at,
        notAfter: '2026-04-01T00:00:00.000Z',
        issuedAt: at,
        status: 'valid',
        revokedAt: null,
        reason: null,
      };
      expect(await certs.recordIssued(rec, Buffer.from(serialHex))).toBeNull();
    }
  }
  const emitted: string[] = [];
  revocation.onChange((s) => emitted.push(...s));
  const deps: ReconcileDeps = {
    certs,
    devicesInStatus: async (status, after, limit) => (await devs.list({ status, after, limit })).map((d) => d.serial),
    applyStatus: (serial, from, to, actor) => revocation.applyStatus(serial, from, to, actor),
    statusOf: async (serial) => (await devs.get(serial))?.status ?? null,
    liftHolds: (serial, actor) => revocation.applyStatus(serial, 'suspended', 'active', actor),
    audit,
    clock,
  };
  const statusOf = async (device: string): Promise<[string, number | null][]> => (await certs.list({ deviceSerial: device })).map((c) => [c.status, c.reason]);
  /** What an operator's reactivation does: the status written, then the holds lifted (registry service). */
  const reactivate = async (serial: string): Promise<void> => {
    const at = clock.now().toISOString();
    const d = await devs.get(serial);
    if (!d) throw new Error('no device');
    await devs.write([{ kind: 'update', device: { ...d, status: 'active' }, change: { serial, from: d.status, to: 'active', actor: 'op', reason: 'found', at } }], at);
    await revocation.applyStatus(serial, 'suspended', 'active', 'op');
  };
  return { deps, certs, audit, emitted, statusOf, reactivate };
}

describe('reconcileRevocations', () => {
  it('fail/a device reactivated after the page was read, before or during its repair, is not left on hold', async () => {
    // Before: reactivated between the page read and the repair (the status is read again).
    const a = await setup([['R1', 'suspended', 1]]);
    const before: ReconcileDeps = { ...a.deps, devicesInStatus: async (st, after, limit) => { const page = await a.deps.devicesInStatus(st, after, limit); if (page.includes('R1')) await a.reactivate('R1'); return page; } };
    expect((await reconcileRevocations(before)).repaired).toEqual([]);
    expect(await a.statusOf('R1')).toEqual([['valid', null]]);
    // During: reactivated while the hold was being written (its release ran before the hold landed).
    const b = await setup([['R2', 'suspended', 1]]);
    const during: ReconcileDeps = { ...b.deps, applyStatus: async (serial, from, to, actor) => { await b.reactivate(serial); return b.deps.applyStatus(serial, from, to, actor); } };
    expect((await reconcileRevocations(during)).repaired).toEqual([]);
    expect(await b.statusOf('R2')).toEqual([['valid', null]]);
  });

  it('ok/valid certificates of suspended, lost and decommissioned devices get the reason their status implies; live ones are untouched', async () => {
    const { deps, audit, emitted, statusOf } = await setup([
      ['A', 'active', 1],
      ['P', 'provisioned', 1],
      ['S', 'suspended', 1],
      ['L', 'lost', 2],
      ['D', 'decommissioned', 1],
      ['L0', 'lost', 0],
    ]);
    const r = await reconcileRevocations(deps);
    expect(r.devicesChecked).toBe(4);
    expect(r.failed).toEqual([]);
    expect(r.repaired).toEqual([
      { serial: 'S', status: 'suspended', certificates: 1 },
      { serial: 'L', status: 'lost', certificates: 2 },
      { serial: 'D', status: 'decommissioned', certificates: 1 },
    ]);
    expect(await statusOf('A')).toEqual([['valid', null]]);
    expect(await statusOf('P')).toEqual([['valid', null]]);
    expect(await statusOf('S')).toEqual([['revoked', CRL_REASONS.certificateHold]]);
    expect(await statusOf('L')).toEqual([
      ['revoked', CRL_REASONS.keyCompromise],
      ['revoked', CRL_REASONS.keyCompromise],
    ]);
    expect(await statusOf('D')).toEqual([['revoked', CRL_REASONS.cessationOfOperation]]);
    expect(emitted).toHaveLength(4);
    const ev = await audit.list({ action: 'cert.reconciled' });
    expect(ev.map((e) => [e.actor, e.outcome, e.details])).toEqual([
      ['system:reconcile', 'success', { devicesChecked: 4, devicesRepaired: 3, certificates: 4, repaired: ['S:suspended', 'L:lost', 'D:decommissioned'], devicesFailed: 0, failed: [] }],
    ]);
    expect((await audit.list({ action: 'cert.revoked' })).map((e) => e.actor)).toEqual(['system:reconcile', 'system:reconcile', 'system:reconcile']);
  });

  it('ok/a second run finds nothing to do and writes no audit event', async () => {
    const { deps, audit } = await setup([['L', 'lost', 1]]);
    await reconcileRevocations(deps);
    const again = await reconcileRevocations(deps);
    expect(again).toEqual({ devicesChecked: 1, repaired: [], failed: [] });
    expect(await audit.list({ action: 'cert.reconciled' })).toHaveLength(1);
  });

  it('fail/one device failing does not stop the others; it is reported by code and retried next run', async () => {
    const { deps, audit, statusOf } = await setup([
      ['L1', 'lost', 1],
      ['L2', 'lost', 1],
      ['L3', 'lost', 1],
    ]);
    let broken = true;
    const real = deps.applyStatus;
    const flaky: ReconcileDeps = {
      ...deps,
      applyStatus: (serial, from, to, actor) =>
        broken && serial === 'L2' ? Promise.reject(Object.assign(new Error('database is locked: secret detail'), { code: 'SQLITE_BUSY' })) : real(serial, from, to, actor),
    };
    const r = await reconcileRevocations(flaky);
    expect(r.failed).toEqual([{ serial: 'L2', status: 'lost', code: 'SQLITE_BUSY' }]);
    expect(r.repaired.map((x) => x.serial)).toEqual(['L1', 'L3']);
    expect(await statusOf('L2')).toEqual([['valid', null]]);
    const ev = (await audit.list({ action: 'cert.reconciled' }))[0];
    expect(ev?.outcome).toBe('failure');
    expect(JSON.stringify(ev?.details)).not.toContain('secret detail');
    broken = false;
    expect((await reconcileRevocations(flaky)).repaired).toEqual([{ serial: 'L2', status: 'lost', certificates: 1 }]);
    expect(await statusOf('L2')).toEqual([['revoked', CRL_REASONS.keyCompromise]]);
  });

  it('ok/pages through a registry larger than one page', async () => {
    const devices: [string, DeviceStatus, number][] = [];
    for (let i = 0; i < 1203; i++) devices.push([`D${String(i).padStart(5, '0')}`, 'decommissioned', i % 2]);
    const { deps } = await setup(devices);
    const r = await reconcileRevocations(deps);
    expect(r.devicesChecked).toBe(1203);
    expect(r.repaired).toHaveLength(601);
    expect(r.repaired.at(-1)?.serial).toBe('D01201');
  });
});
