/**
 * CA private keys at rest: PKCS#8 DER sealed with AES-256-GCM under a key derived from a
 * passphrase by scrypt (RFC 7914). The envelope is a small JSON document so operators can
 * see what it is and a later format can sit beside it.
 */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { AppError } from '../core/errors.js';

/** The envelope format label; also the GCM additional authenticated data. */
export const KEY_FORMAT = 'femtoguard-key-v1';
const AAD = Buffer.from(KEY_FORMAT, 'utf8');

/** scrypt cost used for new key files: N=2^15, r=8, p=1 (RFC 7914 §2 interactive-ish, ~100 ms). */
export const SCRYPT_PARAMS = { N: 2 ** 15, r: 8, p: 1 } as const;
/** Shortest passphrase accepted when encrypting, in Unicode code points. */
export const MIN_PASSPHRASE_LENGTH = 12;

// Bounds on what a key file may ask for, so a hostile file cannot make us spend gigabytes.
const MAX_LOG2_N = 20;
const MIN_LOG2_N = 14;
const MAX_R = 32;
const MAX_P = 16;

interface Envelope {
  format: typeof KEY_FORMAT;
  kdf: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string;
  iv: string;
  tag: string;
  ct: string;
}

function deriveKey(passphrase: string, salt: Buffer, N: number, r: number, p: number): Buffer {
  // scrypt needs 128·N·r bytes; node's default maxmem (32 MiB) is exactly that for 2^15/8, too tight.
  return scryptSync(passphrase.normalize('NFC'), salt, 32, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 });
}

function checkPassphrase(passphrase: unknown): string {
  if (typeof passphrase !== 'string' || passphrase.length === 0) {
    throw new AppError('invalid', 'ca.passphrase_missing', 'a passphrase is required to protect the CA key');
  }
  return passphrase;
}

/**
 * Encrypts a PKCS#8 DER private key under `passphrase`. The passphrase is NFC-normalised
 * (so the same words typed on different systems open the file) and must be at least
 * {@link MIN_PASSPHRASE_LENGTH} characters.
 */
export function encryptPrivateKey(pkcs8Der: Buffer, passphrase: string): Buffer {
  const pass = checkPassphrase(passphrase);
  if ([...pass.normalize('NFC')].length < MIN_PASSPHRASE_LENGTH) {
    throw new AppError('invalid', 'ca.passphrase_too_short', `the CA key passphrase must be at least ${MIN_PASSPHRASE_LENGTH} characters`, {
      minLength: MIN_PASSPHRASE_LENGTH,
    });
  }
  if (!Buffer.isBuffer(pkcs8Der) || pkcs8Der.length === 0) {
    throw new AppError('invalid', 'ca.key_missing', 'no private key to encrypt');
  }
  const { N, r, p } = SCRYPT_PARAMS;
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const key = deriveKey(pass, salt, N, r, p);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
  cipher.setAAD(AAD);
  const ct = Buffer.concat([cipher.update(pkcs8Der), cipher.final()]);
  key.fill(0);
  const env: Envelope = {
    format: KEY_FORMAT,
    kdf: 'scrypt',
    N,
    r,
    p,
    salt: salt.toString('base64'),
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    ct: ct.toString('base64'),
  };
  return Buffer.from(`${JSON.stringify(env)}\n`, 'utf8');
}

function malformed(what: string): AppError {
  return new AppError('invalid', 'ca.keyfile_malformed', `CA key file is malformed: ${what}`);
}

function b64Field(obj: Record<string, unknown>, name: string, len?: number): Buffer {
  const v = obj[name];
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) throw malformed(`"${name}" must be base64 text`);
  const b = Buffer.from(v, 'base64');
  if (len !== undefined && b.length !== len) throw malformed(`"${name}" must be ${len} bytes`);
  return b;
}

function intField(obj: Record<string, unknown>, name: string, min: number, max: number): number {
  const v = obj[name];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw malformed(`"${name}" must be an integer in ${min}..${max}`);
  return v;
}

function parseEnvelope(blob: Buffer): { N: number; r: number; p: number; salt: Buffer; iv: Buffer; tag: Buffer; ct: Buffer } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(blob.toString('utf8'));
  } catch {
    throw malformed('not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw malformed('not a JSON object');
  const o = parsed as Record<string, unknown>;
  if (o['format'] !== KEY_FORMAT) throw malformed(`"format" must be "${KEY_FORMAT}"`);
  if (o['kdf'] !== 'scrypt') throw malformed('"kdf" must be "scrypt"');
  const N = intField(o, 'N', 2 ** MIN_LOG2_N, 2 ** MAX_LOG2_N);
  if ((N & (N - 1)) !== 0) throw malformed('"N" must be a power of two');
  const r = intField(o, 'r', 1, MAX_R);
  const p = intField(o, 'p', 1, MAX_P);
  const salt = b64Field(o, 'salt');
  if (salt.length < 16) throw malformed('"salt" must be at least 16 bytes');
  return { N, r, p, salt, iv: b64Field(o, 'iv', 12), tag: b64Field(o, 'tag', 16), ct: b64Field(o, 'ct') };
}

/**
 * Decrypts a key file made by {@link encryptPrivateKey} back to PKCS#8 DER.
 * A wrong passphrase and a tampered file are indistinguishable by design (GCM tag
 * failure): both are `ca.passphrase_wrong`, and the message says nothing about the key.
 */
export function decryptPrivateKey(blob: Buffer, passphrase: string): Buffer {
  const pass = checkPassphrase(passphrase);
  if (!Buffer.isBuffer(blob)) throw malformed('not a buffer');
  const env = parseEnvelope(blob);
  const key = deriveKey(pass, env.salt, env.N, env.r, env.p);
  try {
    const d = createDecipheriv('aes-256-gcm', key, env.iv, { authTagLength: 16 });
    d.setAAD(AAD);
    d.setAuthTag(env.tag);
    return Buffer.concat([d.update(env.ct), d.final()]);
  } catch {
    throw new AppError('unauthenticated', 'ca.passphrase_wrong', 'cannot open the CA key file: wrong passphrase or the file was altered');
  } finally {
    key.fill(0);
  }
}
