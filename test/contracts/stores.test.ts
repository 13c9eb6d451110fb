/**
 * Port contracts: every adapter of a port must pass the same suite. SQLite runs always;
 * the PostgreSQL adapter (with the scale-out work) joins the `adapters` list.
 */
import { describe, expect, it } from 'vitest';
import { openSqlite, sqliteCertStore, sqliteDeviceStore, sqliteEnrollmentStore } from '../../src/adapters/sqlite/index.js';
import type { EnrollmentStore } from '../../src/est/index.js';
import type { CertRecord, CertStore } from '../../src/pki/index.js';
import type { DeviceStore } from '../../src/registry/index.js';

interface Adapter {
  name: string;
  make(): { devices: DeviceStore; certs: CertStore; enrollment: EnrollmentStore };
}

const adapters: Adapter[] = [
  {
    name: 'sqlite',
    make: () => {
      const db = openSqlite(':memory:');
      return { devices: sqliteDeviceStore(db), certs: sqliteCertStore(db), enrollment: sqliteEnrollmentStore(db) };
    },
  },
];

const cert = (serialHex: string, deviceSerial: string, spki: string, over: Partial<CertRecord> = {}): CertRecord => ({
  serialHex,
  kind: 'device',
  deviceSerial,
  fingerprint: `fp-${serialHex}`,
  spkiSha256: spki,
  notBefore: '2026-01-01T00:00:00.000Z',
  notAfter: '2099-01-01T00:00:00.000Z',
  issuedAt: '2026-01-01T00:00:00.000Z',
  status: 'valid',
  revokedAt: null,
  reason: null,
  ...over,
});
const der = Buffer.from([0x30, 0x00]);

for (const a of adapters) {
  describe(`CertStore contract (${a.name})`, () => {
    it('ok/a key binds to its first device; the same device may reuse it; another is refused and nothing is recorded', async () => {
      const { certs } = a.make();
      expect(await certs.recordIssued(cert('01', 'A', 'k1'), der)).toBeNull();
      expect(await certs.recordIssued(cert('02', 'A', 'k1'), der)).toBeNull();
      expect(await certs.recordIssued(cert('03', 'B', 'k1'), der)).toBe('A');
      expect(await certs.get('03')).toBeNull();
      expect(await certs.keyOwner('k1')).toBe('A');
    });

    it('ok/hold, upgrade of a hold to a permanent revocation, release, and the change feed', async () => {
      const { certs } = a.make();
      await certs.recordIssued(cert('10', 'D', 'k10'), der);
      await certs.recordIssued(cert('11', 'D', 'k11'), der);
      const seq0 = await certs.lastChangeSeq();
      expect((await certs.revokeDevice('D', 6, '2026-02-01T00:00:00.000Z')).sort()).toEqual(['10', '11']);
      expect((await certs.get('10'))?.reason).toBe(6);
      expect((await certs.releaseHolds('D', '2026-02-02T00:00:00.000Z')).sort()).toEqual(['10', '11']);
      expect((await certs.get('10'))?.status).toBe('valid');
      await certs.revokeDevice('D', 6, '2026-02-03T00:00:00.000Z');
      expect((await certs.revokeDevice('D', 1, '2026-02-04T00:00:00.000Z')).sort()).toEqual(['10', '11']);
      expect(await certs.get('11')).toMatchObject({ status: 'revoked', reason: 1 });
      expect(await certs.releaseHolds('D', '2026-02-05T00:00:00.000Z')).toEqual([]);
      const feed = await certs.changesSince(seq0);
      expect(feed.length).toBe(8);
      expect(feed.every((c, i) => i === 0 || c.seq > (feed[i - 1]?.seq ?? 0))).toBe(true);
      expect(await certs.revoke('10', 4, '2026-02-06T00:00:00.000Z')).toBe(false);
    });

    it('ok/the CRL lists revoked unexpired certificates only; CRL numbers only grow', async () => {
      const { certs } = a.make();
      await certs.recordIssued(cert('20', 'E', 'k20', { notAfter: '2020-01-01T00:00:00.000Z' }), der);
      await certs.recordIssued(cert('21', 'E', 'k21'), der);
      await certs.revokeDevice('E', 5, '2026-03-01T00:00:00.000Z');
      expect((await certs.revokedUnexpired('2026-03-02T00:00:00.000Z')).map((r) => r.serialHex)).toEqual(['21']);
      const n1 = await certs.nextCrlNumber();
      const n2 = await certs.nextCrlNumber();
      expect(n2).toBe(n1 + 1n);
    });

    it('ok/CA material is written once unless replaced explicitly', async () => {
      const { certs } = a.make();
      const m = { name: 'root' as const, keyAlgorithm: 'P-256', certDer: der, encryptedKey: Buffer.from('x'), createdAt: 'now' };
      expect(await certs.saveCaMaterial([m], false)).toBe(true);
      expect(await certs.saveCaMaterial([m], false)).toBe(false);
      expect(await certs.saveCaMaterial([{ ...m, keyAlgorithm: 'P-384' }], true)).toBe(true);
      expect((await certs.loadCaMaterial())[0]?.keyAlgorithm).toBe('P-384');
    });
  });

  describe(`EnrollmentStore contract (${a.name})`, () => {
    it('ok/a token is consumed once, for its serial, before it expires; unconsume releases it', async () => {
      const { enrollment } = a.make();
      await enrollment.insertToken({ id: 't1', serial: 'S', createdAt: 'a', expiresAt: '2026-01-02T00:00:00.000Z', usedAt: null, createdBy: 'x' }, 'h1');
      expect(await enrollment.consumeToken('h1', 'OTHER', '2026-01-01T00:00:00.000Z')).toBe('wrong_serial');
      expect(await enrollment.consumeToken('nope', 'S', '2026-01-01T00:00:00.000Z')).toBe('unknown');
      expect(await enrollment.consumeToken('h1', 'S', '2026-01-03T00:00:00.000Z')).toBe('expired');
      expect(await enrollment.consumeToken('h1', 'S', '2026-01-01T00:00:00.000Z')).toBe('ok');
      expect(await enrollment.consumeToken('h1', 'S', '2026-01-01T00:00:00.000Z')).toBe('used');
      await enrollment.unconsumeToken('h1');
      expect(await enrollment.consumeToken('h1', 'S', '2026-01-01T00:00:00.000Z')).toBe('ok');
    });

    it('ok/vendor credentials bind to their first serial, all or none; undo removes only what was created', async () => {
      const { enrollment } = a.make();
      expect(await enrollment.bindVendorCredentials(['cert:x', 'key:k'], 'S1', 'now')).toEqual({ ok: true, created: ['cert:x', 'key:k'] });
      expect(await enrollment.bindVendorCredentials(['cert:y', 'key:k'], 'S2', 'now')).toEqual({ ok: false, credential: 'key:k', boundTo: 'S1' });
      // nothing of the refused attempt stays: cert:y is still free
      expect(await enrollment.bindVendorCredentials(['cert:y'], 'S3', 'now')).toEqual({ ok: true, created: ['cert:y'] });
      expect(await enrollment.bindVendorCredentials(['cert:x', 'key:k'], 'S1', 'now')).toEqual({ ok: true, created: [] });
      await enrollment.unbindVendorCredentials(['cert:y'], 'S3');
      expect(await enrollment.bindVendorCredentials(['cert:y'], 'S4', 'now')).toEqual({ ok: true, created: ['cert:y'] });
    });
  });

  describe(`DeviceStore contract (${a.name})`, () => {
    it('ok/compare-and-set status: the loser of a race gets null and no history row', async () => {
      const { devices } = a.make();
      const d = { serial: 'F', status: 'active' as const, cellIds: ['c1'], siteLat: null, siteLon: null, siteRadiusM: 300, ipPrefixes: [], expectedNeighbors: [], certFingerprints: [], owner: null };
      await devices.write([{ kind: 'insert', device: d, change: { serial: 'F', from: null, to: 'active', actor: 'x', reason: 'r', at: 't0' } }], 't0');
      expect(await devices.setStatus({ serial: 'F', from: 'active', to: 'lost', actor: 'a', reason: 'r', at: 't1' })).toMatchObject({ status: 'lost' });
      expect(await devices.setStatus({ serial: 'F', from: 'active', to: 'suspended', actor: 'b', reason: 'r', at: 't2' })).toBeNull();
      expect((await devices.history('F')).map((h) => h.to)).toEqual(['active', 'lost']);
      expect((await devices.list({ cellId: 'c1' })).map((x) => x.serial)).toEqual(['F']);
      expect(await devices.count({ status: 'lost' })).toBe(1);
    });

    it('ok/the change feed pages by (updatedAt, serial): every device once, in order, across rows sharing a time', async () => {
      const { devices } = a.make();
      const mk = (serial: string) => ({ serial, status: 'active' as const, cellIds: [], siteLat: null, siteLon: null, siteRadiusM: 300, ipPrefixes: [], expectedNeighbors: [], certFingerprints: [], owner: null });
      // A bulk import: many devices with one updatedAt; then one later change.
      const serials = Array.from({ length: 25 }, (_, i) => `S${String(i).padStart(3, '0')}`);
      await devices.write(serials.map((serial) => ({ kind: 'insert' as const, device: mk(serial), change: { serial, from: null, to: 'active' as const, actor: 'x', reason: 'r', at: 't0' } })), '2026-01-01T00:00:00.000Z');
      await devices.write([{ kind: 'insert', device: mk('A-LATE'), change: { serial: 'A-LATE', from: null, to: 'active', actor: 'x', reason: 'r', at: 't1' } }], '2026-01-01T00:00:01.000Z');
      const seen: string[] = [];
      let after = { updatedAt: '', serial: '' };
      for (;;) {
        const page = await devices.changedSince(after, 7);
        seen.push(...page.map((d) => d.serial));
        const last = page[page.length - 1];
        if (!last) break;
        after = { updatedAt: last.updatedAt, serial: last.serial };
      }
      expect(seen).toEqual([...serials, 'A-LATE']);
    });
  });
}
