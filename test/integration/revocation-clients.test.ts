/**
 * Revocation as a security gateway sees it, through the real clients: `openssl ocsp`
 * (RFC 6960; SHA-1 and SHA-256 CertIDs, POST and the RFC 5019 GET form) and `openssl
 * verify -crl_check` over the CRL (RFC 5280 §5), PEM and DER. Status changes are made by the
 * CLI in another process writing the same SQLite database; the server must pick them up
 * from the change feed (polled every 100 ms in tests) and answer `revoked` within a second.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, curlRequest, enrollNewDevice, issuingPem, ocspStatus, parseOcspOutput, run, type OcspResult } from '../helpers/est-client.js';
import { requireTool } from '../helpers/run.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
beforeAll(async () => {
  requireTool('openssl', 'openssl');
  requireTool('curl', 'curl');
  t = await startTestServer();
});
afterAll(async () => t?.stop());

/**
 * Asks `openssl ocsp` until it reports `want` or `timeoutMs` passes; returns the last answer
 * and when it came. `extra` is passed on (e.g. `-no_nonce`).
 */
async function pollOcsp(certPath: string, want: string, extra: readonly string[] = [], timeoutMs = 3000): Promise<{ r: OcspResult; at: number | null }> {
  const start = Date.now();
  for (;;) {
    const r = await ocspStatus(t, certPath, { extra });
    if (r.status === want) return { r, at: Date.now() };
    if (Date.now() - start > timeoutMs) return { r, at: null };
  }
}

let crlCount = 0;
/** Fetches the CRL with curl: PEM from /crl.pem, or DER from /crl converted by `openssl crl`. */
async function fetchCrl(form: 'pem' | 'der'): Promise<string> {
  const n = ++crlCount;
  const pemPath = join(t.work, `crl-${n}.pem`);
  if (form === 'pem') {
    const r = await curlRequest(t.work, [`${t.http}/crl.pem`]);
    expect(r.status).toBe(200);
    expect(r.body).toMatch(/^-----BEGIN X509 CRL-----/);
    writeFileSync(pemPath, r.bodyBytes);
  } else {
    const r = await curlRequest(t.work, [`${t.http}/crl`]);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/pkix-crl');
    const derPath = join(t.work, `crl-${n}.der`);
    writeFileSync(derPath, r.bodyBytes);
    const conv = await run('openssl', ['crl', '-inform', 'DER', '-in', derPath, '-out', pemPath]);
    expect(conv.status, conv.stderr).toBe(0);
  }
  return pemPath;
}

/** `openssl verify -crl_check`: "OK", or the error text it printed. */
async function verifyWithCrl(certPath: string, crlPath: string): Promise<string> {
  const r = await run('openssl', ['verify', '-crl_check', '-CAfile', t.chainPath, '-CRLfile', crlPath, certPath]);
  return r.status === 0 && /: OK\s*$/.test(r.stdout) ? 'OK' : `${r.stdout}${r.stderr}`;
}

const crlText = async (crlPath: string): Promise<string> => (await run('openssl', ['crl', '-in', crlPath, '-noout', '-text'])).stdout;

/** Fetches the CRL until `openssl verify -crl_check` says the certificate is revoked; returns when. */
async function pollCrlRevoked(certPath: string, timeoutMs = 3000): Promise<number | null> {
  const start = Date.now();
  for (;;) {
    if (/certificate revoked/.test(await verifyWithCrl(certPath, await fetchCrl('pem')))) return Date.now();
    if (Date.now() - start > timeoutMs) return null;
  }
}

describe('OCSP with openssl ocsp', () => {
  it('ok/a fresh device is good, with the default SHA-1 CertID and with -sha256, and the response verifies', async () => {
    const dev = await enrollNewDevice(t, 'OCSP-GOOD');
    const sha1 = await ocspStatus(t, dev.certPath, { extra: ['-resp_text'] });
    expect(sha1.status, sha1.stdout + sha1.stderr).toBe('good');
    expect(sha1.verifyOk).toBe(true);
    expect(sha1.stdout).toMatch(/Hash Algorithm: sha1/);
    const sha256 = await ocspStatus(t, dev.certPath, { sha256: true, extra: ['-resp_text'] });
    expect(sha256.status, sha256.stdout + sha256.stderr).toBe('good');
    expect(sha256.verifyOk).toBe(true);
    // RFC 6960 §4.1.1: the response's CertID uses the hash the request named.
    expect(sha256.stdout).toMatch(/Hash Algorithm: sha256/);
    expect(sha256.stdout).toMatch(/Serial Number: [0-9A-F]+/i);
  });

  it('ok/a serial the CA never issued is unknown', async () => {
    const r = await ocspStatus(t, { serial: '0x7f0123456789abcdef0123456789abcd' });
    expect(r.status, r.stdout + r.stderr).toBe('unknown');
    expect(r.verifyOk).toBe(true);
  });

  it('ok/the RFC 5019 GET form (curl on /ocsp/<url-encoded base64>) answers what openssl -respin reads', async () => {
    const dev = await enrollNewDevice(t, 'OCSP-GET');
    const reqPath = join(t.work, 'get-req.der');
    // RFC 5019 §2.1.1: no nonce, so the answer can be pre-signed and cached.
    const mk = await run('openssl', ['ocsp', '-issuer', issuingPem(t), '-cert', dev.certPath, '-no_nonce', '-reqout', reqPath]);
    expect(mk.status, mk.stderr).toBe(0);
    const encoded = encodeURIComponent(readFileSync(reqPath).toString('base64'));
    const r = await curlRequest(t.work, [`${t.http}/ocsp/${encoded}`]);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/ocsp-response');
    const maxAge = Number(/max-age=(\d+)/.exec(r.headers['cache-control'] ?? '')?.[1]);
    expect(maxAge).toBeGreaterThan(0);
    const respPath = join(t.work, 'get-resp.der');
    writeFileSync(respPath, r.bodyBytes);
    // RFC 5019 §6.2: an HTTP cache must never hold the answer past its nextUpdate.
    const text = await run('openssl', ['ocsp', '-respin', respPath, '-resp_text', '-noverify']);
    const nextUpdate = Date.parse(/Next Update: (.+)/.exec(text.stdout)?.[1] ?? '');
    expect(Number.isFinite(nextUpdate), text.stdout).toBe(true);
    expect(Date.now() + maxAge * 1000).toBeLessThanOrEqual(nextUpdate);
    const read = parseOcspOutput(
      await run('openssl', ['ocsp', '-respin', respPath, '-issuer', issuingPem(t), '-cert', dev.certPath, '-CAfile', t.chainPath, '-no_nonce']),
    );
    expect(read.status, read.stdout + read.stderr).toBe('good');
    expect(read.verifyOk).toBe(true);
  });
});

describe('revocation by the CLI in another process', () => {
  it('ok/decommissioned: OCSP revoked within 1 s of the CLI exiting; the CRL (PEM and DER) revokes it with cessationOfOperation', async () => {
    const dev = await enrollNewDevice(t, 'REV-DECOM');
    expect((await ocspStatus(t, dev.certPath)).status).toBe('good');
    expect(await verifyWithCrl(dev.certPath, await fetchCrl('pem'))).toBe('OK');
    expect(await verifyWithCrl(dev.certPath, await fetchCrl('der'))).toBe('OK');

    // A no-nonce request is answered from the pre-signed cache (RFC 5019 §2.2.1): prime it
    // with `good`, so only the change feed can turn it into `revoked`.
    expect((await ocspStatus(t, dev.certPath, { extra: ['-no_nonce'] })).status).toBe('good');

    const set = await cli(['device', 'set-status', dev.serial, 'decommissioned', '--reason', 'site closed'], t.env);
    const exitedAt = Date.now();
    expect(set.status, set.stderr).toBe(0);
    const cached = await pollOcsp(dev.certPath, 'revoked', ['-no_nonce']);
    expect(cached.r.status, cached.r.stdout + cached.r.stderr).toBe('revoked');
    expect((cached.at as number) - exitedAt).toBeLessThan(1000);
    expect(cached.r.verifyOk).toBe(true);
    expect(cached.r.reason).toBe('cessationOfOperation');
    const fresh = await ocspStatus(t, dev.certPath); // with a nonce: signed on the spot
    expect(fresh.status).toBe('revoked');
    expect(fresh.verifyOk).toBe(true);
    expect(fresh.reason).toBe('cessationOfOperation');

    const crlAt = await pollCrlRevoked(dev.certPath);
    expect(crlAt, 'the CRL never listed the certificate').not.toBeNull();
    expect((crlAt as number) - exitedAt).toBeLessThan(1000);
    for (const form of ['pem', 'der'] as const) {
      const crl = await fetchCrl(form);
      expect(await verifyWithCrl(dev.certPath, crl)).toMatch(/certificate revoked/);
      const text = await crlText(crl);
      expect(text).toContain(`Serial Number: ${dev.serialHex.toUpperCase()}`);
      expect(text).toMatch(new RegExp(`Serial Number: ${dev.serialHex.toUpperCase()}\\s*\\n\\s*Revocation Date: .*\\n\\s*CRL entry extensions:\\s*\\n\\s*X509v3 CRL Reason Code:\\s*\\n\\s*Cessation Of Operation`));
    }
  });

  it('ok/suspended is revoked with certificateHold; set-status active makes it good again and lifts it from the CRL', async () => {
    const dev = await enrollNewDevice(t, 'REV-HOLD');
    const hold = await cli(['device', 'set-status', dev.serial, 'suspended', '--reason', 'investigation'], t.env);
    expect(hold.status, hold.stderr).toBe(0);
    const held = await pollOcsp(dev.certPath, 'revoked', ['-no_nonce']);
    expect(held.r.status).toBe('revoked');
    expect(held.r.reason).toBe('certificateHold');
    expect(await pollCrlRevoked(dev.certPath)).not.toBeNull();
    const crlHeld = await fetchCrl('pem');
    expect(await crlText(crlHeld)).toMatch(new RegExp(`Serial Number: ${dev.serialHex.toUpperCase()}[\\s\\S]*?Certificate Hold`));

    const release = await cli(['device', 'set-status', dev.serial, 'active', '--reason', 'cleared'], t.env);
    expect(release.status, release.stderr).toBe(0);
    const good = await pollOcsp(dev.certPath, 'good', ['-no_nonce']);
    expect(good.r.status, good.r.stdout + good.r.stderr).toBe('good');
    expect(good.r.verifyOk).toBe(true);
    const crlAfter = await fetchCrl('der');
    expect(await crlText(crlAfter)).not.toContain(dev.serialHex.toUpperCase());
    expect(await verifyWithCrl(dev.certPath, crlAfter)).toBe('OK');
  });
});

describe('revocation paths on the API listener', () => {
  let t: TestServer;
  beforeAll(async () => {
    requireTool('curl', 'curl');
    t = await startTestServer();
  });
  afterAll(async () => t?.stop());

  it('fail/CA certificates answer GET and HEAD only; a path that merely starts with /ocsp is not OCSP', async () => {
    const post = await curlRequest(t.work, ['-X', 'POST', '--data-binary', 'x', `${t.http}/ca/chain.pem`]);
    expect(post.status).toBe(405);
    expect(post.headers['allow']).toBe('GET, HEAD');
    const get = await curlRequest(t.work, [`${t.http}/ca/chain.pem`]);
    expect(get.status).toBe(200);
    expect(get.body).toContain('BEGIN CERTIFICATE');
    const near = await curlRequest(t.work, [`${t.http}/ocspXYZ`]);
    expect(near.status).toBe(404);
    expect(near.headers['content-type']).toContain('application/problem+json');
  });
});
