/**
 * X.509 certificate parsing (RFC 5280 §4.1) into the fields femtoguard uses: issuance
 * (issuer Name, SKI), OCSP (key hashes), CRLs, the fleet audit (key sizes, signature
 * algorithms, validity), and chain checks. A walk over DER offsets, no object tree.
 */
import { createHash, createPublicKey, verify as nodeVerify } from 'node:crypto';
import { AppError, isAppError } from '../core/errors.js';
import { OID } from './oids.js';
import { parseName, type NameAttr } from './names.js';
import {
  TAG, children, content, expectTag, fromPemAll, parseRoot, readNode, readOid, readSmallInt, readTime, readUnsignedInt, whole, type Node,
} from './der.js';

export interface KeyInfo {
  type: 'ec' | 'rsa' | 'ed25519' | 'other';
  /** 'P-256', 'P-384', 'P-521', or the curve OID */
  curve?: string;
  bits?: number;
  rsaExponent?: number;
}

export interface SubjectAltNames {
  dns: string[];
  uri: string[];
  ip: string[];
  email: string[];
}

export interface CertificateExtensions {
  basicConstraints?: { ca: boolean; pathLen?: number; critical: boolean };
  /** bit i = RFC 5280 §4.2.1.3 bit i (0 = digitalSignature) */
  keyUsage?: { bits: number; names: string[] };
  extKeyUsage?: string[];
  subjectAltName?: SubjectAltNames;
  subjectKeyIdentifier?: Buffer;
  authorityKeyIdentifier?: Buffer;
  ocspUrls: string[];
  caIssuerUrls: string[];
  crlUrls: string[];
  ocspNoCheck: boolean;
}

export interface ParsedCertificate {
  der: Buffer;
  /** the whole TBSCertificate TLV (what the signature covers) */
  tbs: Buffer;
  /** 1, 2 or 3 */
  version: number;
  serialNumber: Buffer;
  serialHex: string;
  issuerDer: Buffer;
  subjectDer: Buffer;
  issuer: NameAttr[];
  subject: NameAttr[];
  notBefore: Date;
  notAfter: Date;
  spki: Buffer;
  publicKeyBits: Buffer;
  signatureAlgorithm: string;
  signature: Buffer;
  fingerprint: string;
  extensions: CertificateExtensions;
  keyInfo: KeyInfo;
}

/** RFC 5280 §4.2.1.3 KeyUsage bit names, by bit number. */
export const KEY_USAGE_NAMES = [
  'digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly',
] as const;

const CURVES: Readonly<Record<string, [string, number]>> = {
  [OID.prime256v1]: ['P-256', 256],
  [OID.secp384r1]: ['P-384', 384],
  [OID.secp521r1]: ['P-521', 521],
};

function malformed(what: string, offset?: number): AppError {
  return new AppError('invalid', 'certificate.malformed', `malformed certificate: ${what}`, offset === undefined ? undefined : { offset });
}

/** The subjectPublicKey bits of a SubjectPublicKeyInfo (BIT STRING content minus the unused-bits byte). */
export function subjectPublicKeyBits(spki: Buffer): Buffer {
  const root = expectTag(parseRoot(spki), TAG.SEQUENCE, 'SubjectPublicKeyInfo');
  const alg = expectTag(readNode(spki, root.contentStart, root.end), TAG.SEQUENCE, 'AlgorithmIdentifier', root.contentStart);
  const bits = expectTag(readNode(spki, alg.end, root.end), TAG.BIT_STRING, 'subjectPublicKey', alg.end);
  if (bits.end !== root.end) throw malformed('trailing data in SubjectPublicKeyInfo', bits.end);
  if (bits.end - bits.contentStart < 2 || spki[bits.contentStart] !== 0) throw malformed('subjectPublicKey must be a whole number of bytes', bits.start);
  return spki.subarray(bits.contentStart + 1, bits.end);
}

/** Key type, curve and size from a SubjectPublicKeyInfo, without building a KeyObject. */
export function keyInfoOf(spki: Buffer): KeyInfo {
  const root = parseRoot(spki);
  const alg = readNode(spki, root.contentStart, root.end);
  const [algOid, params] = children(spki, alg);
  const type = readOid(spki, expectTag(algOid, TAG.OID, 'algorithm', alg.start));
  if (type === OID.ecPublicKey) {
    const curveOid = params?.tag === TAG.OID ? readOid(spki, params) : 'unknown';
    const known = CURVES[curveOid];
    return known ? { type: 'ec', curve: known[0], bits: known[1] } : { type: 'ec', curve: curveOid };
  }
  if (type === OID.rsaEncryption) {
    const bits = subjectPublicKeyBits(spki);
    const rsa = expectTag(parseRoot(bits), TAG.SEQUENCE, 'RSAPublicKey');
    const n = readNode(bits, rsa.contentStart, rsa.end);
    const e = readNode(bits, n.end, rsa.end);
    const mod = readUnsignedInt(bits, n);
    const top = mod[0] ?? 0;
    const info: KeyInfo = { type: 'rsa', bits: (mod.length - 1) * 8 + (top === 0 ? 0 : 32 - Math.clz32(top)) };
    const eb = readUnsignedInt(bits, e);
    if (eb.length <= 6) info.rsaExponent = eb.readUIntBE(0, eb.length);
    return info;
  }
  if (type === OID.ed25519) return { type: 'ed25519', bits: 256 };
  return { type: 'other' };
}

/** GeneralNames (RFC 5280 §4.2.1.6) into the kinds femtoguard looks at; others are skipped. */
export function parseGeneralNames(buf: Buffer, node: Node, into: SubjectAltNames): SubjectAltNames {
  for (const gn of children(buf, node)) {
    const text = (): string => buf.toString('latin1', gn.contentStart, gn.end);
    switch (gn.tag) {
      case 0x81: into.email.push(text()); break;
      case 0x82: into.dns.push(text()); break;
      case 0x86: into.uri.push(text()); break;
      case 0x87: into.ip.push(formatIp(content(buf, gn), gn.start)); break;
      default: break; // otherName, directoryName, ...: not used here
    }
  }
  return into;
}

function formatIp(b: Buffer, at: number): string {
  if (b.length === 4) return [...b].join('.');
  if (b.length === 16) {
    const parts: string[] = [];
    for (let i = 0; i < 16; i += 2) parts.push(b.readUInt16BE(i).toString(16));
    return parts.join(':');
  }
  throw malformed('iPAddress must be 4 or 16 bytes', at);
}

/** DER BOOLEAN (X.690 §11.1: one byte, 0x00 or 0xFF). */
function readBool(buf: Buffer, n: Node): boolean {
  const v = buf[n.contentStart];
  if (n.end - n.contentStart !== 1 || (v !== 0 && v !== 0xff)) throw malformed('BOOLEAN must be one byte 0x00 or 0xFF', n.start);
  return v === 0xff;
}

function uriNames(buf: Buffer, gn: Node): string | undefined {
  return gn.tag === 0x86 ? buf.toString('latin1', gn.contentStart, gn.end) : undefined;
}

function parseExtension(der: Buffer, id: string, critical: boolean, v: Node, ext: CertificateExtensions): void {
  switch (id) {
    case OID.basicConstraints: {
      const [a, b] = children(der, expectTag(v, TAG.SEQUENCE, 'BasicConstraints', v.start));
      let ca = false;
      let lenNode = b;
      if (a?.tag === TAG.BOOLEAN) ca = readBool(der, a);
      else lenNode = a;
      const bc: NonNullable<CertificateExtensions['basicConstraints']> = { ca, critical };
      if (lenNode) bc.pathLen = readSmallInt(der, expectTag(lenNode, TAG.INTEGER, 'pathLenConstraint', lenNode.start));
      ext.basicConstraints = bc;
      return;
    }
    case OID.keyUsage: {
      expectTag(v, TAG.BIT_STRING, 'KeyUsage', v.start);
      let bits = 0;
      for (let i = 0; i < KEY_USAGE_NAMES.length; i++) {
        const byte = der[v.contentStart + 1 + (i >> 3)];
        if (v.contentStart + 1 + (i >> 3) < v.end && byte !== undefined && byte & (0x80 >> (i & 7))) bits |= 1 << i;
      }
      ext.keyUsage = { bits, names: KEY_USAGE_NAMES.filter((_, i) => bits & (1 << i)) };
      return;
    }
    case OID.extKeyUsage:
      ext.extKeyUsage = children(der, expectTag(v, TAG.SEQUENCE, 'ExtKeyUsageSyntax', v.start)).map((n) => readOid(der, n));
      return;
    case OID.subjectAltName:
      ext.subjectAltName = parseGeneralNames(der, expectTag(v, TAG.SEQUENCE, 'GeneralNames', v.start), { dns: [], uri: [], ip: [], email: [] });
      return;
    case OID.subjectKeyIdentifier:
      ext.subjectKeyIdentifier = Buffer.from(content(der, expectTag(v, TAG.OCTET_STRING, 'SubjectKeyIdentifier', v.start)));
      return;
    case OID.authorityKeyIdentifier: {
      for (const c of children(der, expectTag(v, TAG.SEQUENCE, 'AuthorityKeyIdentifier', v.start))) {
        if (c.tag === 0x80) ext.authorityKeyIdentifier = Buffer.from(content(der, c));
      }
      return;
    }
    case OID.authorityInfoAccess:
      for (const ad of children(der, expectTag(v, TAG.SEQUENCE, 'AuthorityInfoAccessSyntax', v.start))) {
        const [m, loc] = children(der, expectTag(ad, TAG.SEQUENCE, 'AccessDescription', ad.start));
        const method = readOid(der, expectTag(m, TAG.OID, 'accessMethod', ad.start));
        const url = loc && uriNames(der, loc);
        if (url === undefined) continue;
        if (method === OID.adOcsp) ext.ocspUrls.push(url);
        else if (method === OID.adCaIssuers) ext.caIssuerUrls.push(url);
      }
      return;
    case OID.cRLDistributionPoints:
      for (const dp of children(der, expectTag(v, TAG.SEQUENCE, 'CRLDistributionPoints', v.start))) {
        for (const f of children(der, expectTag(dp, TAG.SEQUENCE, 'DistributionPoint', dp.start))) {
          if (f.tag !== 0xa0) continue; // distributionPoint [0]
          const name = readNode(der, f.contentStart, f.end);
          if (name.tag !== 0xa0) continue; // fullName [0] (not nameRelativeToCRLIssuer)
          for (const gn of children(der, name)) {
            const url = uriNames(der, gn);
            if (url !== undefined) ext.crlUrls.push(url);
          }
        }
      }
      return;
    case OID.ocspNoCheck:
      ext.ocspNoCheck = true;
      return;
    default:
      return;
  }
}

function parseExtensions(der: Buffer, node: Node): CertificateExtensions {
  const ext: CertificateExtensions = { ocspUrls: [], caIssuerUrls: [], crlUrls: [], ocspNoCheck: false };
  const seen = new Set<string>();
  const list = expectTag(readNode(der, node.contentStart, node.end), TAG.SEQUENCE, 'Extensions', node.contentStart);
  for (const e of children(der, list)) {
    const parts = children(der, expectTag(e, TAG.SEQUENCE, 'Extension', e.start));
    const id = readOid(der, expectTag(parts[0], TAG.OID, 'extnID', e.start));
    // RFC 5280 §4.2: a certificate MUST NOT include more than one instance of an extension.
    if (seen.has(id)) throw malformed(`duplicate extension ${id}`, e.start);
    seen.add(id);
    let critical = false;
    let valueNode = parts[1];
    if (valueNode?.tag === TAG.BOOLEAN) {
      critical = readBool(der, valueNode);
      valueNode = parts[2];
    }
    const octet = expectTag(valueNode, TAG.OCTET_STRING, `extnValue of ${id}`, e.start);
    const inner = readNode(der, octet.contentStart, octet.end);
    if (inner.end !== octet.end) throw malformed(`trailing data in extension ${id}`, inner.end);
    parseExtension(der, id, critical, inner, ext);
  }
  return ext;
}

function parseUnchecked(der: Buffer): ParsedCertificate {
  const root = expectTag(parseRoot(der), TAG.SEQUENCE, 'Certificate');
  const [tbsN, sigAlgN, sigN, extra] = children(der, root);
  if (extra) throw malformed('Certificate has more than three fields', extra.start);
  const tbsNode = expectTag(tbsN, TAG.SEQUENCE, 'TBSCertificate', root.contentStart);
  const sigAlg = expectTag(sigAlgN, TAG.SEQUENCE, 'signatureAlgorithm', tbsNode.end);
  const sigBits = expectTag(sigN, TAG.BIT_STRING, 'signatureValue', sigAlg.end);
  if (sigBits.end - sigBits.contentStart < 2 || der[sigBits.contentStart] !== 0) throw malformed('signatureValue must be a whole number of bytes', sigBits.start);

  const f = children(der, tbsNode);
  let i = 0;
  let version = 1;
  if (f[0]?.tag === 0xa0) {
    version = readSmallInt(der, expectTag(readNode(der, f[0].contentStart, f[0].end), TAG.INTEGER, 'version', f[0].start)) + 1;
    if (version > 3) throw malformed(`unknown version ${version}`, f[0].start);
    i = 1;
  }
  const serialN = expectTag(f[i++], TAG.INTEGER, 'serialNumber', tbsNode.contentStart);
  const innerAlg = expectTag(f[i++], TAG.SEQUENCE, 'signature', serialN.end);
  const issuerN = expectTag(f[i++], TAG.SEQUENCE, 'issuer', innerAlg.end);
  const validity = expectTag(f[i++], TAG.SEQUENCE, 'validity', issuerN.end);
  const subjectN = expectTag(f[i++], TAG.SEQUENCE, 'subject', validity.end);
  const spkiN = expectTag(f[i++], TAG.SEQUENCE, 'subjectPublicKeyInfo', subjectN.end);
  // RFC 5280 §4.1.1.2: the outer signatureAlgorithm MUST equal the TBS signature field.
  if (!whole(der, innerAlg).equals(whole(der, sigAlg))) throw malformed('signatureAlgorithm differs from TBSCertificate.signature', sigAlg.start);
  const [nb, na, vx] = children(der, validity);
  if (!nb || !na || vx) throw malformed('validity must hold notBefore and notAfter', validity.start);

  let extensions: CertificateExtensions = { ocspUrls: [], caIssuerUrls: [], crlUrls: [], ocspNoCheck: false };
  for (; i < f.length; i++) {
    const n = f[i] as Node;
    if (n.tag === 0xa3) extensions = parseExtensions(der, n);
    else if (n.tag !== 0x81 && n.tag !== 0x82) throw malformed(`unexpected field tag 0x${n.tag.toString(16)} in TBSCertificate`, n.start);
  }

  let serial = readUnsignedInt(der, serialN);
  let z = 0;
  while (z < serial.length - 1 && serial[z] === 0) z++;
  serial = serial.subarray(z);
  const spki = whole(der, spkiN);
  return {
    der,
    tbs: whole(der, tbsNode),
    version,
    serialNumber: serial,
    serialHex: serial.toString('hex'),
    issuerDer: whole(der, issuerN),
    subjectDer: whole(der, subjectN),
    issuer: parseName(der, issuerN),
    subject: parseName(der, subjectN),
    notBefore: readTime(der, nb),
    notAfter: readTime(der, na),
    spki,
    publicKeyBits: subjectPublicKeyBits(spki),
    signatureAlgorithm: readOid(der, expectTag(readNode(der, sigAlg.contentStart, sigAlg.end), TAG.OID, 'algorithm', sigAlg.start)),
    signature: der.subarray(sigBits.contentStart + 1, sigBits.end),
    fingerprint: createHash('sha256').update(der).digest('hex'),
    extensions,
    keyInfo: keyInfoOf(spki),
  };
}

/** Parses one DER certificate. Throws `certificate.malformed` naming what is wrong and where. */
export function parseCertificate(der: Buffer): ParsedCertificate {
  if (!Buffer.isBuffer(der) || der.length === 0) throw malformed('empty input');
  try {
    return parseUnchecked(der);
  } catch (e) {
    if (isAppError(e) && e.code === 'certificate.malformed') throw e;
    if (isAppError(e) && e.code === 'der.malformed') throw new AppError('invalid', 'certificate.malformed', e.message.replace('malformed DER', 'malformed certificate'), e.details, { cause: e });
    throw malformed(e instanceof Error ? e.message : 'unreadable');
  }
}

/** Signature OID → digest (null = the key type fixes it, Ed25519). RSA here is PKCS#1 v1.5. */
const SIG_HASH: Readonly<Record<string, string | null>> = {
  [OID.ecdsaWithSHA256]: 'sha256',
  [OID.ecdsaWithSHA384]: 'sha384',
  [OID.ecdsaWithSHA512]: 'sha512',
  [OID.ecdsaWithSHA1]: 'sha1',
  [OID.sha256WithRSAEncryption]: 'sha256',
  [OID.sha384WithRSAEncryption]: 'sha384',
  [OID.sha512WithRSAEncryption]: 'sha512',
  [OID.sha1WithRSAEncryption]: 'sha1',
  [OID.ed25519]: null,
};

/**
 * True when `cert`'s signature verifies under the key in `issuerSpki`. SHA-1 algorithms
 * are accepted here so the audit can examine old fleets; issuance never accepts them.
 * Unknown algorithms and unusable keys give false, never a throw.
 */
export function verifySignedBy(cert: ParsedCertificate, issuerSpki: Buffer): boolean {
  const hash = SIG_HASH[cert.signatureAlgorithm];
  if (hash === undefined) return false;
  try {
    const key = createPublicKey({ key: issuerSpki, format: 'der', type: 'spki' });
    const isEc = cert.signatureAlgorithm.startsWith('1.2.840.10045.4.');
    if (isEc !== (key.asymmetricKeyType === 'ec')) return false;
    return nodeVerify(hash, cert.tbs, key, cert.signature);
  } catch {
    return false;
  }
}

/** One or many PEM CERTIFICATE blocks, or one raw DER certificate, as DER buffers. */
export function pemOrDerToDerList(data: Buffer): Buffer[] {
  if (data.length > 0 && data[0] === TAG.SEQUENCE) return [data];
  const blocks = fromPemAll(data.toString('latin1'), 'CERTIFICATE');
  if (blocks.length === 0) throw malformed('no CERTIFICATE PEM block and not DER');
  return blocks.map((b) => b.der);
}
