import { execFileSync } from 'node:child_process';
import { createDecipheriv, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isAppError } from '../core/errors.js';
import { decryptPrivateKey, encryptPrivateKey } from './key-protection.js';

const PASS = 'correct horse battery staple';
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
const blob = encryptPrivateKey(pkcs8, PASS);
const env = JSON.parse(blob.toString('utf8')) as Record<string, unknown>;
const withEnv = (patch: Record<string, unknown>): Buffer => Buffer.from(JSON.stringify({ ...env, ...patch }));

function expectError(f: () => unknown, kind: string, code: string): Error {
  try {
    f();
  } catch (e) {
    expect(isAppError(e) ? `${e.kind}/${e.code}` : e).toBe(`${kind}/${code}`);
    return e as Error;
  }
  throw new Error(`expected ${code}`);
}
const flipB64 = (s: unknown): string => {
  const b = Buffer.from(String(s), 'base64');
  b[0] = (b[0] as number) ^ 1;
  return b.toString('base64');
};

describe('key protection', () => {
  it('ok/envelope is independently decryptable: openssl scrypt KDF + AES-256-GCM, and openssl reads the key', () => {
    expect(env).toMatchObject({ format: 'femtoguard-key-v1', kdf: 'scrypt', N: 32768, r: 8, p: 1 });
    const salt = Buffer.from(String(env['salt']), 'base64');
    expect(salt.length).toBe(16);
    expect(Buffer.from(String(env['iv']), 'base64').length).toBe(12);
    expect(Buffer.from(String(env['tag']), 'base64').length).toBe(16);
    const kdf = execFileSync('openssl', ['kdf', '-keylen', '32', '-kdfopt', `pass:${PASS}`, '-kdfopt', `hexsalt:${salt.toString('hex')}`,
      '-kdfopt', 'n:32768', '-kdfopt', 'r:8', '-kdfopt', 'p:1', '-kdfopt', 'maxmem_bytes:100000000', 'SCRYPT'], { encoding: 'utf8' });
    const key = Buffer.from(kdf.trim().replace(/:/g, ''), 'hex');
    const d = createDecipheriv('aes-256-gcm', key, Buffer.from(String(env['iv']), 'base64'));
    d.setAAD(Buffer.from('femtoguard-key-v1'));
    d.setAuthTag(Buffer.from(String(env['tag']), 'base64'));
    const plain = Buffer.concat([d.update(Buffer.from(String(env['ct']), 'base64')), d.final()]);
    expect(plain.equals(pkcs8)).toBe(true);
    expect(execFileSync('openssl', ['pkey', '-inform', 'DER', '-noout', '-text'], { input: plain, encoding: 'utf8' })).toContain('prime256v1');
  });

  it('ok/round trip, with fresh salt and IV each time', () => {
    expect(decryptPrivateKey(blob, PASS).equals(pkcs8)).toBe(true);
    const again = JSON.parse(encryptPrivateKey(pkcs8, PASS).toString()) as Record<string, unknown>;
    expect(again['salt']).not.toBe(env['salt']);
    expect(again['iv']).not.toBe(env['iv']);
  });

  it('ok/passphrase is NFC-normalised (composed and decomposed ü open the same file)', () => {
    const b = encryptPrivateKey(pkcs8, 'gr\u00fcn-gr\u00fcn-gr\u00fcn');
    expect(decryptPrivateKey(b, 'gru\u0308n-gru\u0308n-gru\u0308n').equals(pkcs8)).toBe(true);
  });

  it('fail/wrong passphrase is unauthenticated and says nothing about the key', () => {
    const e = expectError(() => decryptPrivateKey(blob, 'wrong horse battery staple'), 'unauthenticated', 'ca.passphrase_wrong');
    expect(e.message).not.toMatch(/horse|BEGIN|[A-Za-z0-9+/]{20,}/);
    expect(JSON.stringify(e)).not.toContain('horse');
  });

  it.each(['ct', 'tag', 'iv', 'salt'])('fail/tampered %s is ca.passphrase_wrong', (field) => {
    expectError(() => decryptPrivateKey(withEnv({ [field]: flipB64(env[field]) }), PASS), 'unauthenticated', 'ca.passphrase_wrong');
  });

  it('fail/changed scrypt cost is ca.passphrase_wrong', () => {
    expectError(() => decryptPrivateKey(withEnv({ N: 16384 }), PASS), 'unauthenticated', 'ca.passphrase_wrong');
  });

  const malformed: [string, Buffer][] = [
    ['not JSON', Buffer.from('-----BEGIN ' + 'PRIVATE KEY-----')],
    ['a JSON array', Buffer.from('[]')],
    ['another format', withEnv({ format: 'femtoguard-key-v0' })],
    ['another kdf', withEnv({ kdf: 'pbkdf2' })],
    ['N not a power of two', withEnv({ N: 30000 })],
    ['N too large (memory bomb)', withEnv({ N: 2 ** 24 })],
    ['r too large', withEnv({ r: 1000 })],
    ['p as a string', withEnv({ p: '1' })],
    ['short IV', withEnv({ iv: Buffer.alloc(8).toString('base64') })],
    ['short tag', withEnv({ tag: Buffer.alloc(4).toString('base64') })],
    ['short salt', withEnv({ salt: Buffer.alloc(4).toString('base64') })],
    ['ct not base64', withEnv({ ct: 'not base64!' })],
    ['missing ct', withEnv({ ct: undefined })],
  ];
  it.each(malformed)('fail/%s is ca.keyfile_malformed', (_what, b) => {
    expectError(() => decryptPrivateKey(b, PASS), 'invalid', 'ca.keyfile_malformed');
  });

  it('fail/empty and short passphrases are refused', () => {
    expectError(() => encryptPrivateKey(pkcs8, ''), 'invalid', 'ca.passphrase_missing');
    expectError(() => decryptPrivateKey(blob, ''), 'invalid', 'ca.passphrase_missing');
    expectError(() => encryptPrivateKey(pkcs8, 'elevenchars'), 'invalid', 'ca.passphrase_too_short');
    expectError(() => encryptPrivateKey(pkcs8, undefined as unknown as string), 'invalid', 'ca.passphrase_missing');
  });
});
