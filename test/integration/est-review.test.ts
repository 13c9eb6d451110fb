/**
 * EST over curl, checked with openssl, for what the r4 review found: a failure after the
 * certificate was recorded must not leave it valid nor free the token; a superseded
 * certificate must not renew (a cloned credential shows itself that way); a device that went
 * lost while its certificate was being issued must not keep it. The certificates revoked here
 * reach OCSP and the CRL like any other.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addDevice,
  certSerialHex,
  enroll,
  enrollNewDevice,
  expectRefused,
  makeCsr,
  newToken,
  ocspStatus,
  pkcs7ToPem,
  reenroll,
  run,
} from '../helpers/est-client.js';
import { requireTool, until } from '../helpers/run.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
beforeAll(async () => {
  requireTool('openssl', 'openssl');
  requireTool('curl', 'curl');
  t = await startTestServer({ est: { maxFailedAttempts: 1000 } });
});
afterAll(async () => t?.stop());

const audit = (action: string, subject: string) => t.srv.base.stores.audit.list({ action, subject });


/** The CRL as `openssl crl -text` prints it, once it lists `serialHex`. */
async function crlListing(serialHex: string): Promise<string> {
  const wanted = serialHex.toUpperCase().replace(/^0+/, '');
  return until(`the CRL to list ${serialHex}`, async () => {
    const path = join(t.work, 'review.crl.der');
    writeFileSync(path, Buffer.from(await (await fetch(`${t.http}/crl`)).arrayBuffer()));
    const r = await run('openssl', ['crl', '-inform', 'DER', '-in', path, '-noout', '-text']);
    const entry = r.stdout.split(/Serial Number: /).find((e) => e.toUpperCase().replace(/^0+/, '').startsWith(wanted));
    return entry ?? null;
  });
}

describe('EST late failures (review item 1)', () => {
  it('fail/markEnrolled failing after issuance is a 500; the certificate is on the CRL and the token is spent', async () => {
    const serial = 'REV-LATE-1';
    await addDevice(t, serial);
    const token = await newToken(t, serial);
    const registry = t.srv.base.registry;
    const markEnrolled = registry.markEnrolled;
    registry.markEnrolled = () => Promise.reject(Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }));
    let r;
    try {
      r = await enroll(t, serial, token, await makeCsr(t.work, serial));
    } finally {
      registry.markEnrolled = markEnrolled;
    }
    expect(r.status).toBe(500);
    expect(r.body).not.toContain('locked');

    const [cert] = await t.srv.base.stores.certs.list({ deviceSerial: serial });
    expect(cert).toMatchObject({ status: 'revoked' });
    expect(await crlListing(cert?.serialHex ?? '')).toMatch(/Cessation Of Operation/);
    expect(await audit('est.certificate_withdrawn', serial)).toMatchObject([{ outcome: 'success', details: { certificate: cert?.serialHex } }]);
    expect(await audit('est.enroll', serial)).toMatchObject([{ outcome: 'failure', details: { code: 'SQLITE_BUSY' } }]);

    expectRefused(await enroll(t, serial, token, await makeCsr(t.work, serial)), 401, 'est.token_used', /already used/);
    expect(await t.srv.base.stores.certs.list({ deviceSerial: serial, status: 'valid' })).toEqual([]);
    expect((await t.srv.base.registry.get(serial))?.status).toBe('provisioned');
  });
});

describe('EST re-enrollment with a superseded certificate (review item 2)', () => {
  it('fail/A→B, then A again is 403 est.client_cert_superseded; OCSP says A is revoked (superseded); B renews', async () => {
    const dev = await enrollNewDevice(t, 'REV-CLONE-1');
    const csrB = await makeCsr(t.work, dev.serial);
    const r1 = await reenroll(t, csrB, dev.certPath, dev.keyPath);
    expect(r1.status, r1.body).toBe(200);
    const b = (await pkcs7ToPem(t.work, r1, 'rev-clone-b')).pemPath;

    const ocspA = await until('OCSP to report A revoked', async () => {
      const o = await ocspStatus(t, dev.certPath);
      return o.status === 'revoked' ? o : null;
    });
    expect(ocspA.reason).toBe('superseded');
    expect(ocspA.verifyOk).toBe(true);
    expect((await ocspStatus(t, b)).status).toBe('good');

    const csr = await makeCsr(t.work, dev.serial);
    expectRefused(await reenroll(t, csr, dev.certPath, dev.keyPath), 403, 'est.client_cert_superseded', /only the device's current certificate re-enrolls/);
    expect(await t.srv.base.stores.certs.keyOwner(csr.spkiSha256)).toBeNull();
    const fp = (await t.srv.base.stores.certs.get(dev.serialHex))?.fingerprint;
    expect(await audit('est.reenroll_superseded_cert', dev.serial)).toMatchObject([{ outcome: 'denied', details: { fingerprint: fp, certificate: dev.serialHex } }]);

    const r2 = await reenroll(t, await makeCsr(t.work, dev.serial), b, csrB.keyPath);
    expect(r2.status, r2.body).toBe(200);
  });

  it('ok/recovery: a unit that lost its new certificate is re-provisioned with a token, and the lost one is superseded', async () => {
    const dev = await enrollNewDevice(t, 'REV-RECOVER');
    const lost = await reenroll(t, await makeCsr(t.work, dev.serial), dev.certPath, dev.keyPath);
    expect(lost.status).toBe(200);
    const lostHex = await certSerialHex((await pkcs7ToPem(t.work, lost, 'rev-lost')).pemPath);
    // The unit never stored B: it still holds A, which no longer renews.
    expectRefused(await reenroll(t, await makeCsr(t.work, dev.serial), dev.certPath, dev.keyPath), 403, 'est.client_cert_superseded');
    const csr = await makeCsr(t.work, dev.serial);
    const r = await enroll(t, dev.serial, await newToken(t, dev.serial), csr);
    expect(r.status, r.body).toBe(200);
    expect(await t.srv.base.stores.certs.get(lostHex)).toMatchObject({ status: 'revoked', reason: 4 });
    const valid = await t.srv.base.stores.certs.list({ deviceSerial: dev.serial, status: 'valid' });
    expect(valid.map((c) => c.spkiSha256)).toEqual([csr.spkiSha256]);
  });
});

describe('EST and a status change during issuance (review item 4)', () => {
  it('fail/a device set lost between the check and the issuance gets 403; its new certificate is on the CRL (keyCompromise)', async () => {
    const serial = 'REV-RACE-LOST';
    await addDevice(t, serial);
    const token = await newToken(t, serial);
    const certs = t.srv.base.stores.certs;
    const keyOwner = certs.keyOwner;
    certs.keyOwner = async (spki) => {
      certs.keyOwner = keyOwner;
      await t.srv.base.registry.setStatus(serial, 'lost', 'operator', 'reported stolen');
      return keyOwner(spki);
    };
    let r;
    try {
      r = await enroll(t, serial, token, await makeCsr(t.work, serial));
    } finally {
      certs.keyOwner = keyOwner;
    }
    expectRefused(r, 403, 'est.device_status_changed', /REV-RACE-LOST became lost while its certificate was being issued/);
    const [cert] = await certs.list({ deviceSerial: serial });
    expect(cert).toMatchObject({ status: 'revoked', reason: 1 });
    expect(await crlListing(cert?.serialHex ?? '')).toMatch(/Key Compromise/);
  });
});
