/**
 * Certificate building (RFC 5280 §4.1) and femtoguard's profiles: root CA, issuing CA,
 * delegated OCSP responder, and the device certificate. Device issuance is the hot path:
 * every fixed DER part is encoded once in {@link createDeviceIssuer}.
 */
import { createHash, randomBytes } from 'node:crypto';
import { AppError } from '../core/errors.js';
import { OID } from './oids.js';
import type { Signer } from './signer.js';
import { encodeName, type NameAttr } from './names.js';
import { parseCertificate, subjectPublicKeyBits } from './certificate.js';
import { bitString, bool, explicit, implicitPrimitive, int, nullDer, oid, octets, seq, time, tlv } from './der.js';

function invalid(what: string): AppError {
  return new AppError('invalid', 'certificate.invalid_field', what);
}

/** IA5String content (URIs, DNS names): printable ASCII only, no spaces or controls. */
function ia5Bytes(s: string, what: string): Buffer {
  if (typeof s !== 'string' || s.length === 0 || !/^[\x21-\x7e]+$/.test(s)) throw invalid(`${what} must be non-empty printable ASCII`);
  return Buffer.from(s, 'latin1');
}

// ---------------------------------------------------------------- extensions
/** One Extension (RFC 5280 §4.1): critical is DEFAULT FALSE, so DER omits it when false. */
export function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), bool(true), octets(value)) : seq(oid(id), octets(value));
}

/** RFC 5280 §4.2.1.9, always critical (MUST for CA certificates; we do it for all). */
export function extBasicConstraints(ca: boolean, pathLen?: number): Buffer {
  const parts: Buffer[] = [];
  if (ca) parts.push(bool(true)); // cA DEFAULT FALSE: omitted when false
  if (pathLen !== undefined) {
    if (!ca) throw invalid('pathLenConstraint requires cA');
    parts.push(int(pathLen));
  }
  return extension(OID.basicConstraints, true, seq(...parts));
}

const KU_BITS: Readonly<Record<string, number>> = {
  digitalSignature: 0, nonRepudiation: 1, contentCommitment: 1, keyEncipherment: 2, dataEncipherment: 3,
  keyAgreement: 4, keyCertSign: 5, cRLSign: 6, encipherOnly: 7, decipherOnly: 8,
};

/** RFC 5280 §4.2.1.3, critical. X.690 §11.2.2: a named bit list drops trailing zero bits. */
export function extKeyUsage(names: readonly string[]): Buffer {
  let mask = 0;
  for (const n of names) {
    const bit = KU_BITS[n];
    if (bit === undefined) throw invalid(`unknown key usage ${n}`);
    mask |= 1 << bit;
  }
  if (mask === 0) throw invalid('key usage needs at least one bit');
  const highest = 31 - Math.clz32(mask);
  const nBytes = (highest >> 3) + 1;
  const bytes = Buffer.alloc(nBytes);
  for (let i = 0; i <= highest; i++) if (mask & (1 << i)) bytes[i >> 3] = (bytes[i >> 3] as number) | (0x80 >> (i & 7));
  return extension(OID.keyUsage, true, bitString(bytes, 7 - (highest & 7)));
}

/** RFC 5280 §4.2.1.12, not critical. */
export function extExtKeyUsage(oids: readonly string[]): Buffer {
  return extension(OID.extKeyUsage, false, seq(...oids.map((o) => oid(o))));
}

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING value. */
export function keyIdentifier(spki: Buffer): Buffer {
  return createHash('sha1').update(subjectPublicKeyBits(spki)).digest();
}

export function extSubjectKeyId(spki: Buffer): Buffer {
  return extension(OID.subjectKeyIdentifier, false, octets(keyIdentifier(spki)));
}

/** RFC 5280 §4.2.1.1: keyIdentifier [0] only. */
export function extAuthorityKeyId(keyId: Buffer): Buffer {
  return extension(OID.authorityKeyIdentifier, false, seq(implicitPrimitive(0, keyId)));
}

/** RFC 5280 §4.2.1.6: not critical (our subjects are never empty). */
export function extSubjectAltName(names: { dns?: readonly string[]; uri?: readonly string[] }): Buffer {
  const gns = [
    ...(names.dns ?? []).map((d) => implicitPrimitive(2, ia5Bytes(d, 'dNSName'))),
    ...(names.uri ?? []).map((u) => implicitPrimitive(6, ia5Bytes(u, 'URI'))),
  ];
  if (gns.length === 0) throw invalid('subjectAltName needs at least one name');
  return extension(OID.subjectAltName, false, seq(...gns));
}

/** RFC 5280 §4.2.2.1 Authority Information Access, not critical. */
export function extAia(a: { ocsp?: readonly string[]; caIssuers?: readonly string[] }): Buffer {
  const ads = [
    ...(a.ocsp ?? []).map((u) => seq(oid(OID.adOcsp), implicitPrimitive(6, ia5Bytes(u, 'OCSP URL')))),
    ...(a.caIssuers ?? []).map((u) => seq(oid(OID.adCaIssuers), implicitPrimitive(6, ia5Bytes(u, 'caIssuers URL')))),
  ];
  if (ads.length === 0) throw invalid('authorityInfoAccess needs at least one URL');
  return extension(OID.authorityInfoAccess, false, seq(...ads));
}

/** RFC 5280 §4.2.1.13: one DistributionPoint whose fullName is the URI. */
export function extCrlDp(url: string): Buffer {
  // distributionPoint [0] (a CHOICE, so constructed) → fullName [0] IMPLICIT GeneralNames → [6] URI
  return extension(OID.cRLDistributionPoints, false, seq(seq(tlv(0xa0, tlv(0xa0, implicitPrimitive(6, ia5Bytes(url, 'CRL URL')))))));
}

/** RFC 6960 §4.2.2.2.1 id-pkix-ocsp-nocheck: value NULL, not critical. */
export function extOcspNoCheck(): Buffer {
  return extension(OID.ocspNoCheck, false, nullDer());
}

// ---------------------------------------------------------------- generic builder
// randomBytes(16) costs ~5-7 µs per call (one DRBG round trip each); issuance draws from a
// 4 KiB CSPRNG pool instead. Serials are public values, so pooling exposes nothing.
const SERIAL_POOL_BYTES = 4096;
let serialPool = Buffer.alloc(0);
let serialPoolAt = 0;

/** 16 random bytes, positive and minimal (first byte 0x01..0x7f): RFC 5280 §4.1.2.2, ≤ 20 octets. */
export function randomCertSerial(): Buffer {
  if (serialPoolAt + 16 > serialPool.length) {
    serialPool = randomBytes(SERIAL_POOL_BYTES);
    serialPoolAt = 0;
  }
  const b = Buffer.from(serialPool.subarray(serialPoolAt, serialPoolAt + 16)); // a copy: callers keep it
  serialPool.fill(0, serialPoolAt, serialPoolAt + 16); // never hand out the same bytes twice
  serialPoolAt += 16;
  b[0] = (b[0] as number) & 0x7f || 0x5a;
  return b;
}

function checkSerial(s: Buffer): void {
  if (!Buffer.isBuffer(s) || s.length === 0 || s.length > 20) throw invalid('serialNumber must be 1..20 bytes');
  if (s.every((x) => x === 0)) throw invalid('serialNumber must be positive'); // RFC 5280 §4.1.2.2
  // RFC 5280 §4.1.2.2: at most 20 octets once encoded (a set top bit adds a 0x00 sign byte).
  if (s.length === 20 && (s[0] as number) & 0x80) throw invalid('serialNumber encodes to more than 20 octets');
}

function checkValidity(nb: Date, na: Date): void {
  if (!(nb instanceof Date) || !(na instanceof Date) || Number.isNaN(nb.getTime()) || Number.isNaN(na.getTime())) throw invalid('validity dates must be valid Dates');
  if (nb.getTime() >= na.getTime()) throw invalid('notBefore must be before notAfter');
}

const V3 = explicit(0, int(2));

export interface BuildCertificateOptions {
  signer: Signer;
  /** issuer Name TLV */
  issuerDer: Buffer;
  subjectDer: Buffer;
  spki: Buffer;
  serialNumber: Buffer;
  notBefore: Date;
  notAfter: Date;
  /** each an encoded Extension */
  extensions: Buffer[];
}

/** Builds and signs a v3 certificate. */
export async function buildCertificate(o: BuildCertificateOptions): Promise<Buffer> {
  checkSerial(o.serialNumber);
  checkValidity(o.notBefore, o.notAfter);
  subjectPublicKeyBits(o.spki); // structural check of the SPKI
  const ext = o.extensions.length > 0 ? [explicit(3, seq(...o.extensions))] : [];
  const tbs = seq(V3, int(o.serialNumber), o.signer.signatureAlgorithm, o.issuerDer, seq(time(o.notBefore), time(o.notAfter)), o.subjectDer, o.spki, ...ext);
  const sig = await o.signer.sign(tbs);
  return seq(tbs, o.signer.signatureAlgorithm, bitString(sig));
}

// ---------------------------------------------------------------- CA profiles
interface IssuerInfo {
  subjectDer: Buffer;
  keyId: Buffer;
}

/** The issuer's Name and key identifier; also checks `signer` holds the issuer certificate's key. */
function issuerInfo(signer: Signer, issuerCertDer: Buffer): IssuerInfo {
  const c = parseCertificate(issuerCertDer);
  if (!subjectPublicKeyBits(signer.publicKeySpki).equals(c.publicKeyBits)) {
    throw new AppError('invalid', 'ca.signer_mismatch', 'the signing key does not match the issuer certificate');
  }
  if (!c.extensions.basicConstraints?.ca) throw new AppError('invalid', 'ca.not_a_ca', 'the issuer certificate is not a CA (basicConstraints cA is not TRUE)');
  return { subjectDer: c.subjectDer, keyId: c.extensions.subjectKeyIdentifier ?? keyIdentifier(c.spki) };
}

export interface CaCertOptions {
  subject: NameAttr[];
  notBefore: Date;
  notAfter: Date;
  serialNumber?: Buffer;
}

/** Self-signed root: CA:TRUE pathLen 1, KU keyCertSign+cRLSign, SKI. */
export function buildRootCa(o: CaCertOptions & { signer: Signer }): Promise<Buffer> {
  const name = encodeName(o.subject);
  return buildCertificate({
    signer: o.signer,
    issuerDer: name,
    subjectDer: name,
    spki: o.signer.publicKeySpki,
    serialNumber: o.serialNumber ?? randomCertSerial(),
    notBefore: o.notBefore,
    notAfter: o.notAfter,
    extensions: [extBasicConstraints(true, 1), extKeyUsage(['keyCertSign', 'cRLSign']), extSubjectKeyId(o.signer.publicKeySpki)],
  });
}

/** Issuing CA under the root (`signer` = root key): CA:TRUE pathLen 0, KU keyCertSign+cRLSign, SKI, AKI, optional CRL DP. */
export function buildIssuingCa(o: CaCertOptions & { signer: Signer; issuerCertDer: Buffer; spki: Buffer; crlUrl?: string }): Promise<Buffer> {
  const iss = issuerInfo(o.signer, o.issuerCertDer);
  const extensions = [extBasicConstraints(true, 0), extKeyUsage(['keyCertSign', 'cRLSign']), extSubjectKeyId(o.spki), extAuthorityKeyId(iss.keyId)];
  if (o.crlUrl !== undefined) extensions.push(extCrlDp(o.crlUrl));
  return buildCertificate({
    signer: o.signer, issuerDer: iss.subjectDer, subjectDer: encodeName(o.subject), spki: o.spki,
    serialNumber: o.serialNumber ?? randomCertSerial(), notBefore: o.notBefore, notAfter: o.notAfter, extensions,
  });
}

/**
 * Delegated OCSP responder (`signer` = the CA whose certificates it answers for):
 * RFC 6960 §4.2.2.2 needs id-kp-OCSPSigning from the issuing CA; §4.2.2.2.1 id-pkix-ocsp-nocheck
 * so clients do not ask about the responder itself.
 */
export function buildOcspResponderCert(o: CaCertOptions & { signer: Signer; issuerCertDer: Buffer; spki: Buffer }): Promise<Buffer> {
  const iss = issuerInfo(o.signer, o.issuerCertDer);
  return buildCertificate({
    signer: o.signer, issuerDer: iss.subjectDer, subjectDer: encodeName(o.subject), spki: o.spki,
    serialNumber: o.serialNumber ?? randomCertSerial(), notBefore: o.notBefore, notAfter: o.notAfter,
    extensions: [
      extBasicConstraints(false), extKeyUsage(['digitalSignature']), extExtKeyUsage([OID.kpOcspSigning]),
      extOcspNoCheck(), extSubjectKeyId(o.spki), extAuthorityKeyId(iss.keyId),
    ],
  });
}

// ---------------------------------------------------------------- device profile (hot path)
export interface DeviceIssuerContext {
  signer: Signer;
  issuerCertDer: Buffer;
  ocspUrl: string;
  crlUrl: string;
  caIssuersUrl?: string;
}

export interface DeviceCertRequest {
  deviceSerial: string;
  /** device SubjectPublicKeyInfo, normally `parseCsr(...).spki` */
  spki: Buffer;
  serialNumber: Buffer;
  notBefore: Date;
  notAfter: Date;
}

export interface DeviceIssuer {
  issue(req: DeviceCertRequest): Promise<Buffer>;
}

/** Prefix of the SAN URI naming a device. */
export const DEVICE_URN_PREFIX = 'urn:femtoguard:device:';

// RFC 5280 Appendix A: ub-common-name and ub-serial-number are both 64.
const MAX_DEVICE_SERIAL = 64;

/** Device subject `CN=<serial>, serialNumber=<serial>`, encoded exactly as {@link encodeName} would. */
function deviceSubject(serial: string): Buffer {
  return encodeName([{ type: OID.commonName, value: serial }, { type: OID.serialNumber, value: serial }]);
}

/**
 * Prepares device certificate issuance under one issuing CA. The device profile: v3;
 * subject CN=serialNumber=<device serial>; SAN URI urn:femtoguard:device:<serial>;
 * BC CA:FALSE and KU digitalSignature (both critical); EKU clientAuth; SKI; AKI; AIA; CRL DP.
 */
export function createDeviceIssuer(ctx: DeviceIssuerContext): DeviceIssuer {
  const { signer } = ctx;
  const iss = issuerInfo(signer, ctx.issuerCertDer);
  const sigAlg = signer.signatureAlgorithm;
  const issuerDer = iss.subjectDer;
  const head = Buffer.concat([extBasicConstraints(false), extKeyUsage(['digitalSignature']), extExtKeyUsage([OID.kpClientAuth])]);
  const aki = extAuthorityKeyId(iss.keyId);
  const tail = Buffer.concat([
    extAia({ ocsp: [ctx.ocspUrl], ...(ctx.caIssuersUrl !== undefined ? { caIssuers: [ctx.caIssuersUrl] } : {}) }),
    extCrlDp(ctx.crlUrl),
  ]);

  function tbsFor(req: DeviceCertRequest): Buffer {
    const serial = req.deviceSerial;
    if (typeof serial !== 'string' || serial.length === 0 || serial.length > MAX_DEVICE_SERIAL || /[\u0000-\u001f\u007f]/.test(serial)) {
      throw new AppError('invalid', 'certificate.invalid_field', `device serial must be 1..${MAX_DEVICE_SERIAL} characters without control characters`);
    }
    checkSerial(req.serialNumber);
    checkValidity(req.notBefore, req.notAfter);
    const ski = createHash('sha1').update(subjectPublicKeyBits(req.spki)).digest();
    const san = extension(OID.subjectAltName, false, seq(implicitPrimitive(6, Buffer.from(DEVICE_URN_PREFIX + encodeURIComponent(serial), 'latin1'))));
    const exts = explicit(3, seq(head, extension(OID.subjectKeyIdentifier, false, octets(ski)), aki, san, tail));
    return seq(V3, int(req.serialNumber), sigAlg, issuerDer, seq(time(req.notBefore), time(req.notAfter)), deviceSubject(serial), req.spki, exts);
  }

  if (signer.signSync) {
    const signSync = signer.signSync.bind(signer);
    return {
      issue(req: DeviceCertRequest): Promise<Buffer> {
        try {
          const tbs = tbsFor(req);
          return Promise.resolve(seq(tbs, sigAlg, bitString(signSync(tbs))));
        } catch (e) {
          return Promise.reject(e instanceof Error ? e : new Error(String(e)));
        }
      },
    };
  }
  return {
    async issue(req: DeviceCertRequest): Promise<Buffer> {
      const tbs = tbsFor(req);
      return seq(tbs, sigAlg, bitString(await signer.sign(tbs)));
    },
  };
}
