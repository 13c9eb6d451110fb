/**
 * OCSP encodings (RFC 6960, profiled by RFC 5019): a strict, allocation-light request
 * parser for the responder's hot path, the GET path decoder, CertID hashes, and the
 * BasicOCSPResponse builder. Policy (which status to answer, caching, whether to echo a
 * nonce) belongs to the caller; this module only speaks the wire format.
 */
import { createHash } from 'node:crypto';
import { AppError } from '../core/errors.js';
import type { Signer } from './signer.js';
import { OID } from './oids.js';
import {
  TAG,
  bitString,
  enumerated,
  explicit,
  generalizedTime,
  octets,
  oid,
  parseRoot,
  readNode,
  seq,
  tlv,
  type Node,
} from './der.js';

/** CertID hash algorithms femtoguard answers for. RFC 5019 §2.1.1 makes SHA-1 the baseline. */
export type OcspHash = 'sha1' | 'sha256' | 'sha384' | 'sha512';

/** RFC 6960 §4.1.1 CertID. All Buffers are views into the request buffer: copy to keep them. */
export interface OcspCertId {
  /**
   * `'unsupported'` when the request names a hash algorithm femtoguard does not compute
   * (e.g. MD5): the request still parses, and the responder answers `unknown` for that
   * CertID (RFC 6960 §2.2: the responder cannot identify the certificate).
   */
  hash: OcspHash | 'unsupported';
  issuerNameHash: Buffer;
  issuerKeyHash: Buffer;
  /** Unsigned magnitude of the serial number (no leading 0x00). */
  serialNumber: Buffer;
  /** The whole CertID TLV exactly as received; RFC 6960 §4.2.1 responses echo it. */
  der: Buffer;
}

export interface OcspRequest {
  certIds: OcspCertId[];
  /** Content of the nonce extension's extnValue (RFC 9654 §2.1), echoed verbatim when answered. */
  nonce?: Buffer;
}

/** At most this many CertIDs per request: bounds signing work a single request can cause. */
export const OCSP_MAX_CERT_IDS = 16;

export const OCSP_CONTENT_TYPES = {
  request: 'application/ocsp-request',
  response: 'application/ocsp-response',
} as const;

// ---------------------------------------------------------------- hashes
const HASH_LENGTH: Readonly<Record<OcspHash, number>> = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 };
// AlgorithmIdentifier OIDs as DER, compared bytewise (no string building on the hot path).
const HASH_OIDS: readonly (readonly [OcspHash, Buffer])[] = [
  ['sha1', oid(OID.sha1)],
  ['sha256', oid(OID.sha256)],
  ['sha384', oid(OID.sha384)],
  ['sha512', oid(OID.sha512)],
];
const NONCE_OID = oid(OID.ocspNonce);
/** RFC 9654 §2.1: Nonce is OCTET STRING (SIZE(1..128)); extnValue wraps it in a 2-3 byte header. */
const MAX_NONCE_EXTN_VALUE = 131;
/** RFC 5280 §4.1.2.2: serials are at most 20 octets; 21 content bytes allows the sign byte. */
const MAX_SERIAL_CONTENT = 21;

/**
 * RFC 6960 §4.1.1: issuerNameHash is the hash of the issuer's DER-encoded Name, and
 * issuerKeyHash the hash of the issuer's subjectPublicKey BIT STRING value (without tag,
 * length and unused-bits byte). `issuerPublicKeyBits` is exactly that value.
 */
export function issuerKeyHashes(
  issuerSubjectDer: Buffer,
  issuerPublicKeyBits: Buffer,
  hash: OcspHash,
): { nameHash: Buffer; keyHash: Buffer } {
  return {
    nameHash: createHash(hash).update(issuerSubjectDer).digest(),
    keyHash: createHash(hash).update(issuerPublicKeyBits).digest(),
  };
}

// ---------------------------------------------------------------- request parsing
function malformed(where: string, what: string, offset: number): AppError {
  return new AppError('invalid', 'ocsp.malformed', `malformed OCSP request: ${where}: ${what} at byte ${offset}`, {
    where,
    offset,
  });
}

/** readNode with the failure reported as ocsp.malformed naming `where`. */
function node(buf: Buffer, at: number, limit: number, where: string, tag?: number): Node {
  if (at >= limit) throw malformed(where, 'missing', at);
  let n: Node;
  try {
    n = readNode(buf, at, limit);
  } catch (e) {
    const m = e instanceof AppError ? e.message.replace(/^malformed DER: /, '').replace(/ at byte \d+$/, '') : 'bad DER';
    throw malformed(where, m, at);
  }
  if (tag !== undefined && n.tag !== tag) {
    throw malformed(where, `expected tag 0x${tag.toString(16)}, got 0x${n.tag.toString(16)}`, at);
  }
  return n;
}

function sameBytes(buf: Buffer, n: Node, expected: Buffer): boolean {
  return n.end - n.start === expected.length && buf.compare(expected, 0, expected.length, n.start, n.end) === 0;
}

function parseCertId(buf: Buffer, c: Node): OcspCertId {
  const alg = node(buf, c.contentStart, c.end, 'CertID.hashAlgorithm', TAG.SEQUENCE);
  const algOid = node(buf, alg.contentStart, alg.end, 'CertID.hashAlgorithm.algorithm', TAG.OID);
  if (algOid.end !== alg.end) {
    // RFC 5754 §2: parameters absent or NULL; nothing else.
    const params = node(buf, algOid.end, alg.end, 'CertID.hashAlgorithm.parameters', TAG.NULL);
    if (params.contentStart !== params.end || params.end !== alg.end) {
      throw malformed('CertID.hashAlgorithm.parameters', 'expected absent or NULL', params.start);
    }
  }
  let hash: OcspHash | 'unsupported' = 'unsupported';
  for (const [name, enc] of HASH_OIDS) {
    if (sameBytes(buf, algOid, enc)) {
      hash = name;
      break;
    }
  }
  const nameHash = node(buf, alg.end, c.end, 'CertID.issuerNameHash', TAG.OCTET_STRING);
  const keyHash = node(buf, nameHash.end, c.end, 'CertID.issuerKeyHash', TAG.OCTET_STRING);
  const expectLen = hash === 'unsupported' ? -1 : HASH_LENGTH[hash];
  for (const [h, where] of [[nameHash, 'CertID.issuerNameHash'], [keyHash, 'CertID.issuerKeyHash']] as const) {
    const len = h.end - h.contentStart;
    if (expectLen >= 0 ? len !== expectLen : len === 0 || len > 64) {
      throw malformed(where, `${len} bytes is not a valid ${hash} digest length`, h.start);
    }
  }
  const serial = node(buf, keyHash.end, c.end, 'CertID.serialNumber', TAG.INTEGER);
  if (serial.end !== c.end) throw malformed('CertID', 'unexpected field after serialNumber', serial.end);
  let s = serial.contentStart;
  const len = serial.end - s;
  if (len === 0) throw malformed('CertID.serialNumber', 'empty INTEGER', serial.start);
  if (len > MAX_SERIAL_CONTENT) throw malformed('CertID.serialNumber', 'longer than 20 octets', serial.start);
  const b0 = buf[s] as number;
  // RFC 5280 §4.1.2.2: serials are positive; X.690 §8.3.2: minimal two's complement.
  if (b0 & 0x80) throw malformed('CertID.serialNumber', 'negative serial number', serial.start);
  if (b0 === 0 && len > 1) {
    if (((buf[s + 1] as number) & 0x80) === 0) throw malformed('CertID.serialNumber', 'non-minimal INTEGER', serial.start);
    s++;
  }
  return {
    hash,
    issuerNameHash: buf.subarray(nameHash.contentStart, nameHash.end),
    issuerKeyHash: buf.subarray(keyHash.contentStart, keyHash.end),
    serialNumber: buf.subarray(s, serial.end),
    der: buf.subarray(c.start, c.end),
  };
}

/**
 * Walks an Extensions SEQUENCE (RFC 5280 §4.1). Returns the nonce extnValue content when
 * `allowNonce`. RFC 6960 §4.4: unrecognised extensions are ignored unless critical.
 */
function parseExtensions(buf: Buffer, exts: Node, where: string, allowNonce: boolean): Buffer | undefined {
  let nonce: Buffer | undefined;
  let p = exts.contentStart;
  if (p === exts.end) throw malformed(where, 'empty Extensions', exts.start);
  while (p < exts.end) {
    const ext = node(buf, p, exts.end, where, TAG.SEQUENCE);
    const id = node(buf, ext.contentStart, ext.end, `${where}.extnID`, TAG.OID);
    let q = id.end;
    let critical = false;
    let v = node(buf, q, ext.end, `${where}.extnValue`);
    if (v.tag === TAG.BOOLEAN) {
      if (v.end - v.contentStart !== 1) throw malformed(`${where}.critical`, 'bad BOOLEAN', v.start);
      critical = buf[v.contentStart] !== 0;
      q = v.end;
      v = node(buf, q, ext.end, `${where}.extnValue`);
    }
    if (v.tag !== TAG.OCTET_STRING) throw malformed(`${where}.extnValue`, 'expected OCTET STRING', v.start);
    if (v.end !== ext.end) throw malformed(where, 'unexpected field after extnValue', v.end);
    if (allowNonce && sameBytes(buf, id, NONCE_OID)) {
      if (nonce) throw malformed(where, 'duplicate nonce extension', ext.start);
      const len = v.end - v.contentStart;
      // RFC 9654 §2.1: a nonce of 0 or more than 128 octets is a malformedRequest.
      if (len === 0 || len > MAX_NONCE_EXTN_VALUE) throw malformed(`${where}.nonce`, `nonce of ${len} bytes`, v.start);
      nonce = buf.subarray(v.contentStart, v.end);
    } else if (critical) {
      throw malformed(where, 'unsupported critical extension', ext.start);
    }
    p = ext.end;
  }
  return nonce;
}

/**
 * Parses a DER OCSPRequest (RFC 6960 §4.1.1). Strict DER, no trailing bytes, at most
 * {@link OCSP_MAX_CERT_IDS} CertIDs. The optional requestor signature is skipped (RFC 5019
 * §2.1.2: responders need not verify it). Throws AppError `invalid`/`ocsp.malformed`, to be
 * answered with {@link ocspErrorResponse}('malformedRequest').
 */
export function parseOcspRequest(der: Buffer): OcspRequest {
  const root = node(der, 0, der.length, 'OCSPRequest', TAG.SEQUENCE);
  if (root.end !== der.length) throw malformed('OCSPRequest', 'trailing bytes after the request', root.end);
  const tbs = node(der, root.contentStart, root.end, 'TBSRequest', TAG.SEQUENCE);
  if (tbs.end !== root.end) {
    const sig = node(der, tbs.end, root.end, 'optionalSignature', 0xa0);
    if (sig.end !== root.end) throw malformed('OCSPRequest', 'unexpected field after optionalSignature', sig.end);
  }
  let n = node(der, tbs.contentStart, tbs.end, 'TBSRequest');
  if (n.tag === 0xa0) {
    // version [0] EXPLICIT DEFAULT v1: tolerated when present, but only as v1 (0).
    const v = node(der, n.contentStart, n.end, 'TBSRequest.version', TAG.INTEGER);
    if (v.end !== n.end || v.end - v.contentStart !== 1 || der[v.contentStart] !== 0) {
      throw malformed('TBSRequest.version', 'only v1 is defined', n.start);
    }
    n = node(der, n.end, tbs.end, 'TBSRequest');
  }
  if (n.tag === 0xa1) n = node(der, n.end, tbs.end, 'TBSRequest'); // requestorName: not used
  if (n.tag !== TAG.SEQUENCE) throw malformed('TBSRequest.requestList', 'expected SEQUENCE', n.start);
  const certIds: OcspCertId[] = [];
  for (let p = n.contentStart; p < n.end; ) {
    if (certIds.length === OCSP_MAX_CERT_IDS) {
      throw malformed('TBSRequest.requestList', `more than ${OCSP_MAX_CERT_IDS} requests`, p);
    }
    const req = node(der, p, n.end, 'Request', TAG.SEQUENCE);
    const c = node(der, req.contentStart, req.end, 'CertID', TAG.SEQUENCE);
    const certId = parseCertId(der, c);
    if (c.end !== req.end) {
      const ext = node(der, c.end, req.end, 'Request.singleRequestExtensions', 0xa0);
      if (ext.end !== req.end) throw malformed('Request', 'unexpected field after singleRequestExtensions', ext.end);
      const inner = node(der, ext.contentStart, ext.end, 'Request.singleRequestExtensions', TAG.SEQUENCE);
      if (inner.end !== ext.end) throw malformed('Request.singleRequestExtensions', 'trailing bytes', inner.end);
      parseExtensions(der, inner, 'Request.singleRequestExtensions', false);
    }
    certIds.push(certId);
    p = req.end;
  }
  if (certIds.length === 0) throw malformed('TBSRequest.requestList', 'no requests', n.start);
  let nonce: Buffer | undefined;
  if (n.end !== tbs.end) {
    const ext = node(der, n.end, tbs.end, 'TBSRequest.requestExtensions', 0xa2);
    if (ext.end !== tbs.end) throw malformed('TBSRequest', 'unexpected field after requestExtensions', ext.end);
    const inner = node(der, ext.contentStart, ext.end, 'TBSRequest.requestExtensions', TAG.SEQUENCE);
    if (inner.end !== ext.end) throw malformed('TBSRequest.requestExtensions', 'trailing bytes', inner.end);
    nonce = parseExtensions(der, inner, 'TBSRequest.requestExtensions', true);
  }
  return nonce ? { certIds, nonce } : { certIds };
}


// ---------------------------------------------------------------- GET
/** Longest GET path accepted; RFC 5019 §5 expects GET only for requests under 255 bytes encoded. */
const MAX_GET_PATH = 4096;

/**
 * RFC 6960 Appendix A.1: a GET request is `{url}/{url-encoding of base64 of DER OCSPRequest}`.
 * `path` is what follows the responder URL. Tolerates what proxies and clients do to it:
 * percent-encoding (`%2B`, `%2F`, `%3D`), a `+` turned into a space by form decoding, the
 * base64url alphabet, and missing padding. Does not parse the DER: pass the result to
 * {@link parseOcspRequest}. Throws `ocsp.malformed` when the path is not base64.
 */
export function decodeOcspGetPath(path: string): Buffer {
  // A DER OCSPRequest starts with 0x30, i.e. base64 "M": leading slashes are separators.
  let s = path.replace(/^\/+/, '');
  if (s.length === 0) throw getError('empty path');
  if (s.length > MAX_GET_PATH) throw getError(`path longer than ${MAX_GET_PATH} characters`);
  if (s.includes('%')) {
    try {
      s = decodeURIComponent(s);
    } catch {
      throw getError('bad percent-encoding');
    }
  }
  s = s.replace(/ /g, '+').replace(/-/g, '+').replace(/_/g, '/');
  const m = /^([A-Za-z0-9+/]+)(={0,2})$/.exec(s);
  if (!m) throw getError('not base64');
  const body = m[1] as string;
  const padded = (m[2] as string).length > 0;
  if (body.length % 4 === 1 || (padded && s.length % 4 !== 0)) throw getError('bad base64 length or padding');
  return Buffer.from(body, 'base64');
}

function getError(what: string): AppError {
  return new AppError('invalid', 'ocsp.malformed', `malformed OCSP GET request: ${what}`);
}

// ---------------------------------------------------------------- responses
/** RFC 6960 §4.2.1 CertStatus; `reason` is an RFC 5280 §5.3.1 CRLReason code. */
export type OcspCertStatus =
  | { status: 'good' }
  | { status: 'revoked'; revokedAt: Date; reason?: number }
  | { status: 'unknown' };

export interface OcspSingleResponseInput {
  /** The CertID TLV from the request ({@link OcspCertId.der}), echoed byte for byte. */
  certIdDer: Buffer;
  status: OcspCertStatus;
  thisUpdate: Date;
  /** RFC 5019 §2.2.4: responders that pre-produce responses set it; clients cache until then. */
  nextUpdate?: Date;
}

export interface BuildOcspResponseOptions {
  signer: Signer;
  /** Delegated responder certificate (RFC 6960 §4.2.2.2), put in `certs`; omit when the CA signs. */
  responderCertDer?: Buffer;
  /** SHA-1 of the responder's subjectPublicKey bits: ResponderID byKey (RFC 6960 §4.2.2.3, RFC 5019 §2.2.3). */
  responderKeyHash: Buffer;
  producedAt: Date;
  responses: OcspSingleResponseInput[];
  /**
   * Nonce extnValue content to echo (RFC 6960 §4.4.1). The caller decides: RFC 5019 §2.2.1
   * lets responders ignore nonces, and pre-signed cached responses cannot carry one.
   */
  nonce?: Buffer;
}

const GOOD = Buffer.from([0x80, 0x00]); // good [0] IMPLICIT NULL
const UNKNOWN = Buffer.from([0x82, 0x00]); // unknown [2] IMPLICIT UnknownInfo (NULL)
const OCSP_BASIC_OID = oid(OID.ocspBasic);

function buildError(what: string): AppError {
  return new AppError('internal', 'ocsp.bad_build_input', `cannot build OCSP response: ${what}`);
}

/** RFC 5280 §5.3.1 CRLReason codes are 0..10; 7 is unassigned. */
function checkReason(reason: number): void {
  if (!Number.isInteger(reason) || reason < 0 || reason > 10 || reason === 7) throw buildError(`bad revocation reason ${reason}`);
}

function certStatus(s: OcspCertStatus): Buffer {
  switch (s.status) {
    case 'good':
      return GOOD;
    case 'unknown':
      return UNKNOWN;
    case 'revoked': {
      // revoked [1] IMPLICIT RevokedInfo { revocationTime, revocationReason [0] EXPLICIT CRLReason OPTIONAL }.
      // Like RFC 5280 §5.3.1 for CRL entries, `unspecified` (0) is expressed by leaving the reason out.
      if (s.reason === undefined || s.reason === 0) return tlv(0xa1, generalizedTime(s.revokedAt));
      checkReason(s.reason);
      return tlv(0xa1, generalizedTime(s.revokedAt), explicit(0, enumerated(s.reason)));
    }
  }
}

/**
 * A successful OCSPResponse carrying an id-pkix-ocsp-basic BasicOCSPResponse (RFC 6960
 * §4.2.1), signed by `signer` over the DER ResponseData. All times are GeneralizedTime
 * with whole seconds (RFC 6960 §4.2.2.1 / RFC 5280 §4.1.2.5.2).
 */
export async function buildOcspResponse(opts: BuildOcspResponseOptions): Promise<Buffer> {
  if (opts.responderKeyHash.length !== 20) throw buildError('responderKeyHash must be a 20-byte SHA-1');
  if (opts.responses.length === 0) throw buildError('no responses');
  const singles: Buffer[] = [];
  for (const r of opts.responses) {
    if (r.certIdDer[0] !== TAG.SEQUENCE) throw buildError('certIdDer is not a CertID SEQUENCE');
    parseRoot(r.certIdDer);
    const parts = [r.certIdDer, certStatus(r.status), generalizedTime(r.thisUpdate)];
    if (r.nextUpdate) parts.push(explicit(0, generalizedTime(r.nextUpdate)));
    singles.push(seq(...parts));
  }
  // ResponseData: version v1 is the DEFAULT, so it is not encoded (X.690 §11.5).
  const tbsParts = [explicit(2, octets(opts.responderKeyHash)), generalizedTime(opts.producedAt), seq(...singles)];
  if (opts.nonce) tbsParts.push(explicit(1, seq(seq(NONCE_OID, octets(opts.nonce)))));
  const tbs = seq(...tbsParts);
  const signature = opts.signer.signSync ? opts.signer.signSync(tbs) : await opts.signer.sign(tbs);
  const basicParts = [tbs, opts.signer.signatureAlgorithm, bitString(signature)];
  if (opts.responderCertDer) basicParts.push(explicit(0, seq(opts.responderCertDer)));
  const basic = seq(...basicParts);
  return seq(enumerated(0), explicit(0, seq(OCSP_BASIC_OID, octets(basic))));
}

/** Unsuccessful OCSPResponseStatus values (RFC 6960 §4.2.1); 4 is unused. */
export type OcspErrorStatus = 'malformedRequest' | 'internalError' | 'tryLater' | 'sigRequired' | 'unauthorized';

const ERROR_CODES: Readonly<Record<OcspErrorStatus, number>> = {
  malformedRequest: 1,
  internalError: 2,
  tryLater: 3,
  sigRequired: 5,
  unauthorized: 6,
};
const ERROR_RESPONSES = new Map<OcspErrorStatus, Buffer>(
  (Object.keys(ERROR_CODES) as OcspErrorStatus[]).map((k) => [k, seq(enumerated(ERROR_CODES[k]))]),
);

/**
 * An OCSPResponse with only responseStatus (RFC 6960 §4.2.1: no responseBytes, unsigned).
 * Returns a shared constant buffer: send it, do not mutate it.
 */
export function ocspErrorResponse(status: OcspErrorStatus): Buffer {
  const b = ERROR_RESPONSES.get(status);
  if (!b) throw new AppError('internal', 'ocsp.bad_build_input', `unknown OCSP error status ${String(status)}`);
  return b;
}
