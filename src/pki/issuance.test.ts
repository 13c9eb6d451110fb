/**
 * Key binding (one key, one device, forever) against re-encodings of the same key: a
 * compressed EC point (SEC 1 §2.3.3) and RSA AlgorithmIdentifier parameters left out
 * (RFC 3279 §2.3.1 says NULL). Both are valid CSRs for the same key; neither may escape
 * the binding, and the certificate carries the one canonical SubjectPublicKeyInfo.
 */
import { createHash, ECDH, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAppError } from '../core/errors.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';
import { deviceCreateSchema } from '../registry/index.js';
import { parseCertificate } from './certificate.js';
import { parseCsr, type ParsedCsr } from './csr.js';
import { bitString, explicit, int, nullDer, oid, readNode, seq } from './der.js';
import { encodeName } from './names.js';
import { OID } from './oids.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => t?.stop());

/** A CSR for `serial` signed by `privateKey` over exactly `spki`. */
function csrOver(serial: string, spki: Buffer, privateKey: KeyObject): ParsedCsr {
  const cri = seq(int(0), encodeName([{ type: OID.serialNumber, value: serial }, { type: OID.commonName, value: serial }]), spki, explicit(0));
  const alg = privateKey.asymmetricKeyType === 'rsa' ? seq(oid(OID.sha256WithRSAEncryption), nullDer()) : seq(oid(OID.ecdsaWithSHA256));
  return parseCsr(seq(cri, alg, bitString(sign('sha256', cri, privateKey))));
}

/** One P-256 key in its usual SPKI (uncompressed point) and with the point compressed. */
function ecKey(): { privateKey: KeyObject; plain: Buffer; compressed: Buffer } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const plain = publicKey.export({ format: 'der', type: 'spki' });
  const algId = readNode(plain, 2);
  const point = ECDH.convertKey(plain.subarray(algId.end + 3), 'prime256v1', undefined, undefined, 'compressed') as Buffer;
  return { privateKey, plain, compressed: seq(plain.subarray(algId.start, algId.end), bitString(point)) };
}

/** One RSA key with NULL AlgorithmIdentifier parameters (usual) and with them absent. */
function rsaKey(): { privateKey: KeyObject; plain: Buffer; absent: Buffer } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const plain = publicKey.export({ format: 'der', type: 'spki' });
  return { privateKey, plain, absent: seq(seq(oid(OID.rsaEncryption)), bitString(publicKey.export({ format: 'der', type: 'pkcs1' }))) };
}

async function device(serial: string): Promise<string> {
  await t.srv.base.registry.add(deviceCreateSchema.parse({ serial, status: 'provisioned' }), 'test');
  return serial;
}

async function refusedWith(p: Promise<unknown>, code: string): Promise<void> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(isAppError(e) ? e.code : e).toBe(code);
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const issue = (csr: ParsedCsr, serial: string, requireNewKey = false): ReturnType<TestServer['srv']['ca']['issuance']['issue']> =>
  t.srv.ca.issuance.issue(csr, serial, { actor: 'test', requireNewKey });

describe('key binding survives re-encoding of the key', () => {
  it('fail/the same EC key with a compressed point, for another device, is pki.key_bound_elsewhere and audited credential-shared', async () => {
    const k = ecKey();
    const a = await device('KB-EC-A');
    const b = await device('KB-EC-B');
    await issue(csrOver(a, k.plain, k.privateKey), a);
    const before = await t.srv.base.stores.certs.list({ deviceSerial: b });
    await refusedWith(issue(csrOver(b, k.compressed, k.privateKey), b), 'pki.key_bound_elsewhere');
    expect(await t.srv.base.stores.certs.list({ deviceSerial: b })).toEqual(before);
    const shared = await t.srv.base.stores.audit.list({ action: 'credential-shared', subject: b });
    expect(shared).toHaveLength(1);
    expect(shared[0]?.details).toMatchObject({ boundTo: a, spkiSha256: sha256(k.plain) });
  });

  it('fail/compressed first, uncompressed second is refused the same way', async () => {
    const k = ecKey();
    const a = await device('KB-EC-C');
    const b = await device('KB-EC-D');
    await issue(csrOver(a, k.compressed, k.privateKey), a);
    await refusedWith(issue(csrOver(b, k.plain, k.privateKey), b), 'pki.key_bound_elsewhere');
  });

  it('fail/re-enrollment with the same EC key compressed is pki.key_reused', async () => {
    const k = ecKey();
    const a = await device('KB-EC-RE');
    await issue(csrOver(a, k.plain, k.privateKey), a);
    await refusedWith(issue(csrOver(a, k.compressed, k.privateKey), a, true), 'pki.key_reused');
    expect(await t.srv.base.stores.certs.list({ deviceSerial: a })).toHaveLength(1);
  });

  it('fail/the same RSA key with absent parameters is pki.key_bound_elsewhere for another device and pki.key_reused on re-enrollment', async () => {
    const k = rsaKey();
    const a = await device('KB-RSA-A');
    const b = await device('KB-RSA-B');
    await issue(csrOver(a, k.absent, k.privateKey), a);
    await refusedWith(issue(csrOver(b, k.plain, k.privateKey), b), 'pki.key_bound_elsewhere');
    await refusedWith(issue(csrOver(a, k.plain, k.privateKey), a, true), 'pki.key_reused');
  });

  it('ok/a certificate issued from a compressed point or absent RSA parameters carries the canonical SPKI, and the binding names its hash', async () => {
    const ec = ecKey();
    const rsa = rsaKey();
    for (const [serial, csrSpki, canonical, key] of [
      ['KB-CANON-EC', ec.compressed, ec.plain, ec.privateKey],
      ['KB-CANON-RSA', rsa.absent, rsa.plain, rsa.privateKey],
    ] as const) {
      await device(serial);
      const issued = await issue(csrOver(serial, csrSpki, key), serial);
      expect(parseCertificate(issued.der).spki.equals(canonical)).toBe(true);
      expect(await t.srv.base.stores.certs.keyOwner(sha256(canonical))).toBe(serial);
      expect(await t.srv.base.stores.certs.keyOwner(sha256(csrSpki))).toBeNull();
    }
  });

  it('ok/a device may still renew onto a new key, whatever its encoding', async () => {
    const a = await device('KB-NEW');
    const k1 = ecKey();
    const k2 = ecKey();
    await issue(csrOver(a, k1.plain, k1.privateKey), a);
    await issue(csrOver(a, k2.compressed, k2.privateKey), a, true);
    expect(await t.srv.base.stores.certs.list({ deviceSerial: a })).toHaveLength(2);
  });
});
