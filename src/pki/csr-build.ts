/**
 * A minimal PKCS#10 (RFC 2986) builder: for tests, the simulator and benchmarks, which
 * need many distinct CSRs quickly without spawning openssl.
 */
import { createPublicKey, sign as nodeSign, type KeyObject } from 'node:crypto';
import { OID } from './oids.js';
import { encodeName, type NameAttr } from './names.js';
import { bitString, explicit, int, nullDer, oid, octets, seq, set, tlv, utf8 } from './der.js';

export interface BuildCsrOptions {
  privateKey: KeyObject;
  subject: NameAttr[];
  sanDns?: string[];
  sanUris?: string[];
  challengePassword?: string;
}

function signatureFor(key: KeyObject): { alg: Buffer; hash: string } {
  if (key.asymmetricKeyType === 'rsa') return { alg: seq(oid(OID.sha256WithRSAEncryption), nullDer()), hash: 'sha256' };
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'secp384r1') return { alg: seq(oid(OID.ecdsaWithSHA384)), hash: 'sha384' };
  if (key.asymmetricKeyType === 'ec') return { alg: seq(oid(OID.ecdsaWithSHA256)), hash: 'sha256' };
  throw new RangeError(`buildCsr: unsupported key type ${key.asymmetricKeyType ?? 'unknown'}`);
}

/** DER CSR signed by `privateKey` (ECDSA with SHA-256/384, or RSA PKCS#1 v1.5 SHA-256). */
export function buildCsr(opts: BuildCsrOptions): Buffer {
  const spki = createPublicKey(opts.privateKey).export({ format: 'der', type: 'spki' });
  const attrs: Buffer[] = [];
  if (opts.challengePassword !== undefined) attrs.push(seq(oid(OID.challengePassword), set(utf8(opts.challengePassword))));
  const names = [...(opts.sanDns ?? []).map((d) => tlv(0x82, Buffer.from(d, 'latin1'))), ...(opts.sanUris ?? []).map((u) => tlv(0x86, Buffer.from(u, 'latin1')))];
  if (names.length > 0) {
    const san = seq(oid(OID.subjectAltName), octets(seq(...names)));
    attrs.push(seq(oid(OID.extensionRequest), set(seq(san))));
  }
  const cri = seq(int(0), encodeName(opts.subject), spki, explicit(0, ...attrs));
  const { alg, hash } = signatureFor(opts.privateKey);
  return seq(cri, alg, bitString(nodeSign(hash, cri, opts.privateKey)));
}
