/**
 * Identity-layer review fixes, through the real clients: `openssl ec -conv_form compressed`
 * re-encodes an enrolled key (the binding must still hold over EST with curl), `curl` drives
 * the REST revocation routes, `openssl verify -crl_check` and `openssl ocsp` read what a
 * security gateway would, and curl's GET of /ocsp shows the HTTP caching headers.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addDevice,
  curlRequest,
  enroll,
  enrollNewDevice,
  expectRefused,
  issuingPem,
  makeCsr,
  newToken,
  ocspStatus,
  reenroll,
  run,
  type HttpReply,
} from '../helpers/est-client.js';
import { requireTool } from '../helpers/run.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
beforeAll(async () => {
  requireTool('openssl', 'openssl');
  requireTool('curl', 'curl');
  t = await startTestServer();
});
afterAll(async () => t?.stop());

function api(method: string, path: string, body?: unknown): Promise<HttpReply> {
  const args = ['-X', method, '-H', `Authorization: Bearer ${t.adminToken}`];
  if (body !== undefined) args.push('-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body));
  return curlRequest(t.work, [...args, `${t.http}${path}`]);
}

/** The same private key, written with its public point compressed. */
async function compressedCopy(keyPath: string): Promise<string> {
  const out = `${keyPath}.compressed.pem`;
  const r = await run('openssl', ['ec', '-in', keyPath, '-conv_form', 'compressed', '-out', out]);
  expect(r.status, r.stderr).toBe(0);
  return out;
}

async function crlVerify(certPath: string): Promise<string> {
  const crl = await curlRequest(t.work, [`${t.http}/crl.pem`]);
  expect(crl.status).toBe(200);
  const crlPath = join(t.work, `crl-${Date.now()}-${Math.random()}.pem`);
  writeFileSync(crlPath, crl.bodyBytes);
  const r = await run('openssl', ['verify', '-crl_check', '-CAfile', t.chainPath, '-CRLfile', crlPath, certPath]);
  return r.status === 0 ? 'OK' : (/error \d+ at \d+ depth lookup: ([^\n]+)/.exec(r.stdout + r.stderr)?.[1] ?? r.stdout + r.stderr);
}

describe('key binding over EST, with the key re-encoded by openssl', () => {
  it('fail/another device enrolling the same key with a compressed point gets 409 pki.key_bound_elsewhere and a credential-shared audit event', async () => {
    const a = await enrollNewDevice(t, 'REV5-KB-A');
    await addDevice(t, 'REV5-KB-B');
    const csr = await makeCsr(t.work, 'REV5-KB-B', { keyPath: await compressedCopy(a.keyPath) });
    // The CSR really carries the compressed point (33 bytes: 02/03 || x).
    const pub = await run('openssl', ['req', '-inform', 'DER', '-in', csr.derPath, '-noout', '-text']);
    expect(pub.stdout).toMatch(/pub:\s*\n\s*0[23]:/);
    expectRefused(await enroll(t, 'REV5-KB-B', await newToken(t, 'REV5-KB-B'), csr), 409, 'pki.key_bound_elsewhere');
    const shared = await t.srv.base.stores.audit.list({ action: 'credential-shared', subject: 'REV5-KB-B' });
    expect(shared.map((e) => e.details)).toEqual([expect.objectContaining({ boundTo: 'REV5-KB-A' })]);
    expect(await t.srv.base.stores.certs.list({ deviceSerial: 'REV5-KB-B' })).toEqual([]);
  });

  it('fail/simplereenroll with the same key compressed gets 409 pki.key_reused', async () => {
    const a = await enrollNewDevice(t, 'REV5-KB-RE');
    const csr = await makeCsr(t.work, 'REV5-KB-RE', { keyPath: await compressedCopy(a.keyPath) });
    expectRefused(await reenroll(t, csr, a.certPath, a.keyPath), 409, 'pki.key_reused');
    expect(await t.srv.base.stores.certs.list({ deviceSerial: 'REV5-KB-RE' })).toHaveLength(1);
  });
});

describe('revoke-device', () => {
  it('fail/reason removeFromCRL is 400 crl.bad_reason; the certificate stays valid and the CRL does not list it', async () => {
    const d = await enrollNewDevice(t, 'REV5-R8');
    const r = await api('POST', '/v1/certificates/revoke-device', { deviceSerial: 'REV5-R8', reason: 'removeFromCRL' });
    expect(r.status, r.body).toBe(400);
    expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(r.body)).toMatchObject({ code: 'crl.bad_reason', detail: expect.stringMatching(/removeFromCRL is not a revocation reason/) });
    expect(await t.srv.base.stores.certs.get(d.serialHex)).toMatchObject({ status: 'valid' });
    expect(await crlVerify(d.certPath)).toBe('OK');
    const single = await api('POST', `/v1/certificates/${d.serialHex}/revoke`, { reason: 'removeFromCRL' });
    expect(single.status).toBe(400);
    expect(JSON.parse(single.body)).toMatchObject({ code: 'crl.bad_reason', detail: JSON.parse(r.body).detail });
  });

  it('fail/a certificate stored as revoked with removeFromCRL (older data) is still revoked for openssl verify -crl_check and openssl ocsp', async () => {
    const d = await enrollNewDevice(t, 'REV5-LEGACY8');
    expect(await t.srv.base.stores.certs.revoke(d.serialHex, 8, new Date().toISOString())).toBe(true);
    t.srv.base.revocation.emit([d.serialHex]);
    expect(await crlVerify(d.certPath)).toBe('certificate revoked');
    const o = await ocspStatus(t, d.certPath);
    expect(o.status, o.stdout + o.stderr).toBe('revoked');
    expect(o.reason).toBeNull();
  });

  it('ok/keyCompromise revokes every certificate of the device; openssl verify -crl_check says revoked', async () => {
    const d = await enrollNewDevice(t, 'REV5-R1');
    const r = await api('POST', '/v1/certificates/revoke-device', { deviceSerial: 'REV5-R1', reason: 'keyCompromise' });
    expect(r.status, r.body).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ deviceSerial: 'REV5-R1', revoked: [d.serialHex] });
    expect(await crlVerify(d.certPath)).toBe('certificate revoked');
  });

  it('fail/an unknown device is 404 device.not_found, with no cert.revoked audit event', async () => {
    const r = await api('POST', '/v1/certificates/revoke-device', { deviceSerial: 'REV5-NOPE', reason: 'keyCompromise' });
    expect(r.status, r.body).toBe(404);
    expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(r.body)).toMatchObject({ code: 'device.not_found', status: 404, detail: expect.stringContaining('REV5-NOPE') });
    expect(await t.srv.base.stores.audit.list({ action: 'cert.revoked', subject: 'REV5-NOPE' })).toEqual([]);
  });
});

describe('OCSP GET caching headers (RFC 5019 §6)', () => {
  async function getOcsp(reqPath: string): Promise<HttpReply> {
    return curlRequest(t.work, [`${t.http}/ocsp/${encodeURIComponent(readFileSync(reqPath).toString('base64'))}`]);
  }

  it('ok/a request without a nonce gets a public max-age', async () => {
    const d = await enrollNewDevice(t, 'REV5-GET');
    const reqPath = join(t.work, 'rev5-plain.der');
    expect((await run('openssl', ['ocsp', '-issuer', issuingPem(t), '-cert', d.certPath, '-no_nonce', '-reqout', reqPath])).status).toBe(0);
    for (let i = 0; i < 2; i++) {
      const r = await getOcsp(reqPath); // signed fresh, then from the cache
      expect(r.headers['cache-control']).toMatch(/^max-age=\d+, public/);
    }
  });

  it('fail/an answer echoing a nonce and a malformed-request answer are no-store', async () => {
    const d = await enrollNewDevice(t, 'REV5-GET-N');
    const reqPath = join(t.work, 'rev5-nonce.der');
    expect((await run('openssl', ['ocsp', '-issuer', issuingPem(t), '-cert', d.certPath, '-reqout', reqPath])).status).toBe(0);
    const withNonce = await getOcsp(reqPath);
    expect(withNonce.status).toBe(200);
    const respPath = join(t.work, 'rev5-nonce-resp.der');
    writeFileSync(respPath, withNonce.bodyBytes);
    const text = await run('openssl', ['ocsp', '-respin', respPath, '-resp_text', '-noverify']);
    expect(text.stdout).toMatch(/OCSP Nonce/);
    expect(withNonce.headers['cache-control']).toBe('no-store');
    // Valid base64, not an OCSPRequest: the responder answers malformedRequest.
    const bad = await curlRequest(t.work, [`${t.http}/ocsp/${encodeURIComponent(Buffer.from('not an OCSP request').toString('base64'))}`]);
    expect(bad.status).toBe(200);
    expect(bad.bodyBytes.equals(Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x01]))).toBe(true);
    expect(bad.headers['cache-control']).toBe('no-store');
  });
});
