import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../core/clock.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';
import { deviceCreateSchema } from '../registry/index.js';
import { buildCsr, createOcspResponder, OID, parseCsr, toPem } from './index.js';
import { parseOcspRequest } from './ocsp.js';

let t: TestServer;
const certs: { serialHex: string; req: Buffer; reqSha256: Buffer; reqNonce: Buffer; reqV: Buffer }[] = [];
beforeAll(async () => {
  t = await startTestServer();
  writeFileSync(join(t.work, 'i.pem'), toPem('CERTIFICATE', t.srv.ca.ca.issuing.der));
  for (const serial of ['S1', 'S2']) {
    await t.srv.base.registry.add(deviceCreateSchema.parse({ serial, status: 'active' }), 'x');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const c = await t.srv.ca.issuance.issue(parseCsr(buildCsr({ privateKey, subject: [{ type: OID.commonName, value: serial }] })), serial, { actor: 'x' });
    writeFileSync(join(t.work, `${serial}.pem`), toPem('CERTIFICATE', c.der));
    const o = (args: string[], out: string): Buffer => {
      execFileSync('openssl', ['ocsp', '-issuer', 'i.pem', ...args, '-cert', `${serial}.pem`, '-reqout', out], { cwd: t.work });
      return readFileSync(join(t.work, out));
    };
    const req = o(['-no_nonce'], `${serial}.der`);
    expect(req[0]).toBe(0x30);
    expect(req[1]).toBeLessThan(0x80);
    const inner = req.subarray(4); // outer SEQ hdr (2) + TBSRequest hdr (2), short lengths
    const withV = Buffer.concat([Buffer.from([0xa0, 0x03, 0x02, 0x01, 0x00]), inner]);
    const tbs = Buffer.concat([Buffer.from([0x30, withV.length]), withV]);
    const reqV = Buffer.concat([Buffer.from([0x30, tbs.length]), tbs]);
    certs.push({ serialHex: c.serialHex, req, reqSha256: o(['-no_nonce', '-sha256'], `${serial}-256.der`), reqNonce: o([], `${serial}-n.der`), reqV });
  }
});
afterAll(async () => t?.stop());

function statusIn(resp: Buffer, req: Buffer): 'good' | 'revoked' | '?' {
  const id = parseOcspRequest(req).certIds[0]!.der;
  if (resp.includes(Buffer.concat([id, Buffer.from([0x80, 0x00])]))) return 'good';
  if (resp.includes(Buffer.concat([id, Buffer.from([0xa1])]))) return 'revoked';
  return '?';
}

describe('responder fast path', () => {
  it('ok/identical repeats served from cache; invalidation, expiry, nonce, eviction', async () => {
    const clock = fixedClock(new Date());
    const status = new Map([['S1', 'active'], ['S2', 'active']]);
    const r = createOcspResponder({ ca: t.srv.ca.ca, store: t.srv.base.stores.certs, clock, deviceStatus: async (s) => status.get(s) ?? null }, { nextUpdateSeconds: 300, echoNonce: true, maxCacheEntries: 2 });
    const [a, b] = certs as [typeof certs[0], typeof certs[0]];
    expect(r.cached(a.req)).toBeUndefined();
    const r1 = await r.respond(a.req);
    expect(statusIn(r1, a.req)).toBe('good');
    expect(r.cached(a.req)).toBe(r1);
    expect(await r.respond(a.req)).toBe(r1);
    expect(r.stats).toMatchObject({ requests: 3, cacheHits: 2, signed: 1 });
    expect(parseOcspRequest(a.reqV).certIds[0]!.der.equals(parseOcspRequest(a.req).certIds[0]!.der)).toBe(true);
    expect(r.cached(a.reqV)).toBeUndefined();
    expect(await r.respond(a.reqV)).toBe(r1);
    expect(r.cached(a.reqV)).toBe(r1);
    expect(r.cached(a.reqNonce)).toBeUndefined();
    const rn = await r.respond(a.reqNonce);
    expect(rn).not.toBe(r1);
    expect(r.cached(a.reqNonce)).toBeUndefined();
    status.set('S1', 'lost');
    await r.invalidate([a.serialHex]);
    expect(r.cached(a.req)).toBeUndefined();
    expect(r.cached(a.reqV)).toBeUndefined();
    const r2 = await r.respond(a.req);
    expect(statusIn(r2, a.req)).toBe('revoked');
    expect(r.cached(a.req)).toBe(r2);
    status.set('S1', 'active');
    clock.advance(151_000);
    expect(r.cached(a.req)).toBeUndefined();
    const r3 = await r.respond(a.req);
    expect(r3).not.toBe(r2);
    expect(statusIn(r3, a.req)).toBe('good');
    expect(r.cached(a.req)).toBe(r3);
    await r.respond(b.req);
    await r.respond(b.reqSha256);
    expect(r.cached(b.req)).toBeDefined();
    expect(r.cached(b.reqSha256)).toBeDefined();
    expect(r.cached(a.req)).toBeUndefined();
    expect(r.cacheSize()).toBe(2);
    expect(r.cached(Buffer.from('nonsense'))).toBeUndefined();
    await r.respond(Buffer.from('nonsense'));
    expect(r.cached(Buffer.from('nonsense'))).toBeUndefined();
  });
});

describe('responder: which answers HTTP caches may keep (RFC 5019 §6)', () => {
  it('fail/nonce echoes and error answers are not cacheable; pre-signed answers without a nonce are', async () => {
    const status = new Map([['S1', 'active'], ['S2', 'active']]);
    const r = createOcspResponder({ ca: t.srv.ca.ca, store: t.srv.base.stores.certs, clock: fixedClock(new Date()), deviceStatus: async (s) => status.get(s) ?? null }, { nextUpdateSeconds: 300, echoNonce: true });
    const [a] = certs as [typeof certs[0]];
    const plain = await r.respond(a.req);
    expect(r.cacheable(plain)).toBe(true);
    expect(r.cacheable(r.cached(a.req) as Buffer)).toBe(true);
    expect(r.cacheable(await r.respond(a.reqNonce))).toBe(false);
    expect(r.cacheable(await r.respond(Buffer.from('not an OCSP request')))).toBe(false);
    expect(r.cacheable(Buffer.from(plain))).toBe(false); // a copy is not an answer this responder gave
  });
});
