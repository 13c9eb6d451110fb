import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { isAppError } from '../core/errors.js';
import { fromPemAll, toPem } from './der.js';
import { OID } from './oids.js';
import { parseCsr } from './csr.js';
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
