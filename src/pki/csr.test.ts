import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPrivateKey, createPublicKey, ECDH, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { isAppError } from '../core/errors.js';
import { bitString, explicit, fromPemAll, int, nullDer, oid, readNode, seq, toPem } from './der.js';
import { encodeName } from './names.js';
import { OID } from './oids.js';
import { canonicalSpki, parseCsr, parseCsrAsync } from './csr.js';
import { buildCsr } from './csr-build.js';

const dir = mkdtempSync(join(tmpdir(), 'fg-csr-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** A DER CSR from `openssl req`, with a fresh key made by `newkey` args or an existing key file. */
function opensslCsr(keyArgs: string[], extra: string[] = [], subj = '/CN=X'): Buffer {
  const out = join(dir, `r${n++}.der`);
  execFileSync('openssl', ['req', '-new', ...keyArgs, '-nodes', '-keyout', join(dir, `k${n}.pem`), ...(subj ? ['-subj', subj] : []), ...extra, '-outform', 'DER', '-out', out], { stdio: 'pipe' });
  return readFileSync(out);
}
const ecCsr = (curve: string, extra: string[] = [], subj?: string): Buffer => opensslCsr(['-newkey', 'ec', '-pkeyopt', `ec_paramgen_curve:${curve}`], extra, subj);

/** `openssl req -verify` exits 0 even when the signature fails (OpenSSL 3.0), so read what it says. */
function opensslVerifies(der: Buffer): boolean {
  const r = spawnSync('openssl', ['req', '-inform', 'DER', '-verify', '-noout'], { input: der, encoding: 'latin1' });
  return r.status === 0 && /self-signature verify OK/.test(r.stdout + r.stderr);
}

function expectCode(f: () => unknown, code: string): void {
  try {
    f();
  } catch (e) {
    expect(isAppError(e) ? e.code : e).toBe(code);
    return;
  }
  throw new Error(`expected ${code}, got success`);
}

describe('parseCsr: openssl-made requests', () => {
  it('ok/P-256 CSR from openssl req parses and its SPKI is byte-identical to openssl -pubkey', () => {
    const der = ecCsr('P-256', [], '/CN=KTF000001/serialNumber=KTF000001');
    const csr = parseCsr(der);
    expect(csr.keyDescription).toBe('EC P-256');
    expect(csr.commonName).toBe('KTF000001');
    expect(csr.subjectSerialNumber).toBe('KTF000001');
    expect(csr.subject).toEqual([{ type: OID.commonName, value: 'KTF000001' }, { type: OID.serialNumber, value: 'KTF000001' }]);
    const pub = execFileSync('openssl', ['req', '-inform', 'DER', '-noout', '-pubkey'], { input: der, encoding: 'utf8' });
    expect(csr.spki.equals((fromPemAll(pub, 'PUBLIC KEY')[0] as { der: Buffer }).der)).toBe(true);
    expect(csr.sanDns).toEqual([]);
    expect(csr.challengePassword).toBeUndefined();
  });

  it('ok/P-384 CSR with SAN DNS and URI', () => {
    const csr = parseCsr(ecCsr('P-384', ['-addext', 'subjectAltName=DNS:fap1.example.net,URI:urn:femtoguard:device:X,DNS:b.example']));
    expect(csr.keyDescription).toBe('EC P-384');
    expect(csr.sanDns).toEqual(['fap1.example.net', 'b.example']);
    expect(csr.sanUris).toEqual(['urn:femtoguard:device:X']);
  });

  it('ok/RSA 2048 CSR with a challengePassword attribute', () => {
    const cnf = join(dir, 'cp.cnf');
    writeFileSync(cnf, '[req]\nprompt=no\ndistinguished_name=dn\nattributes=attrs\n[dn]\nCN=RSA device\n[attrs]\nchallengePassword=s3cret-enrol\n');
    // with -subj openssl drops the [attrs] section, so the subject comes from the config too
    const der = opensslCsr(['-newkey', 'rsa:2048', '-config', cnf], [], '');
    const csr = parseCsr(der);
    expect(csr.keyDescription).toBe('RSA 2048');
    expect(csr.challengePassword).toBe('s3cret-enrol');
    expect(csr.commonName).toBe('RSA device');
  });

  it('ok/buildCsr output verifies with openssl req -verify and parses back', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const der = buildCsr({ privateKey, subject: [{ type: OID.commonName, value: 'Zelle Ü' }], sanDns: ['a.example'], sanUris: ['urn:x:y'], challengePassword: 'pw' });
    const r = spawnSync('openssl', ['req', '-inform', 'DER', '-verify', '-noout', '-text'], { input: der, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/verify OK/i);
    expect(r.stdout).toContain('DNS:a.example, URI:urn:x:y');
    const csr = parseCsr(der);
    expect(csr.commonName).toBe('Zelle Ü');
    expect(csr.challengePassword).toBe('pw');
  });

  it('fail/RSA 1024 is refused as csr.unsupported_key', () => {
    expectCode(() => parseCsr(opensslCsr(['-newkey', 'rsa:1024'])), 'csr.unsupported_key');
  });

  it('fail/RSA with public exponent 3 is refused', () => {
    const key = join(dir, 'e3.pem');
    execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-pkeyopt', 'rsa_keygen_pubexp:3', '-out', key], { stdio: 'pipe' });
    expectCode(() => parseCsr(opensslCsr(['-key', key])), 'csr.unsupported_key');
  });

  it('fail/P-521 and Ed25519 device keys are refused', () => {
    expectCode(() => parseCsr(ecCsr('P-521')), 'csr.unsupported_key');
    expectCode(() => parseCsr(opensslCsr(['-newkey', 'ed25519'])), 'csr.unsupported_key');
  });

  it('ok/a compressed P-256 point is accepted, and openssl agrees the CSR verifies', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const plain = publicKey.export({ format: 'der', type: 'spki' });
    const point = ECDH.convertKey(plain.subarray(-65), 'prime256v1', undefined, undefined, 'compressed') as Buffer;
    const spki = seq(plain.subarray(2, 2 + 21), bitString(point)); // same AlgorithmIdentifier, compressed point
    const cri = seq(int(0), encodeName([{ type: OID.commonName, value: 'C' }]), spki, explicit(0));
    const der = seq(cri, seq(oid(OID.ecdsaWithSHA256)), bitString(sign('sha256', cri, privateKey)));
    expect(opensslVerifies(der)).toBe(true);
    const csr = parseCsr(der);
    expect(csr.keyDescription).toBe('EC P-256');
    expect(csr.spki.equals(spki)).toBe(true);
  });

  it('fail/secp256k1 and explicit-parameter EC keys are refused', () => {
    expectCode(() => parseCsr(ecCsr('secp256k1')), 'csr.unsupported_key');
    expectCode(() => parseCsr(opensslCsr(['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-pkeyopt', 'ec_param_enc:explicit'])), 'csr.unsupported_key');
  });

  it('fail/an EC point off the curve is csr.malformed (checked on import)', () => {
    const der = ecCsr('P-256');
    const spki = parseCsr(der).spki;
    const at = der.indexOf(spki) + spki.length - 1; // last byte of y
    for (const mask of [1, 2, 4]) {
      const bad = Buffer.from(der);
      bad[at] = (bad[at] as number) ^ mask;
      expectCode(() => parseCsr(bad), 'csr.malformed');
    }
  });

  it('fail/SHA-1 signed CSR is refused', () => {
    expectCode(() => parseCsr(ecCsr('P-256', ['-sha1'])), 'csr.unsupported_signature');
  });
});

describe('parseCsr: tampering and garbage', () => {
  const good = ecCsr('P-256', ['-addext', 'subjectAltName=DNS:x.example'], '/CN=KTF000042');

  it('fail/a flipped signature byte is csr.bad_signature', () => {
    const bad = Buffer.from(good);
    bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 0x01;
    expectCode(() => parseCsr(bad), 'csr.bad_signature');
  });

  it('fail/a changed subject byte is csr.bad_signature', () => {
    const i = good.indexOf(Buffer.from('KTF000042'));
    const bad = Buffer.from(good);
    bad[i] = 0x4c; // K -> L
    expectCode(() => parseCsr(bad), 'csr.bad_signature');
  });

  it('fail/a signature made by another key is csr.bad_signature', () => {
    const other = ecCsr('P-256', ['-addext', 'subjectAltName=DNS:x.example'], '/CN=KTF000042');
    // swap in another P-256 key (same length): the signature no longer matches the key
    const a = parseCsr(good);
    const spkiAt = good.indexOf(a.spki);
    const bad = Buffer.from(good);
    parseCsr(other).spki.copy(bad, spkiAt);
    expectCode(() => parseCsr(bad), 'csr.bad_signature');
  });

  it('fail/every truncation is csr.malformed', () => {
    for (let len = 0; len < good.length; len++) expectCode(() => parseCsr(good.subarray(0, len)), 'csr.malformed');
  });

  it('fail/trailing bytes, PEM text and oversize input are csr.malformed', () => {
    expectCode(() => parseCsr(Buffer.concat([good, Buffer.from([0])])), 'csr.malformed');
    expectCode(() => parseCsr(Buffer.from(toPem('CERTIFICATE REQUEST', good))), 'csr.malformed');
    expectCode(() => parseCsr(Buffer.alloc(20_000, 0x30)), 'csr.malformed');
    expectCode(() => parseCsr('not a buffer' as unknown as Buffer), 'csr.malformed');
  });

  it('fail/version other than 0 is csr.malformed', () => {
    const bad = Buffer.from(good);
    const v = bad.indexOf(Buffer.from([0x02, 0x01, 0x00]));
    bad[v + 2] = 1;
    expectCode(() => parseCsr(bad), 'csr.malformed');
  });

  it('fail/random bytes are csr.malformed, never another kind of error', () => {
    for (let i = 0; i < 3000; i++) {
      const buf = randomBytes(1 + (i % 300));
      if (i % 2 === 0) buf[0] = 0x30; // look like a SEQUENCE to get past the first byte
      expectCode(() => parseCsr(buf), 'csr.malformed');
    }
  });

  it('fail/any single corrupted byte is refused with a csr.* error', () => {
    for (let i = 0; i < good.length; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const bad = Buffer.from(good);
        bad[i] = (bad[i] as number) ^ mask;
        let err: unknown;
        try {
          parseCsr(bad);
        } catch (e) {
          err = e;
        }
        expect(err, `byte ${i} ^ ${mask} was accepted`).toBeDefined();
        expect(isAppError(err) && err.code.startsWith('csr.'), `byte ${i}: ${String(err)}`).toBe(true);
      }
    }
  });
});

// ---------------------------------------------------------------- parseCsrAsync (the EST path)
async function expectCodeAsync(p: Promise<unknown>, code: string): Promise<void> {
  const r = await p.then(
    () => 'success',
    (e: unknown) => (isAppError(e) ? e.code : e),
  );
  expect(r).toBe(code);
}

/** Both parsers must reach the same verdict: the same error code, or results with the same content. */
async function sameVerdict(der: Buffer): Promise<string> {
  let syncCode = 'ok';
  let syncCsr: ReturnType<typeof parseCsr> | undefined;
  try {
    syncCsr = parseCsr(der);
  } catch (e) {
    syncCode = isAppError(e) ? e.code : String(e);
  }
  const asyncCsr = await parseCsrAsync(der).catch((e: unknown) => (isAppError(e) ? e.code : String(e)));
  if (typeof asyncCsr === 'string') {
    expect(asyncCsr).toBe(syncCode);
    return asyncCsr;
  }
  expect(syncCode).toBe('ok');
  const { publicKey: a, ...restAsync } = asyncCsr;
  const { publicKey: b, ...restSync } = syncCsr as NonNullable<typeof syncCsr>;
  expect(restAsync).toEqual(restSync);
  expect(a.equals(b)).toBe(true);
  return 'ok';
}


/** Lengths of the two INTEGERs of a DER ECDSA-Sig-Value, as openssl asn1parse reads them. */
function opensslIntLengths(sig: Buffer): number[] {
  const out = execFileSync('openssl', ['asn1parse', '-inform', 'DER'], { input: sig, encoding: 'utf8' });
  return [...out.matchAll(/l=\s*(\d+) prim: INTEGER/g)].map((m) => Number(m[1]));
}

/** An openssl-made key and CSR, split into CRI and a re-signing function using that key. */
function opensslKeyAndCri(curve: 'P-256' | 'P-384'): { cri: Buffer; alg: Buffer; hash: string; resign: () => Buffer } {
  const key = join(dir, `rs${n++}.pem`);
  execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${curve}`, '-out', key], { stdio: 'pipe' });
  const hash = curve === 'P-256' ? 'sha256' : 'sha384';
  const der = opensslCsr(['-key', key, `-${hash}`], [], '/CN=KTF000777');
  const root = readNode(der, 0);
  const criNode = readNode(der, root.contentStart, root.end);
  const algNode = readNode(der, criNode.end, root.end);
  const cri = der.subarray(criNode.start, criNode.end);
  const privateKey = createPrivateKey(readFileSync(key));
  return { cri, alg: der.subarray(algNode.start, algNode.end), hash, resign: () => sign(hash, cri, privateKey) };
}

describe('parseCsrAsync: same verdicts as parseCsr, checked against openssl', () => {
  it('ok/P-256, P-384 with SAN and RSA 2048 from openssl req give the same result as parseCsr', async () => {
    const cnf = join(dir, 'cp2.cnf');
    writeFileSync(cnf, '[req]\nprompt=no\ndistinguished_name=dn\nattributes=attrs\n[dn]\nCN=RSA device\n[attrs]\nchallengePassword=pw\n');
    const ders = [
      ecCsr('P-256', [], '/CN=KTF000001/serialNumber=KTF000001'),
      ecCsr('P-384', ['-addext', 'subjectAltName=DNS:fap1.example.net,URI:urn:femtoguard:device:X']),
      opensslCsr(['-newkey', 'rsa:2048', '-config', cnf], [], ''),
    ];
    for (const der of ders) {
      expect(opensslVerifies(der)).toBe(true);
      expect(await sameVerdict(der)).toBe('ok');
      const csr = await parseCsrAsync(der);
      const pub = execFileSync('openssl', ['req', '-inform', 'DER', '-noout', '-pubkey'], { input: der, encoding: 'utf8' });
      expect(csr.spki.equals((fromPemAll(pub, 'PUBLIC KEY')[0] as { der: Buffer }).der)).toBe(true);
      expect(csr.publicKey.export({ format: 'der', type: 'spki' }).equals(csr.spki)).toBe(true);
    }
    expect((await parseCsrAsync(ders[1] as Buffer)).keyDescription).toBe('EC P-384');
    expect((await parseCsrAsync(ders[2] as Buffer)).challengePassword).toBe('pw');
  });

  it('ok/a compressed P-256 point', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const plain = publicKey.export({ format: 'der', type: 'spki' });
    const point = ECDH.convertKey(plain.subarray(-65), 'prime256v1', undefined, undefined, 'compressed') as Buffer;
    const cri = seq(int(0), encodeName([{ type: OID.commonName, value: 'C' }]), seq(plain.subarray(2, 2 + 21), bitString(point)), explicit(0));
    const der = seq(cri, seq(oid(OID.ecdsaWithSHA256)), bitString(sign('sha256', cri, privateKey)));
    expect(opensslVerifies(der)).toBe(true);
    expect(await sameVerdict(der)).toBe('ok');
  });

  for (const curve of ['P-256', 'P-384'] as const) {
    it(`ok/${curve} signatures whose r or s has a leading zero byte or is short verify, as with openssl`, async () => {
      const { cri, alg, resign } = opensslKeyAndCri(curve);
      const coord = curve === 'P-256' ? 32 : 48;
      // 0x00 sign byte before a set top bit (r or s is coord + 1 bytes), and a value
      // shorter than the coordinate (its top byte is zero): DER keeps neither at fixed width.
      const wanted: Record<string, (l: number[]) => boolean> = {
        'r padded': (l) => l[0] === coord + 1,
        's padded': (l) => l[1] === coord + 1,
        'r short': (l) => (l[0] as number) < coord,
        's short': (l) => (l[1] as number) < coord,
      };
      const found = new Map<string, Buffer>();
      for (let i = 0; i < 40_000 && found.size < 4; i++) {
        const sig = resign();
        const r = readNode(sig, 2);
        const lens = [r.end - r.contentStart, readNode(sig, r.end).end - readNode(sig, r.end).contentStart];
        for (const [name, f] of Object.entries(wanted)) if (!found.has(name) && f(lens)) found.set(name, sig);
      }
      expect([...found.keys()].sort()).toEqual(Object.keys(wanted).sort());
      for (const [name, sig] of found) {
        expect(wanted[name]?.(opensslIntLengths(sig)), `${name}: openssl asn1parse disagrees`).toBe(true);
        const der = seq(cri, alg, bitString(sig));
        expect(opensslVerifies(der), name).toBe(true);
        expect(await sameVerdict(der), name).toBe('ok');
      }
    });
  }

  it('fail/a flipped signature byte, a changed subject byte and another key are csr.bad_signature (openssl agrees)', async () => {
    for (const der of [ecCsr('P-256', [], '/CN=KTF000042'), ecCsr('P-384', [], '/CN=KTF000042'), opensslCsr(['-newkey', 'rsa:2048'], [], '/CN=KTF000042')]) {
      const flipped = Buffer.from(der);
      flipped[flipped.length - 1] = (flipped[flipped.length - 1] as number) ^ 0x01;
      const renamed = Buffer.from(der);
      renamed[renamed.indexOf(Buffer.from('KTF000042'))] = 0x4c;
      for (const bad of [flipped, renamed]) {
        expect(opensslVerifies(bad)).toBe(false);
        expect(await sameVerdict(bad)).toBe('csr.bad_signature');
      }
    }
    const a = ecCsr('P-256');
    const spki = parseCsr(a).spki;
    const swapped = Buffer.from(a);
    parseCsr(ecCsr('P-256')).spki.copy(swapped, a.indexOf(spki));
    expect(opensslVerifies(swapped)).toBe(false);
    await expectCodeAsync(parseCsrAsync(swapped), 'csr.bad_signature');
  });

  it('fail/a non-minimal INTEGER in the ECDSA signature is csr.bad_signature (openssl refuses it too)', async () => {
    const { cri, alg, resign } = opensslKeyAndCri('P-256');
    let sig = resign();
    while ((sig[4] as number) >= 0x80 || sig[3] !== 32) sig = resign(); // r is 32 bytes, top bit clear
    const r = readNode(sig, 2);
    const s = readNode(sig, r.end);
    // r re-encoded with a needless 0x00 (X.690 §8.3.2 forbids it): same value, not DER.
    const padded = seq(Buffer.from([0x02, 33, 0x00]), sig.subarray(r.contentStart, r.end), sig.subarray(s.start, s.end));
    const der = seq(cri, alg, bitString(padded));
    expect(opensslVerifies(der)).toBe(false);
    expect(await sameVerdict(der)).toBe('csr.bad_signature');
  });

  it('fail/EC points off the curve or with a coordinate >= p are csr.malformed (openssl refuses the key)', async () => {
    const der = ecCsr('P-256');
    const spki = parseCsr(der).spki;
    const at = der.indexOf(spki) + spki.length - 1;
    for (const mask of [1, 2, 4, 0x80]) {
      const bad = Buffer.from(der);
      bad[at] = (bad[at] as number) ^ mask;
      expect(opensslVerifies(bad)).toBe(false);
      expect(await sameVerdict(bad)).toBe('csr.malformed');
    }
    // (5, y) is on P-256; x + p still fits 32 bytes, so an encoding of x + p reduces to a
    // valid point unless the decoder checks the range (SEC 1 §2.3.4).
    const p = 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n;
    const b = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;
    const pow = (a: bigint, e: bigint): bigint => (e === 0n ? 1n : ((e & 1n ? a : 1n) * pow((a * a) % p, e >> 1n)) % p);
    const y = pow((125n - 15n + b) % p, (p + 1n) / 4n);
    expect((y * y) % p).toBe((125n - 15n + b) % p);
    const hex32 = (v: bigint): Buffer => Buffer.from(v.toString(16).padStart(64, '0'), 'hex');
    const ok = Buffer.concat([Buffer.from([4]), hex32(5n), hex32(y)]);
    const bad = Buffer.concat([Buffer.from([4]), hex32(5n + p), hex32(y)]);
    const algId = spki.subarray(2, 2 + 21);
    const withPoint = (pt: Buffer): Buffer => {
      const cri = seq(int(0), encodeName([{ type: OID.commonName, value: 'C' }]), seq(algId, bitString(pt)), explicit(0));
      return seq(cri, seq(oid(OID.ecdsaWithSHA256)), bitString(Buffer.from('3006020101020101', 'hex')));
    };
    expect(await sameVerdict(withPoint(ok))).toBe('csr.bad_signature'); // valid key, made-up signature
    const pub = spawnSync('openssl', ['req', '-inform', 'DER', '-noout', '-pubkey'], { input: withPoint(bad) });
    expect(pub.status).not.toBe(0);
    expect(await sameVerdict(withPoint(bad))).toBe('csr.malformed');
  });

  it('fail/trailing data in the SPKI AlgorithmIdentifier is csr.malformed (openssl cannot load such a CSR)', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const point = publicKey.export({ format: 'der', type: 'spki' }).subarray(-65);
    const cri = seq(int(0), encodeName([{ type: OID.commonName, value: 'C' }]), seq(seq(oid(OID.ecPublicKey), oid(OID.prime256v1), nullDer()), bitString(point)), explicit(0));
    const der = seq(cri, seq(oid(OID.ecdsaWithSHA256)), bitString(sign('sha256', cri, privateKey)));
    expect(opensslVerifies(der)).toBe(false);
    expect(await sameVerdict(der)).toBe('csr.malformed');
  });

  it('fail/unsupported keys and signature algorithms get the same codes', async () => {
    expect(await sameVerdict(opensslCsr(['-newkey', 'rsa:1024']))).toBe('csr.unsupported_key');
    expect(await sameVerdict(ecCsr('P-521'))).toBe('csr.unsupported_key');
    expect(await sameVerdict(ecCsr('secp256k1'))).toBe('csr.unsupported_key');
    expect(await sameVerdict(opensslCsr(['-newkey', 'ed25519']))).toBe('csr.unsupported_key');
    expect(await sameVerdict(ecCsr('P-256', ['-sha1']))).toBe('csr.unsupported_signature');
    expect(await sameVerdict(opensslCsr(['-newkey', 'rsa:2048', '-sha1']))).toBe('csr.unsupported_signature');
  });

  it('fail/errors arrive as rejections, never as synchronous throws', async () => {
    const p = parseCsrAsync('not a buffer' as unknown as Buffer);
    expect(p).toBeInstanceOf(Promise);
    await expectCodeAsync(p, 'csr.malformed');
    await expectCodeAsync(parseCsrAsync(Buffer.alloc(20_000, 0x30)), 'csr.malformed');
  });

  it('fail/every truncation and every single corrupted byte get the same code from both parsers', async () => {
    for (const good of [ecCsr('P-256', ['-addext', 'subjectAltName=DNS:x.example'], '/CN=KTF000042'), ecCsr('P-384')]) {
      for (let len = 0; len < good.length; len++) expect(await sameVerdict(good.subarray(0, len))).toBe('csr.malformed');
      for (let i = 0; i < good.length; i++) {
        for (const mask of [0x01, 0x80, 0xff]) {
          const bad = Buffer.from(good);
          bad[i] = (bad[i] as number) ^ mask;
          expect(await sameVerdict(bad), `byte ${i} ^ ${mask}`).toMatch(/^csr\./);
        }
      }
    }
  });
});

describe('canonicalSpki: one encoding per key', () => {
  /** A CSR signed by `privateKey` over exactly `spki` (any encoding of its public key). */
  const csrOver = (spki: Buffer, privateKey: ReturnType<typeof createPrivateKey>, rsa: boolean): Buffer => {
    const cri = seq(int(0), encodeName([{ type: OID.commonName, value: 'C' }]), spki, explicit(0));
    const alg = rsa ? seq(oid(OID.sha256WithRSAEncryption), nullDer()) : seq(oid(OID.ecdsaWithSHA256));
    return seq(cri, alg, bitString(sign('sha256', cri, privateKey)));
  };

  it('ok/for openssl req CSRs (P-256, P-384, RSA 2048) it is the CSR SPKI byte for byte, so stored bindings keep their hashes', () => {
    for (const der of [ecCsr('P-256'), ecCsr('P-384'), opensslCsr(['-newkey', 'rsa:2048'])]) {
      const csr = parseCsr(der);
      expect(canonicalSpki(csr.publicKey).equals(csr.spki)).toBe(true);
    }
  });

  for (const [curve, nodeCurve] of [['P-256', 'prime256v1'], ['P-384', 'secp384r1']] as const) {
    it(`ok/a compressed ${curve} point gives the uncompressed SPKI openssl prints for the key, from both parsers`, async () => {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: nodeCurve });
      const plain = publicKey.export({ format: 'der', type: 'spki' });
      const algId = readNode(plain, 2);
      const point = ECDH.convertKey(plain.subarray(algId.end + 3), nodeCurve, undefined, undefined, 'compressed') as Buffer;
      const compressed = seq(plain.subarray(algId.start, algId.end), bitString(point));
      const der = csrOver(compressed, privateKey, false);
      expect(opensslVerifies(der)).toBe(true);
      const sync = parseCsr(der);
      expect(sync.spki.equals(compressed)).toBe(true);
      // OpenSSL keeps the point compressed on export: that is why the SPKI is rebuilt from the JWK.
      expect(sync.publicKey.export({ format: 'der', type: 'spki' }).equals(plain)).toBe(false);
      expect(canonicalSpki(sync.publicKey).equals(plain)).toBe(true);
      expect(canonicalSpki((await parseCsrAsync(der)).publicKey).equals(plain)).toBe(true);
      const keyPem = join(dir, `cmp-${curve}.pem`);
      writeFileSync(keyPem, privateKey.export({ format: 'pem', type: 'pkcs8' }));
      const fromOpenssl = execFileSync('openssl', ['pkey', '-in', keyPem, '-pubout', '-outform', 'DER']);
      expect(canonicalSpki(sync.publicKey).equals(fromOpenssl)).toBe(true);
    });
  }

  it('ok/an RSA key with absent AlgorithmIdentifier parameters gives the NULL-parameter SPKI', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const withNull = publicKey.export({ format: 'der', type: 'spki' });
    const absent = seq(seq(oid(OID.rsaEncryption)), bitString(publicKey.export({ format: 'der', type: 'pkcs1' })));
    expect(absent.equals(withNull)).toBe(false);
    const csr = parseCsr(csrOver(absent, privateKey, true));
    expect(csr.spki.equals(absent)).toBe(true);
    expect(canonicalSpki(csr.publicKey).equals(withNull)).toBe(true);
  });

  it('fail/keys the CA does not issue for are refused with csr.unsupported_key', () => {
    for (const k of [generateKeyPairSync('ed25519').publicKey, generateKeyPairSync('ec', { namedCurve: 'secp521r1' }).publicKey, createPublicKey(generateKeyPairSync('x25519').privateKey)]) {
      expectCode(() => canonicalSpki(k), 'csr.unsupported_key');
    }
  });
});
