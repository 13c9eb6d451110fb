import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import { OID } from './oids.js';
import { nullDer, oid, seq } from './der.js';

/** Key algorithms femtoguard's CA can use. ECDSA P-256 is the default. */
export type KeyAlgorithm = 'P-256' | 'P-384' | 'RSA-3072';
export const KEY_ALGORITHMS: readonly KeyAlgorithm[] = ['P-256', 'P-384', 'RSA-3072'];

/**
 * Everything that signs with a CA key goes through this interface, so the issuing key can
 * later live in a PKCS#11 token (SoftHSM, an HSM) without touching callers.
 */
export interface Signer {
  readonly keyAlgorithm: KeyAlgorithm;
  /** DER AlgorithmIdentifier of the signatures this signer makes. */
  readonly signatureAlgorithm: Buffer;
  /** DER SubjectPublicKeyInfo of the signing key. */
  readonly publicKeySpki: Buffer;
  /** Signature over `data`, in the X.509 encoding (DER ECDSA-Sig-Value, or PKCS#1 v1.5). */
  sign(data: Buffer): Promise<Buffer>;
  /** Same, synchronously: only signers whose key is in process memory offer it (hot paths use it when present). */
  signSync?(data: Buffer): Buffer;
}

/** RFC 5758 §3.2 (ECDSA: parameters absent), RFC 4055 (RSA: parameters NULL). */
export function signatureAlgorithmFor(alg: KeyAlgorithm): { der: Buffer; hash: 'sha256' | 'sha384' } {
  switch (alg) {
    case 'P-256':
      return { der: seq(oid(OID.ecdsaWithSHA256)), hash: 'sha256' };
    case 'P-384':
      return { der: seq(oid(OID.ecdsaWithSHA384)), hash: 'sha384' };
    case 'RSA-3072':
      return { der: seq(oid(OID.sha256WithRSAEncryption), nullDer()), hash: 'sha256' };
  }
}

export function generateKeyPair(alg: KeyAlgorithm): { privateKey: KeyObject; publicKey: KeyObject } {
  if (alg === 'RSA-3072') return generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 0x10001 });
  return generateKeyPairSync('ec', { namedCurve: alg === 'P-256' ? 'prime256v1' : 'secp384r1' });
}

/** Infers the femtoguard key algorithm of a key, or throws for one the CA does not use. */
export function keyAlgorithmOf(key: KeyObject): KeyAlgorithm {
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec' && d.namedCurve === 'prime256v1') return 'P-256';
  if (key.asymmetricKeyType === 'ec' && d.namedCurve === 'secp384r1') return 'P-384';
  if (key.asymmetricKeyType === 'rsa' && (d.modulusLength ?? 0) >= 3072) return 'RSA-3072';
  throw new RangeError(`unsupported CA key: ${key.asymmetricKeyType ?? 'unknown'}`);
}

/** A signer over a private key held in process memory (decrypted from the key file at start). */
export function keyObjectSigner(privateKey: KeyObject): Signer {
  const keyAlgorithm = keyAlgorithmOf(privateKey);
  const { der, hash } = signatureAlgorithmFor(keyAlgorithm);
  const publicKeySpki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const signSync = (data: Buffer): Buffer => nodeSign(hash, data, privateKey);
  return {
    keyAlgorithm,
    signatureAlgorithm: der,
    publicKeySpki,
    signSync,
    sign: (data) => Promise.resolve(signSync(data)),
  };
}

export function privateKeyFromPkcs8(der: Buffer): KeyObject {
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
}
