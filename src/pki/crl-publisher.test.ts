/**
 * The CRL publisher never serves a CRL that lacks a revocation it was told about: a rebuild
 * that fails (database busy, signer error) keeps the change pending and the next request
 * builds again. A failed age refresh with nothing changed keeps serving the last CRL while
 * it is before its nextUpdate. Stored removeFromCRL rows are listed as plain revocations.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../core/clock.js';
import { issueDeviceCert, startTestServer, type TestServer } from '../../test/helpers/server.js';
import { createCrlPublisher } from './crl-publisher.js';
import { CRL_REASONS, parseCrl } from './crl.js';
import type { CertStore } from './store.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => t?.stop());

const enrolled = (serial: string): Promise<string> => issueDeviceCert(t, serial);

/** The real store, with the next `failures` reads of revoked certificates failing as SQLite does when busy. */
function flakyStore(): { store: CertStore; fail(n: number): void; reads: () => number } {
  const real = t.srv.base.stores.certs;
  let failures = 0;
  let reads = 0;
  const store: CertStore = {
    ...real,
    revokedUnexpired: async (now) => {
      reads++;
      if (failures > 0) {
        failures--;
        throw new Error('SQLITE_BUSY: database is locked');
      }
      return real.revokedUnexpired(now);
    },
  };
  return { store, fail: (n) => (failures = n), reads: () => reads };
}

const listed = async (p: { current(): Promise<Buffer> }): Promise<string[]> => parseCrl(await p.current()).revoked.map((e) => e.serialHex);

describe('CRL publisher', () => {
  it('fail/a rebuild that fails keeps the revocation pending: the next request rebuilds and lists it', async () => {
    const serialHex = await enrolled('CP-1');
    const f = flakyStore();
    const pub = createCrlPublisher({ ca: t.srv.ca.ca, store: f.store, clock: fixedClock(new Date()) }, { nextUpdateHours: 24 });
    expect(await listed(pub)).not.toContain(serialHex);
    await t.srv.base.revocation.revokeCertificate(serialHex, CRL_REASONS.keyCompromise, 'test');
    pub.markDirty();
    f.fail(1);
    await expect(pub.current()).rejects.toThrow(/SQLITE_BUSY/);
    expect(await listed(pub)).toContain(serialHex);
    // Built once with it: no further rebuild until something changes.
    const reads = f.reads();
    await pub.current();
    expect(f.reads()).toBe(reads);
  });

  it('fail/while the rebuild keeps failing every request fails, rather than serving the CRL without the revocation', async () => {
    const serialHex = await enrolled('CP-2');
    const f = flakyStore();
    const pub = createCrlPublisher({ ca: t.srv.ca.ca, store: f.store, clock: fixedClock(new Date()) }, { nextUpdateHours: 24 });
    await pub.current();
    await t.srv.base.revocation.revokeDevice('CP-2', CRL_REASONS.cessationOfOperation, 'test');
    pub.markDirty();
    f.fail(2);
    await expect(pub.current()).rejects.toThrow(/SQLITE_BUSY/);
    await expect(pub.current()).rejects.toThrow(/SQLITE_BUSY/);
    expect(await listed(pub)).toContain(serialHex);
  });

  it('ok/a failed age refresh with nothing changed serves the last CRL until its nextUpdate, then fails', async () => {
    const f = flakyStore();
    const clock = fixedClock(new Date());
    const pub = createCrlPublisher({ ca: t.srv.ca.ca, store: f.store, clock }, { nextUpdateHours: 24 });
    const first = await pub.current();
    clock.advance(13 * 3_600_000); // past half the validity: a refresh is due
    f.fail(1);
    expect(await pub.current()).toBe(first);
    clock.advance(12 * 3_600_000); // past nextUpdate: the old CRL is no longer good
    f.fail(1);
    await expect(pub.current()).rejects.toThrow(/SQLITE_BUSY/);
    expect(await pub.current()).not.toBe(first);
  });

  it('fail/a revocation stored with removeFromCRL (before the core refused it) is listed without that reason, so it stays revoked', async () => {
    const serialHex = await enrolled('CP-8');
    // Straight through the store: what a database written by an older version may hold.
    expect(await t.srv.base.stores.certs.revoke(serialHex, CRL_REASONS.removeFromCRL, new Date().toISOString())).toBe(true);
    const pub = createCrlPublisher({ ca: t.srv.ca.ca, store: t.srv.base.stores.certs, clock: fixedClock(new Date()) }, { nextUpdateHours: 24 });
    const entry = parseCrl(await pub.current()).revoked.find((e) => e.serialHex === serialHex);
    expect(entry).toBeDefined();
    expect(entry?.reason).toBeUndefined();
  });
});
