/**
 * PKI upkeep on a running server: the OCSP responder and TLS server certificates are renewed
 * by the timer once an injected clock passes their renewal point, and real OpenSSL clients see
 * the new ones; a status change whose revocation never ran is reconciled by the timer.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/app/index.js';
import { loadConfig } from '../../src/config/index.js';
import { fixedClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { buildCsr, CRL_REASONS, OID, parseCsr, toPem } from '../../src/pki/index.js';
import { deviceCreateSchema } from '../../src/registry/index.js';
import { run, until } from '../helpers/run.js';

const DAY = 86_400_000;
// The server starts 100 days in the past: by real time its 90-day responder and 30-day TLS
// certificate have expired, as on a server that has been up that long.
const clock = fixedClock(new Date(Date.now() - 100 * DAY));
let srv: RunningServer;
let dataDir: string;
let work: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'fg-pkil-'));
  work = mkdtempSync(join(tmpdir(), 'fg-pkil-w-'));
  const config = loadConfig({
    env: {},
    flags: { dataDir, http: '127.0.0.1:0', https: '127.0.0.1:0', logLevel: 'silent', changePollMs: 100, 'pki.renewalCheckIntervalMs': 1000, 'pki.reconcileIntervalMs': 1000 },
  });
  srv = await startServer(config, { logger: silentLogger(), env: { FEMTOGUARD_CA_PASSPHRASE: 'pki-lifecycle-test-passphrase' }, clock });
  writeFileSync(join(work, 'chain.pem'), srv.ca.ca.chainPem);
  writeFileSync(join(work, 'issuing.pem'), toPem('CERTIFICATE', srv.ca.ca.issuing.der));
});
afterAll(async () => {
  await srv?.stop();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});


/** `openssl ocsp` against the server: its verdict on the response, and the response bytes. */
async function ocsp(): Promise<{ out: string; resp: Buffer }> {
  const r = await run('openssl', ['ocsp', '-issuer', 'issuing.pem', '-serial', '0x1234', '-url', `${srv.httpUrl}/ocsp`, '-CAfile', 'chain.pem', '-no_nonce', '-respout', 'resp.der'], { cwd: work });
  return { out: r.stdout + r.stderr, resp: readFileSync(join(work, 'resp.der')) };
}

/** `openssl s_client` against the TLS listener: the verify result and the leaf it was served. */
async function sClient(): Promise<{ verify: string; leaf: string }> {
  const port = new URL(srv.httpsUrl).port;
  const r = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', 'chain.pem', '-showcerts'], { cwd: work, input: '' });
  const out = r.stdout + r.stderr;
  return { verify: /Verify return code: (\d+)/.exec(out)?.[1] ?? '?', leaf: /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/.exec(out)?.[0] ?? '' };
}

describe('pki lifecycle on a long-running server', () => {
  it('ok/the timer renews the OCSP responder and the TLS certificate once the clock passes their renewal point; openssl sees the new ones', async () => {
    const oldResponder = srv.ca.ca.responder;
    const before = await ocsp();
    expect(before.out).toMatch(/Response Verify Failure/);
    expect(before.resp.includes(oldResponder.der)).toBe(true);
    const tlsBefore = await sClient();
    expect(tlsBefore.verify).toBe('10'); // certificate has expired
    expect(tlsBefore.leaf).not.toBe('');

    clock.set(new Date());
    const renewed = await until('the responder to be renewed', () => (srv.ca.ca.responder.serialHex !== oldResponder.serialHex ? srv.ca.ca.responder : null));
    expect(renewed.notAfter.getTime()).toBeGreaterThan(Date.now() + 80 * DAY);
    await until('the TLS certificate to be renewed', async () => (await srv.base.stores.audit.list({ action: 'tls.server_certificate_renewed' })).length > 0);

    const after = await ocsp();
    expect(after.out).toMatch(/Response verify OK/);
    expect(after.out).toMatch(/0x1234: unknown/);
    expect(after.resp.includes(renewed.der)).toBe(true);
    expect(after.resp.includes(oldResponder.der)).toBe(false);
    const tlsAfter = await sClient();
    expect(tlsAfter.verify).toBe('0');
    expect(tlsAfter.leaf).not.toBe(tlsBefore.leaf);

    const audit = srv.base.stores.audit;
    expect((await audit.list({ action: 'ca.ocsp_responder_renewed' })).map((e) => e.details)).toEqual([
      { previous: oldResponder.serialHex, notAfter: renewed.notAfter.toISOString() },
    ]);
    expect((await audit.list({ action: 'tls.server_certificate_renewed' }))[0]?.details).toMatchObject({ listener: 'https' });
    // The renewed responder is the stored one: a restart (or the CLI) finds it.
    const stored = (await srv.base.stores.certs.loadCaMaterial()).find((m) => m.name === 'ocsp');
    expect(stored?.certDer.equals(renewed.der)).toBe(true);
    // Not due again: a further check changes nothing.
    expect(await srv.pki.renew()).toBe(true);
    expect(srv.ca.ca.responder.serialHex).toBe(renewed.serialHex);
  });

  it('ok/a device left lost with valid certificates (revocation never ran) is revoked by the reconcile timer and listed on the CRL', async () => {
    const { registry, stores } = srv.base;
    await registry.add(deviceCreateSchema.parse({ serial: 'LC-1', status: 'active' }), 'test');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const cert = await srv.ca.issuance.issue(parseCsr(buildCsr({ privateKey, subject: [{ type: OID.commonName, value: 'LC-1' }] })), 'LC-1', { actor: 'test' });
    // The status committed, the revocation step lost (what a failing revoker leaves behind).
    expect(await stores.devices.setStatus({ serial: 'LC-1', from: 'active', to: 'lost', actor: 'test', reason: 'stolen', at: clock.now().toISOString() })).not.toBeNull();
    expect((await stores.certs.get(cert.serialHex))?.status).toBe('valid');

    const rec = await until('the reconcile timer to revoke it', async () => {
      const c = await stores.certs.get(cert.serialHex);
      return c?.status === 'revoked' ? c : null;
    });
    expect(rec.reason).toBe(CRL_REASONS.keyCompromise);
    const crlText = await until('the CRL to list it', async () => {
      writeFileSync(join(work, 'crl.der'), Buffer.from(await (await fetch(`${srv.httpUrl}/crl`)).arrayBuffer()));
      const r = await run('openssl', ['crl', '-inform', 'DER', '-in', 'crl.der', '-noout', '-text'], { cwd: work });
      return r.stdout.toUpperCase().includes(cert.serialHex.toUpperCase().replace(/^0+/, '')) ? r.stdout : null;
    });
    expect(crlText).toMatch(/Key Compromise/);
    const ev = await stores.audit.list({ action: 'cert.reconciled' });
    expect(ev[0]?.details).toMatchObject({ devicesRepaired: 1, repaired: ['LC-1:lost'] });
  });
});
