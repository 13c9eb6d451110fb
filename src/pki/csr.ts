/**
 * PKCS#10 certification requests (RFC 2986): parse, check the device key is one we
 * issue for, and verify the self-signature (proof of possession, RFC 7030 §3.4 relies on it).
 * On the issuance hot path: one walk over DER offsets and one KeyObject per request.
 * {@link parseCsrAsync} is the EST path: it imports EC keys through WebCrypto, the cheapest
 * key import node:crypto offers on OpenSSL 3.0.
 */
import { createPublicKey, KeyObject, verify as nodeVerify, webcrypto } from 'node:crypto';
import { AppError, isAppError } from '../core/errors.js';
import { OID } from './oids.js';
import { parseName, type NameAttr } from './names.js';
import { parseGeneralNames, type SubjectAltNames } from './certificate.js';
import { TAG, bitString, expectTag, int, nullDer, oid, parseRoot, readNode, readOid, readString, readUnsignedInt, seq, whole, type Node } from './der.js';

export interface ParsedCsr {
  der: Buffer;
  subject: NameAttr[];
  subjectDer: Buffer;
  /** first commonName of the subject */
  commonName?: string;
  /** first serialNumber attribute of the subject */
  subjectSerialNumber?: string;
  /** the whole SubjectPublicKeyInfo TLV, byte for byte as in the CSR */
  spki: Buffer;
  /** the device public key (already built, so callers need not build it again) */
  publicKey: KeyObject;
  /** e.g. 'EC P-256', 'RSA 2048' */
  keyDescription: string;
  sanDns: string[];
  sanUris: string[];
  challengePassword?: string;
}

/** Requests larger than this are refused before parsing (a device CSR is well under 2 KiB). */
export const MAX_CSR_BYTES = 16 * 1024;

const RSA_MIN_BITS = 2048;
const RSA_MAX_BITS = 8192; // bounds the cost of one verify
const CURVE_NAMES: Readonly<Record<string, string>> = { [OID.secp521r1]: 'P-521', '1.3.132.0.10': 'secp256k1' };

/** Signature algorithms accepted in CSRs: SHA-2 only (no SHA-1 for new certificates). */
const CSR_SIG: Readonly<Record<string, { hash: string; key: 'ec' | 'rsa' }>> = {
  [OID.ecdsaWithSHA256]: { hash: 'sha256', key: 'ec' },
  [OID.ecdsaWithSHA384]: { hash: 'sha384', key: 'ec' },
  [OID.ecdsaWithSHA512]: { hash: 'sha512', key: 'ec' },
  [OID.sha256WithRSAEncryption]: { hash: 'sha256', key: 'rsa' },
  [OID.sha384WithRSAEncryption]: { hash: 'sha384', key: 'rsa' },
  [OID.sha512WithRSAEncryption]: { hash: 'sha512', key: 'rsa' },
};

function malformed(what: string, offset?: number): AppError {
  return new AppError('invalid', 'csr.malformed', `malformed CSR: ${what}`, offset === undefined ? undefined : { offset });
}

interface Walked {
  cri: Buffer;
  key: KeyCheck;
  subjectNode: Node;
  spki: Buffer;
  sigAlg: string;
  sigAlgParams: Node | undefined;
  signature: Buffer;
  sanDns: string[];
  sanUris: string[];
  challengePassword?: string;
}

function parseAttributes(der: Buffer, attrs: Node, out: Walked): void {
  for (let p = attrs.contentStart; p < attrs.end; ) {
    const a = expectTag(readNode(der, p, attrs.end), TAG.SEQUENCE, 'Attribute', p);
    p = a.end;
    const t = expectTag(readNode(der, a.contentStart, a.end), TAG.OID, 'Attribute type', a.contentStart);
    const values = expectTag(readNode(der, t.end, a.end), TAG.SET, 'Attribute values', t.end);
    if (values.end !== a.end) throw malformed('trailing data in Attribute', values.end);
    const type = readOid(der, t);
    if (values.contentStart === values.end) throw malformed(`attribute ${type} has no value`, values.start);
    const first = readNode(der, values.contentStart, values.end);
    if (type === OID.challengePassword) {
      out.challengePassword = readString(der, first);
    } else if (type === OID.extensionRequest) {
      // RFC 2985 §5.4.2: the value is an Extensions SEQUENCE; only SAN matters here.
      expectTag(first, TAG.SEQUENCE, 'Extensions', first.start);
      for (let q = first.contentStart; q < first.end; ) {
        const e = expectTag(readNode(der, q, first.end), TAG.SEQUENCE, 'Extension', q);
        q = e.end;
        const id = expectTag(readNode(der, e.contentStart, e.end), TAG.OID, 'extnID', e.contentStart);
        let v = readNode(der, id.end, e.end);
        if (v.tag === TAG.BOOLEAN) v = readNode(der, v.end, e.end);
        expectTag(v, TAG.OCTET_STRING, 'extnValue', v.start);
        if (readOid(der, id) !== OID.subjectAltName) continue;
        const gns = expectTag(readNode(der, v.contentStart, v.end), TAG.SEQUENCE, 'GeneralNames', v.contentStart);
        const san: SubjectAltNames = { dns: out.sanDns, uri: out.sanUris, ip: [], email: [] };
        parseGeneralNames(der, gns, san);
      }
    }
  }
}

function walk(der: Buffer): Walked {
  const root = expectTag(parseRoot(der), TAG.SEQUENCE, 'CertificationRequest');
  const cri = expectTag(readNode(der, root.contentStart, root.end), TAG.SEQUENCE, 'CertificationRequestInfo', root.contentStart);
  const alg = expectTag(readNode(der, cri.end, root.end), TAG.SEQUENCE, 'signatureAlgorithm', cri.end);
  const sig = expectTag(readNode(der, alg.end, root.end), TAG.BIT_STRING, 'signature', alg.end);
  if (sig.end !== root.end) throw malformed('trailing data after signature', sig.end);
  if (sig.end - sig.contentStart < 2 || der[sig.contentStart] !== 0) throw malformed('signature must be a whole number of bytes', sig.start);

  const version = expectTag(readNode(der, cri.contentStart, cri.end), TAG.INTEGER, 'version', cri.contentStart);
  const v = readUnsignedInt(der, version);
  if (v.length !== 1 || v[0] !== 0) throw malformed('version must be 0 (v1)', version.start);
  const subjectNode = expectTag(readNode(der, version.end, cri.end), TAG.SEQUENCE, 'subject', version.end);
  const spkiNode = expectTag(readNode(der, subjectNode.end, cri.end), TAG.SEQUENCE, 'subjectPKInfo', subjectNode.end);
  const algOid = expectTag(readNode(der, alg.contentStart, alg.end), TAG.OID, 'signature algorithm', alg.contentStart);
  const out: Walked = {
    cri: whole(der, cri),
    key: inspectSpki(der, spkiNode),
    subjectNode,
    spki: whole(der, spkiNode),
    sigAlg: readOid(der, algOid),
    sigAlgParams: algOid.end < alg.end ? readNode(der, algOid.end, alg.end) : undefined,
    signature: der.subarray(sig.contentStart + 1, sig.end),
    sanDns: [],
    sanUris: [],
  };
  if (spkiNode.end < cri.end) {
    // RFC 2986 §4.1: attributes [0] IMPLICIT SET OF Attribute.
    const attrs = expectTag(readNode(der, spkiNode.end, cri.end), 0xa0, 'attributes', spkiNode.end);
    if (attrs.end !== cri.end) throw malformed('trailing data in CertificationRequestInfo', attrs.end);
    parseAttributes(der, attrs, out);
  }
  return out;
}

interface KeyCheck {
  /** e.g. 'EC P-256', 'RSA 2048' */
  description: string;
  /** set when the key is one we accept */
  family: 'ec' | 'rsa' | undefined;
  /** the EC point as encoded in the SPKI (uncompressed or compressed) */
  ecPoint?: { crv: 'P-256' | 'P-384'; bytes: Buffer };
}

const KEY_NAMES: Readonly<Record<string, string>> = { [OID.ed25519]: 'Ed25519', '1.3.101.113': 'Ed448', [OID.rsassaPss]: 'RSA-PSS', '1.2.840.10040.4.1': 'DSA' };
const EC_POINT: Readonly<Record<string, { name: string; crv: 'P-256' | 'P-384'; coord: number }>> = {
  [OID.prime256v1]: { name: 'P-256', crv: 'P-256', coord: 32 },
  [OID.secp384r1]: { name: 'P-384', crv: 'P-384', coord: 48 },
};

/** Reads the key type and size from the SubjectPublicKeyInfo itself (no KeyObject needed to refuse a key). */
function inspectSpki(der: Buffer, spki: Node): KeyCheck {
  const alg = expectTag(readNode(der, spki.contentStart, spki.end), TAG.SEQUENCE, 'SubjectPublicKeyInfo algorithm', spki.contentStart);
  const bits = expectTag(readNode(der, alg.end, spki.end), TAG.BIT_STRING, 'subjectPublicKey', alg.end);
  if (bits.end !== spki.end) throw malformed('trailing data in subjectPKInfo', bits.end);
  if (bits.end - bits.contentStart < 2 || der[bits.contentStart] !== 0) throw malformed('subjectPublicKey must be a whole number of bytes', bits.start);
  const algOid = expectTag(readNode(der, alg.contentStart, alg.end), TAG.OID, 'key algorithm', alg.contentStart);
  const type = readOid(der, algOid);
  const params = algOid.end < alg.end ? readNode(der, algOid.end, alg.end) : undefined;
  // RFC 5280 §4.1.1.2: AlgorithmIdentifier is { algorithm, parameters OPTIONAL }, nothing more.
  // The SPKI is copied into the certificate byte for byte, so anything extra is refused here.
  if (params && params.end !== alg.end) throw malformed('trailing data in SubjectPublicKeyInfo algorithm', params.end);
  if (type === OID.ecPublicKey) {
    // RFC 5480 §2.1.1: namedCurve only; explicit parameters are refused.
    if (params?.tag !== TAG.OID) return { description: 'EC with explicit parameters', family: undefined };
    const curveOid = readOid(der, params);
    const curve = EC_POINT[curveOid];
    if (!curve) return { description: `EC ${CURVE_NAMES[curveOid] ?? curveOid}`, family: undefined };
    const p = bits.contentStart + 1;
    const len = bits.end - p;
    const uncompressed = der[p] === 0x04 && len === 1 + 2 * curve.coord;
    const compressed = (der[p] === 0x02 || der[p] === 0x03) && len === 1 + curve.coord;
    if (uncompressed || compressed) return { description: `EC ${curve.name}`, family: 'ec', ecPoint: { crv: curve.crv, bytes: der.subarray(p, bits.end) } };
    throw malformed(`EC point has the wrong encoding for ${curve.name}`, bits.start);
  }
  if (type === OID.rsaEncryption) {
    // RFC 3279 §2.3.1: RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
    const rsa = expectTag(readNode(der, bits.contentStart + 1, bits.end), TAG.SEQUENCE, 'RSAPublicKey', bits.contentStart + 1);
    if (rsa.end !== bits.end) throw malformed('trailing data after RSAPublicKey', rsa.end);
    const n = expectTag(readNode(der, rsa.contentStart, rsa.end), TAG.INTEGER, 'modulus', rsa.contentStart);
    const e = expectTag(readNode(der, n.end, rsa.end), TAG.INTEGER, 'publicExponent', n.end);
    const mod = readUnsignedInt(der, n);
    const top = mod[0] ?? 0;
    const modBits = (mod.length - 1) * 8 + (top === 0 ? 0 : 32 - Math.clz32(top));
    const exp = readUnsignedInt(der, e);
    const e65537 = exp.length === 3 && exp.readUIntBE(0, 3) === 65537;
    const description = `RSA ${modBits}${e65537 ? '' : ` e=0x${exp.toString('hex')}`}`;
    return { description, family: e65537 && modBits >= RSA_MIN_BITS && modBits <= RSA_MAX_BITS ? 'rsa' : undefined };
  }
  return { description: KEY_NAMES[type] ?? `key algorithm ${type}`, family: undefined };
}

const SPKI_CURVE_OIDS: Readonly<Record<string, string>> = { 'P-256': OID.prime256v1, 'P-384': OID.secp384r1 };

/**
 * The one DER SubjectPublicKeyInfo of a device key, whatever encoding the CSR used: EC as
 * namedCurve with the uncompressed point (RFC 5480 §2.2: the form every verifier supports;
 * SEC 1 §2.3.3 also allows a compressed one for the same point), RSA with NULL parameters
 * (RFC 3279 §2.3.1; OpenSSL also reads them absent) and minimal INTEGERs. Built from the key's
 * JWK, not from the CSR bytes: a key binding hashed over the bytes as sent could be escaped
 * by re-encoding the same key. OpenSSL's own SPKI export is no help here: it keeps a
 * compressed point compressed. For what `openssl req` makes (uncompressed point, NULL
 * parameters) the result is byte-identical to the CSR's SPKI.
 */
export function canonicalSpki(key: KeyObject): Buffer {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.kty === 'EC' && jwk.crv !== undefined && jwk.x !== undefined && jwk.y !== undefined) {
    const curve = SPKI_CURVE_OIDS[jwk.crv];
    if (!curve) throw new AppError('invalid', 'csr.unsupported_key', `device key EC ${jwk.crv} is not accepted: use EC P-256, EC P-384 or RSA >= 2048 with e=65537`, { key: `EC ${jwk.crv}` });
    // JWK coordinates are the full field size (RFC 7518 §6.2.1.2), so the point has a fixed length.
    const point = Buffer.concat([Buffer.from([0x04]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
    return seq(seq(oid(OID.ecPublicKey), oid(curve)), bitString(point));
  }
  if (jwk.kty === 'RSA' && jwk.n !== undefined && jwk.e !== undefined) {
    const rsaPublicKey = seq(int(Buffer.from(jwk.n, 'base64url')), int(Buffer.from(jwk.e, 'base64url')));
    return seq(seq(oid(OID.rsaEncryption), nullDer()), bitString(rsaPublicKey));
  }
  throw new AppError('invalid', 'csr.unsupported_key', `device key ${key.asymmetricKeyType ?? 'of unknown type'} is not accepted: use EC P-256, EC P-384 or RSA >= 2048 with e=65537`, {
    key: key.asymmetricKeyType ?? 'unknown',
  });
}

/** A request that passed every check except the key import and the signature. */
interface Checked {
  w: Walked;
  subject: NameAttr[];
  family: 'ec' | 'rsa';
}

/** Size, structure, subject and key type: everything decided before a key is built. */
function check(der: Buffer): Checked {
  if (!Buffer.isBuffer(der) || der.length === 0) throw malformed('empty input');
  if (der.length > MAX_CSR_BYTES) throw malformed(`larger than ${MAX_CSR_BYTES} bytes`);
  let w: Walked;
  let subject: NameAttr[];
  try {
    w = walk(der);
    subject = parseName(der, w.subjectNode);
  } catch (e) {
    if (isAppError(e) && e.code === 'csr.malformed') throw e;
    if (isAppError(e) && (e.code === 'der.malformed' || e.code === 'certificate.malformed')) {
      throw new AppError('invalid', 'csr.malformed', e.message.replace(/^malformed (DER|certificate)/, 'malformed CSR'), e.details, { cause: e });
    }
    throw malformed(e instanceof Error ? e.message : 'unreadable');
  }
  const { description, family } = w.key;
  if (!family) {
    throw new AppError('invalid', 'csr.unsupported_key', `device key ${description} is not accepted: use EC P-256, EC P-384 or RSA >= 2048 with e=65537`, {
      key: description,
    });
  }
  return { w, subject, family };
}

const badKey = (): AppError => malformed('subjectPKInfo is not a valid public key');

/**
 * The one KeyObject of this request. An uncompressed EC point goes in as a JWK, which skips
 * OpenSSL 3.0's slow DER decoder; both imports check the EC point is on the curve.
 */
function importKeySync(c: Checked): KeyObject {
  try {
    const pt = c.w.key.ecPoint;
    if (pt && pt.bytes[0] === 0x04) {
      const end = (pt.bytes.length + 1) / 2;
      const jwk = { kty: 'EC', crv: pt.crv, x: pt.bytes.toString('base64url', 1, end), y: pt.bytes.toString('base64url', end) };
      return createPublicKey({ key: jwk, format: 'jwk' });
    }
    return createPublicKey({ key: c.w.spki, format: 'der', type: 'spki' });
  } catch {
    throw badKey();
  }
}

/**
 * Same as {@link importKeySync}, cheaper for EC. On OpenSSL 3.0 (Node 20) a P-256 import costs
 * ~95 µs through the SPKI decoder, ~65 µs as JWK, ~40 µs as a WebCrypto 'raw' point
 * (measured), and a verify on the raw-imported key costs no more than on the JWK one. The
 * raw import still validates: EC_POINT_oct2point refuses coordinates >= p and points off the
 * curve, then Node runs EVP_PKEY_public_check, the full public-key validation of NIST
 * SP 800-56A Rev. 3 §5.6.2.3.3. RSA keys take the same DER import as parseCsr.
 */
async function importKeyAsync(c: Checked): Promise<KeyObject> {
  const point = c.w.key.ecPoint;
  if (!point) return importKeySync(c);
  let key: webcrypto.CryptoKey;
  try {
    key = await webcrypto.subtle.importKey('raw', point.bytes, { name: 'ECDSA', namedCurve: point.crv }, true, ['verify']);
  } catch {
    throw badKey();
  }
  // The KeyObject behind the CryptoKey: the signature is then checked in DER form, exactly as
  // parseCsr does, so no conversion to WebCrypto's r||s signature format is needed.
  return KeyObject.from(key);
}

/** Signature algorithm, its parameters, the self-signature, then the result. */
function finish(der: Buffer, c: Checked, key: KeyObject): ParsedCsr {
  const { w, subject, family } = c;
  const description = w.key.description;
  const sigAlg = CSR_SIG[w.sigAlg];
  if (!sigAlg || sigAlg.key !== family) {
    throw new AppError('invalid', 'csr.unsupported_signature', `CSR signature algorithm ${w.sigAlg} is not accepted for a ${description} key`, {
      algorithm: w.sigAlg,
    });
  }
  // RFC 5758 §3.2: ECDSA parameters absent; RFC 4055 §5: RSA parameters NULL (absence tolerated).
  if (w.sigAlgParams && !(family === 'rsa' && w.sigAlgParams.tag === TAG.NULL && w.sigAlgParams.end === w.sigAlgParams.contentStart)) {
    throw malformed('unexpected signature algorithm parameters', w.sigAlgParams.start);
  }
  let ok = false;
  try {
    ok = nodeVerify(sigAlg.hash, w.cri, key, w.signature);
  } catch {
    ok = false;
  }
  if (!ok) throw new AppError('invalid', 'csr.bad_signature', 'the CSR signature does not verify with its own public key (no proof of possession)');

  const out: ParsedCsr = {
    der,
    subject,
    subjectDer: whole(der, w.subjectNode),
    spki: w.spki,
    publicKey: key,
    keyDescription: description,
    sanDns: w.sanDns,
    sanUris: w.sanUris,
  };
  for (const a of subject) {
    if (a.type === OID.commonName && out.commonName === undefined) out.commonName = a.value;
    else if (a.type === OID.serialNumber && out.subjectSerialNumber === undefined) out.subjectSerialNumber = a.value;
  }
  if (w.challengePassword !== undefined) out.challengePassword = w.challengePassword;
  return out;
}

/**
 * Parses a DER PKCS#10 request and verifies its self-signature. Device keys must be EC
 * P-256 / P-384 or RSA 2048..8192 with e = 65537.
 * Errors: `csr.malformed` (with what and byte offset), `csr.unsupported_key`,
 * `csr.unsupported_signature`, `csr.bad_signature`; nothing else escapes.
 */
export function parseCsr(der: Buffer): ParsedCsr {
  const c = check(der);
  return finish(der, c, importKeySync(c));
}

/**
 * {@link parseCsr} for the issuance hot path (EST): the same checks in the same order, the
 * same errors and the same result, with EC keys imported through WebCrypto (about a quarter
 * less CPU per P-256 request than parseCsr). Rejects with the errors parseCsr throws.
 */
export async function parseCsrAsync(der: Buffer): Promise<ParsedCsr> {
  const c = check(der);
  return finish(der, c, await importKeyAsync(c));
}
