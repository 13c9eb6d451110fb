import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../core/errors.js';
import { TAG, explicit, int, nullDer, octets, oid, seq, tlv } from './der.js';
import { OID } from './oids.js';
import { keyObjectSigner } from './signer.js';
import { makeTestPki, type TestCert, type TestPki } from '../../test/helpers/openssl-pki.js';
import {
  OCSP_CONTENT_TYPES,
  buildOcspResponse,
  decodeOcspGetPath,
  issuerKeyHashes,
  ocspErrorResponse,
  parseOcspRequest,
  type OcspCertId,
  type OcspCertStatus,
  type OcspRequest,
} from './ocsp.js';

let dir: string;
let pki: TestPki;
let server: Server;
let url: string;
/** Knobs the tests turn on the in-test responder. */
const mode = { echoNonce: true, responder: 'delegated' as 'delegated' | 'device' };
const revokedAt = new Date(Date.UTC(2025, 2, 1, 12, 0, 5));
let statusBySerial: Map<string, OcspCertStatus>;

function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, out }));
  });
}

function matches(id: OcspCertId, issuer: TestCert): boolean {
  if (id.hash === 'unsupported') return false;
  const h = issuerKeyHashes(issuer.subjectDer, issuer.publicKeyBits, id.hash);
  return h.nameHash.equals(id.issuerNameHash) && h.keyHash.equals(id.issuerKeyHash);
}

/** The in-test responder: femtoguard's parse/build, with policy kept trivially simple. */
async function answer(body: Buffer): Promise<Buffer> {
  let req: OcspRequest;
  try {
    req = parseOcspRequest(body);
  } catch {
    return ocspErrorResponse('malformedRequest');
  }
  const first = req.certIds[0] as OcspCertId;
  const rsa = matches(first, pki.rsaIssuing);
  const now = Date.now();
  const responses = req.certIds.map((id) => {
    const known = matches(id, pki.issuing) || matches(id, pki.rsaIssuing);
    const status = (known && statusBySerial.get(id.serialNumber.toString('hex'))) || { status: 'unknown' as const };
    return { certIdDer: id.der, status, thisUpdate: new Date(now - 60_000), nextUpdate: new Date(now + 3_600_000) };
  });
  const signerCert = rsa ? pki.rsaIssuing : mode.responder === 'device' ? pki.devices.good : pki.responder;
  return buildOcspResponse({
    signer: keyObjectSigner(signerCert.privateKey),
    ...(rsa ? {} : { responderCertDer: signerCert.der }),
    responderKeyHash: signerCert.keyHash,
    producedAt: new Date(now),
    responses,
    ...(mode.echoNonce && req.nonce ? { nonce: req.nonce } : {}),
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'femtoguard-ocsp-'));
  pki = makeTestPki(dir);
  statusBySerial = new Map<string, OcspCertStatus>([
    [pki.devices.good.serial.toString('hex'), { status: 'good' }],
    [pki.devices.highBit.serial.toString('hex'), { status: 'good' }],
    [pki.devices.revoked.serial.toString('hex'), { status: 'revoked', revokedAt, reason: 1 }],
    [pki.rsaDevice.serial.toString('hex'), { status: 'good' }],
  ]);
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        let body: Buffer;
        if (req.method === 'GET') {
          try {
            body = decodeOcspGetPath((req.url ?? '/').slice(1));
          } catch {
            body = Buffer.alloc(0);
          }
        } else body = Buffer.concat(chunks);
        const out = await answer(body);
        res.writeHead(200, { 'content-type': OCSP_CONTENT_TYPES.response, 'content-length': out.length });
        res.end(out);
      })();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

/** `openssl ocsp` against the in-test responder, EC chain. */
function ocsp(extra: string[], certs: TestCert[] = [pki.devices.good], issuer = pki.issuing, caFile = pki.chainPath): Promise<{ code: number; out: string }> {
  const certArgs = certs.flatMap((c) => ['-cert', c.certPath]);
  return run('openssl', ['ocsp', '-issuer', issuer.certPath, ...extra, ...certArgs, '-url', url, '-CAfile', caFile, '-resp_text']);
}

/** openssl's text form of a time: "Mar  1 12:00:05 2025 GMT". */
function opensslTime(d: Date): string {
  const mon = d.toUTCString().slice(8, 11);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${mon} ${String(d.getUTCDate()).padStart(2, ' ')} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${d.getUTCFullYear()} GMT`;
}

function opensslRequest(args: string[]): Buffer {
  const out = join(dir, `req-${randomBytes(4).toString('hex')}.der`);
  execFileSync('openssl', ['ocsp', '-issuer', pki.issuing.certPath, ...args, '-reqout', out], { stdio: 'ignore' });
  return readFileSync(out);
}

function expectMalformed(f: () => unknown, where?: RegExp): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    expect((e as AppError).code).toBe('ocsp.malformed');
    expect((e as AppError).kind).toBe('invalid');
    if (where) expect((e as AppError).message).toMatch(where);
    return;
  }
  throw new Error('expected ocsp.malformed');
}

describe('OCSP with the openssl client', () => {
  it('ok/good, SHA-1 CertID, nonce echoed, delegated responder verified', async () => {
    const r = await ocsp([]);
    expect(r.out).toContain('Response verify OK');
    expect(r.out).toContain(`${pki.devices.good.certPath}: good`);
    expect(r.out).toContain('Hash Algorithm: sha1');
    expect(r.out).toContain('OCSP Nonce');
    expect(r.out).not.toMatch(/WARNING|nonce verify error/i);
    expect(r.out.toLowerCase()).toContain(`responder id: ${pki.responder.keyHash.toString('hex')}`);
    expect(r.code).toBe(0);
  });

  it('ok/good with a SHA-256 CertID', async () => {
    const r = await ocsp(['-sha256']);
    expect(r.out).toContain('Response verify OK');
    expect(r.out).toContain('Hash Algorithm: sha256');
    expect(r.out).toContain(`${pki.devices.good.certPath}: good`);
  });

  it('ok/revoked with reason and time', async () => {
    const r = await ocsp([], [pki.devices.revoked]);
    expect(r.out).toContain('Response verify OK');
    expect(r.out).toContain(`${pki.devices.revoked.certPath}: revoked`);
    expect(r.out).toContain('Reason: keyCompromise');
    expect(r.out).toContain(`Revocation Time: ${opensslTime(revokedAt)}`);
  });

  it('ok/unknown serial', async () => {
    const r = await ocsp([], [pki.devices.unknown]);
    expect(r.out).toContain('Response verify OK');
    expect(r.out).toContain(`${pki.devices.unknown.certPath}: unknown`);
  });

  it('ok/several CertIDs and a serial with its top bit set', async () => {
    const r = await ocsp([], [pki.devices.good, pki.devices.revoked, pki.devices.highBit]);
    expect(r.out).toContain('Response verify OK');
    expect(r.out).toContain(`${pki.devices.good.certPath}: good`);
    expect(r.out).toContain(`${pki.devices.revoked.certPath}: revoked`);
    expect(r.out).toContain(`${pki.devices.highBit.certPath}: good`);
  });

  it('ok/-no_nonce: no nonce in the response either', async () => {
    const r = await ocsp(['-no_nonce']);
    expect(r.out).toContain('Response verify OK');
    expect(r.out).toContain(`${pki.devices.good.certPath}: good`);
    expect(r.out).not.toContain('OCSP Nonce');
    expect(r.out).not.toMatch(/WARNING/);
  });

  it('ok/RSA issuing CA signs its own responses (no certs in the response)', async () => {
    const r = await ocsp([], [pki.rsaDevice], pki.rsaIssuing, pki.rsaChainPath);
    expect(r.out).toContain('Response verify OK');
    expect(r.out).toContain(`${pki.rsaDevice.certPath}: good`);
    expect(r.out).toContain('sha256WithRSAEncryption');
  });

  it('ok/unsupported CertID hash (MD5) parses and is answered unknown', async () => {
    const r = await ocsp(['-md5']);
    expect(r.out).toContain('Response verify OK');
    expect(r.out).toContain(`${pki.devices.good.certPath}: unknown`);
  });

  it('ok/GET with the url-encoded base64 path (curl), read by openssl -respin', async () => {
    const reqDer = opensslRequest(['-no_nonce', '-cert', pki.devices.revoked.certPath]);
    const path = encodeURIComponent(reqDer.toString('base64'));
    const respPath = join(dir, 'get-resp.der');
    const c = await run('curl', ['-sS', '-o', respPath, '-w', '%{http_code} %{content_type}', `${url}${path}`]);
    expect(c.out).toBe(`200 ${OCSP_CONTENT_TYPES.response}`);
    const r = await run('openssl', ['ocsp', '-respin', respPath, '-issuer', pki.issuing.certPath, '-cert', pki.devices.revoked.certPath,
      '-no_nonce', '-CAfile', pki.chainPath, '-resp_text']);
    expect(r.out).toContain('Response verify OK');
    expect(r.out).toContain(`${pki.devices.revoked.certPath}: revoked`);
  });

  it('fail/openssl flags a response that drops the nonce', async () => {
    mode.echoNonce = false;
    try {
      const r = await ocsp([]);
      expect(r.out).toMatch(/WARNING: no nonce in response/);
    } finally {
      mode.echoNonce = true;
    }
  });

  it('fail/openssl rejects a delegated responder without id-kp-OCSPSigning', async () => {
    mode.responder = 'device';
    try {
      const r = await ocsp([]);
      expect(r.out).toMatch(/Response Verify Failure/i);
      expect(r.out).not.toContain('Response verify OK');
    } finally {
      mode.responder = 'delegated';
    }
  });

  it('fail/garbage POST is answered malformedRequest', async () => {
    const respPath = join(dir, 'garbage-resp.der');
    await run('curl', ['-sS', '-o', respPath, '--data-binary', 'not an OCSP request', '-H', `content-type: ${OCSP_CONTENT_TYPES.request}`, url]);
    const r = await run('openssl', ['ocsp', '-respin', respPath, '-resp_text']);
    expect(r.out).toMatch(/malformedrequest/i);
  });
});

describe('ocspErrorResponse', () => {
  it.each(['malformedRequest', 'internalError', 'tryLater', 'sigRequired', 'unauthorized'] as const)('ok/%s is read by openssl', async (s) => {
    const p = join(dir, `err-${s}.der`);
    writeFileSync(p, ocspErrorResponse(s));
    const r = await run('openssl', ['ocsp', '-respin', p, '-resp_text']);
    expect(r.out).toContain(`Responder Error: ${s.toLowerCase()}`);
  });
});

describe('parseOcspRequest', () => {
  it('ok/matches the CertID openssl computed (issuer hashes, serial, nonce)', () => {
    for (const hash of ['sha1', 'sha256', 'sha384', 'sha512'] as const) {
      const der = opensslRequest([`-${hash}`, '-cert', pki.devices.highBit.certPath]);
      const req = parseOcspRequest(der);
      expect(req.certIds).toHaveLength(1);
      const id = req.certIds[0] as OcspCertId;
      const h = issuerKeyHashes(pki.issuing.subjectDer, pki.issuing.publicKeyBits, hash);
      expect(id.hash).toBe(hash);
      expect(id.issuerNameHash.equals(h.nameHash)).toBe(true);
      expect(id.issuerKeyHash.equals(h.keyHash)).toBe(true);
      expect(id.serialNumber.equals(pki.devices.highBit.serial)).toBe(true);
      // openssl's default nonce: extnValue holds an OCTET STRING of 16 random bytes
      expect(req.nonce?.[0]).toBe(TAG.OCTET_STRING);
      expect(req.nonce).toHaveLength(18);
    }
  });

  it('ok/16 CertIDs is the limit', () => {
    const serials = Array.from({ length: 16 }, (_, i) => ['-serial', String(i + 1)]).flat();
    expect(parseOcspRequest(opensslRequest(serials)).certIds).toHaveLength(16);
  });

  it('fail/17 CertIDs', () => {
    const serials = Array.from({ length: 17 }, (_, i) => ['-serial', String(i + 1)]).flat();
    expectMalformed(() => parseOcspRequest(opensslRequest(serials)), /more than 16/);
  });

  const certId = (over: { alg?: Buffer; nameHash?: Buffer; keyHash?: Buffer; serial?: Buffer; extra?: Buffer } = {}): Buffer =>
    seq(
      over.alg ?? seq(oid(OID.sha1), nullDer()),
      octets(over.nameHash ?? Buffer.alloc(20, 1)),
      octets(over.keyHash ?? Buffer.alloc(20, 2)),
      over.serial ?? int(5),
      ...(over.extra ? [over.extra] : []),
    );
  const request = (ids: Buffer[], exts?: Buffer, prefix: Buffer[] = []): Buffer =>
    seq(seq(...prefix, seq(...ids.map((i) => seq(i))), ...(exts ? [explicit(2, seq(exts))] : [])));
  const nonceExt = (v: Buffer, critical = false): Buffer =>
    seq(oid(OID.ocspNonce), ...(critical ? [Buffer.from([1, 1, 0xff])] : []), octets(v));

  it('ok/hand-built minimal request, SHA-1 without NULL parameters, signature skipped', () => {
    const r = parseOcspRequest(seq(seq(seq(seq(certId({ alg: seq(oid(OID.sha1)) })))), explicit(0, seq())));
    expect(r.certIds[0]?.hash).toBe('sha1');
    expect(r.certIds[0]?.serialNumber.equals(Buffer.from([5]))).toBe(true);
    expect(r.nonce).toBeUndefined();
  });

  it('ok/unknown non-critical extension is ignored; nonce kept', () => {
    const r = parseOcspRequest(request([certId()], Buffer.concat([seq(oid('1.2.3.4'), octets(Buffer.from('x'))), nonceExt(Buffer.from('abc'))])));
    expect(r.nonce?.toString()).toBe('abc');
  });

  it('fail/truncated', () => {
    const der = opensslRequest(['-cert', pki.devices.good.certPath]);
    for (const n of [0, 1, 2, 10, der.length - 1]) expectMalformed(() => parseOcspRequest(der.subarray(0, n)));
  });

  it('fail/random bytes', () => {
    for (let i = 0; i < 200; i++) expectMalformed(() => parseOcspRequest(randomBytes(1 + (i % 120))));
  });

  it('fail/wrong outer tag', () => {
    const der = Buffer.from(opensslRequest(['-cert', pki.devices.good.certPath]));
    der[0] = TAG.SET;
    expectMalformed(() => parseOcspRequest(der), /OCSPRequest/);
  });

  it('fail/trailing bytes', () => {
    const der = opensslRequest(['-cert', pki.devices.good.certPath]);
    expectMalformed(() => parseOcspRequest(Buffer.concat([der, Buffer.from([0])])), /trailing/);
  });

  it('fail/empty request list', () => {
    expectMalformed(() => parseOcspRequest(request([])), /no requests/);
  });

  it('fail/version other than v1', () => {
    expectMalformed(() => parseOcspRequest(request([certId()], undefined, [explicit(0, int(1))])), /version/);
  });

  it('fail/hash length does not match the algorithm', () => {
    expectMalformed(() => parseOcspRequest(request([certId({ nameHash: Buffer.alloc(32) })])), /issuerNameHash/);
    expectMalformed(() => parseOcspRequest(request([certId({ alg: seq(oid(OID.sha256)) })])), /issuerNameHash/);
  });

  it('fail/hash parameters other than NULL', () => {
    expectMalformed(() => parseOcspRequest(request([certId({ alg: seq(oid(OID.sha1), int(0)) })])), /parameters/);
  });

  it('fail/negative, empty, non-minimal and over-long serials', () => {
    expectMalformed(() => parseOcspRequest(request([certId({ serial: tlv(TAG.INTEGER, Buffer.from([0x80])) })])), /negative/);
    expectMalformed(() => parseOcspRequest(request([certId({ serial: tlv(TAG.INTEGER, Buffer.alloc(0)) })])), /serialNumber/);
    expectMalformed(() => parseOcspRequest(request([certId({ serial: tlv(TAG.INTEGER, Buffer.from([0, 1])) })])), /non-minimal/);
    expectMalformed(() => parseOcspRequest(request([certId({ serial: int(Buffer.alloc(22, 0x11)) })])), /20 octets/);
  });

  it('fail/extra field in CertID', () => {
    expectMalformed(() => parseOcspRequest(request([certId({ extra: nullDer() })])), /CertID/);
  });

  it('fail/unsupported critical extension', () => {
    expectMalformed(() => parseOcspRequest(request([certId()], seq(oid('1.2.3.4'), Buffer.from([1, 1, 0xff]), octets(Buffer.from('x'))))), /critical/);
  });

  it('fail/duplicate, empty and over-long nonces', () => {
    const n = nonceExt(Buffer.from('abc'));
    expectMalformed(() => parseOcspRequest(request([certId()], Buffer.concat([n, n]))), /duplicate/);
    expectMalformed(() => parseOcspRequest(request([certId()], nonceExt(Buffer.alloc(0)))), /nonce/);
    expectMalformed(() => parseOcspRequest(request([certId()], nonceExt(octets(Buffer.alloc(129))))), /nonce/);
  });

  it('fail/requestExtensions with a wrong tag', () => {
    const der = seq(seq(seq(seq(certId())), explicit(3, seq())));
    expectMalformed(() => parseOcspRequest(der), /requestExtensions/);
  });
});

describe('decodeOcspGetPath', () => {
  const der = Buffer.from([0x30, 0xfb, 0xff, 0xfe, 0x3e, 0x01, 0x02]); // base64 has '+', '/' and '='
  const b64 = der.toString('base64');

  it('ok/percent-encoded, raw, space-for-plus, base64url and unpadded forms', () => {
    expect(b64).toMatch(/[+/=]/);
    for (const p of [
      encodeURIComponent(b64),
      `/${encodeURIComponent(b64)}`,
      b64,
      b64.replace(/\+/g, ' '),
      der.toString('base64url'),
      b64.replace(/=+$/, ''),
      encodeURIComponent(b64).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
    ]) {
      expect(decodeOcspGetPath(p).equals(der)).toBe(true);
    }
  });

  it('ok/round trip of a real request', () => {
    const req = opensslRequest(['-cert', pki.devices.good.certPath]);
    expect(parseOcspRequest(decodeOcspGetPath(encodeURIComponent(req.toString('base64')))).certIds).toHaveLength(1);
  });

  it.each([
    ['empty', ''],
    ['only a slash', '/'],
    ['not base64', 'MEow!SDBG'],
    ['bad percent-encoding', 'MEow%ZZ'],
    ['padding in the middle', 'ME=wSDBG'],
    ['impossible length', 'MEowS'],
    ['wrong padding', 'MEo=='],
    ['too long', 'M'.repeat(5000)],
  ])('fail/%s', (_n, p) => {
    expectMalformed(() => decodeOcspGetPath(p));
  });
});

describe('buildOcspResponse input checks', () => {
  const base = (): Parameters<typeof buildOcspResponse>[0] => ({
    signer: keyObjectSigner(pki.responder.privateKey),
    responderKeyHash: pki.responder.keyHash,
    producedAt: new Date(),
    responses: [{ certIdDer: seq(seq(oid(OID.sha1)), octets(Buffer.alloc(20)), octets(Buffer.alloc(20)), int(1)), status: { status: 'good' }, thisUpdate: new Date() }],
  });

  it('fail/bad responderKeyHash, no responses, bad reason, bad CertID', async () => {
    await expect(buildOcspResponse({ ...base(), responderKeyHash: Buffer.alloc(32) })).rejects.toThrow(/responderKeyHash/);
    await expect(buildOcspResponse({ ...base(), responses: [] })).rejects.toThrow(/no responses/);
    const r = base().responses[0]!;
    await expect(buildOcspResponse({ ...base(), responses: [{ ...r, status: { status: 'revoked', revokedAt: new Date(), reason: 7 } }] })).rejects.toThrow(/reason/);
    await expect(buildOcspResponse({ ...base(), responses: [{ ...r, certIdDer: Buffer.from([0x04, 0x00]) }] })).rejects.toThrow(/CertID/);
  });
});
