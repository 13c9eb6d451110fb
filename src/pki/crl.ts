/**
 * X.509 v2 CRLs (RFC 5280 §5): reason codes, a builder sized for fleets (hundreds of
 * thousands of entries, one concatenation), and a strict parser for tests and the fleet audit.
 */
import { AppError } from '../core/errors.js';
import type { Signer } from './signer.js';
import { OID } from './oids.js';
import {
  TAG,
  bitString,
  enumerated,
  explicit,
  implicitPrimitive,
  int,
  octets,
  oid,
  parseRoot,
  readNode,
  readOid,
  readTime,
  readUnsignedInt,
  seq,
  time,
  tlv,
  type Node,
} from './der.js';

/** RFC 5280 §5.3.1 CRLReason names and codes (7 is unassigned). */
export const CRL_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;

export type CrlReasonName = keyof typeof CRL_REASONS;

const REASON_NAMES = Object.keys(CRL_REASONS) as CrlReasonName[];
const REASON_BY_LOWER = new Map<string, number>(REASON_NAMES.map((n) => [n.toLowerCase(), CRL_REASONS[n]]));

/** Reason code for a name (case-insensitive, e.g. `keyCompromise`). Throws `crl.bad_reason`. */
export function parseCrlReason(name: string): number {
  const code = typeof name === 'string' ? REASON_BY_LOWER.get(name.trim().toLowerCase()) : undefined;
  if (code === undefined) {
    throw new AppError('invalid', 'crl.bad_reason', `unknown revocation reason; expected one of: ${REASON_NAMES.join(', ')}`, {
      allowed: REASON_NAMES,
    });
  }
  return code;
}

/** Name of a reason code, or undefined for a code RFC 5280 does not assign. */
export function crlReasonName(code: number): CrlReasonName | undefined {
  return REASON_NAMES.find((n) => CRL_REASONS[n] === code);
}

const isReasonCode = (r: number): boolean => Number.isInteger(r) && r >= 0 && r <= 10 && r !== 7;

export interface RevokedEntry {
  /** Unsigned magnitude of the certificate serial number. */
  serialNumber: Buffer;
  revokedAt: Date;
  /** RFC 5280 §5.3.1 code; 0 (unspecified) and undefined both leave the extension out. */
  reason?: number;
}

export interface BuildCrlOptions {
  signer: Signer;
  /** DER Name of the issuing CA (its certificate's subject), byte for byte. */
  issuerSubjectDer: Buffer;
  /** The issuing CA's subjectKeyIdentifier (RFC 5280 §5.2.1). */
  authorityKeyId: Buffer;
  thisUpdate: Date;
  nextUpdate: Date;
  /** Monotonically increasing (RFC 5280 §5.2.3), at most 20 octets. */
  crlNumber: bigint;
  revoked: RevokedEntry[];
}

function buildError(what: string): AppError {
  return new AppError('internal', 'crl.bad_build_input', `cannot build CRL: ${what}`);
}

const EXT_AKI = oid(OID.authorityKeyIdentifier);
const EXT_CRL_NUMBER = oid(OID.cRLNumber);
// One pre-encoded crlEntryExtensions per reason: 200,000 entries share ten buffers.
const REASON_EXTENSIONS = new Map<number, Buffer>(
  REASON_NAMES.filter((n) => CRL_REASONS[n] !== 0).map((n) => [
    CRL_REASONS[n] as number,
    seq(seq(oid(OID.cRLReason), octets(enumerated(CRL_REASONS[n])))),
  ]),
);

/**
 * Builds and signs a v2 CRL (RFC 5280 §5.1) with the authorityKeyIdentifier and cRLNumber
 * extensions (§5.2.1, §5.2.3, both MUST for conforming CAs) and a reasonCode entry
 * extension when the reason is not `unspecified` (§5.3.1: SHOULD be absent then).
 */
export async function buildCrl(opts: BuildCrlOptions): Promise<Buffer> {
  if (opts.issuerSubjectDer[0] !== TAG.SEQUENCE) throw buildError('issuerSubjectDer is not a Name');
  parseRoot(opts.issuerSubjectDer);
  if (opts.authorityKeyId.length === 0) throw buildError('empty authorityKeyId');
  if (opts.crlNumber < 0n || opts.crlNumber >= 1n << 159n) throw buildError('crlNumber must fit in 20 octets');
  if (!(opts.nextUpdate.getTime() > opts.thisUpdate.getTime())) throw buildError('nextUpdate must be after thisUpdate');

  const entries: Buffer[] = new Array<Buffer>(opts.revoked.length);
  for (let i = 0; i < opts.revoked.length; i++) {
    const e = opts.revoked[i] as RevokedEntry;
    if (e.serialNumber.length === 0 || e.serialNumber.length > 21) throw buildError(`bad serial number in entry ${i}`);
    if (e.reason !== undefined && e.reason !== 0) {
      const ext = REASON_EXTENSIONS.get(e.reason);
      if (!ext || !isReasonCode(e.reason)) throw buildError(`bad revocation reason in entry ${i}`);
      entries[i] = seq(int(e.serialNumber), time(e.revokedAt), ext);
    } else {
      entries[i] = seq(int(e.serialNumber), time(e.revokedAt));
    }
  }

  const extensions = explicit(
    0,
    seq(
      seq(EXT_AKI, octets(seq(implicitPrimitive(0, opts.authorityKeyId)))),
      seq(EXT_CRL_NUMBER, octets(int(opts.crlNumber))),
    ),
  );
  const tbsParts = [int(1), opts.signer.signatureAlgorithm, opts.issuerSubjectDer, time(opts.thisUpdate), time(opts.nextUpdate)];
  // §5.1.2.6: when nothing is revoked the list MUST be absent, not empty.
  if (entries.length > 0) tbsParts.push(tlv(TAG.SEQUENCE, Buffer.concat(entries)));
  tbsParts.push(extensions);
  const tbs = seq(...tbsParts);
  const signature = opts.signer.signSync ? opts.signer.signSync(tbs) : await opts.signer.sign(tbs);
  return seq(tbs, opts.signer.signatureAlgorithm, bitString(signature));
}

// ---------------------------------------------------------------- parsing
export interface ParsedCrlEntry {
  /** Lowercase hex of the serial's unsigned magnitude. */
  serialHex: string;
  revokedAt: Date;
  reason?: number;
}

export interface ParsedCrl {
  issuerDer: Buffer;
  thisUpdate: Date;
  nextUpdate?: Date;
  crlNumber?: bigint;
  authorityKeyId?: Buffer;
  revoked: ParsedCrlEntry[];
  /** What the signature covers, and the signature itself, for callers that verify it. */
  tbsDer: Buffer;
  signatureAlgorithmDer: Buffer;
  /** BIT STRING value without the unused-bits byte. */
  signature: Buffer;
}

function malformed(what: string, offset: number): AppError {
  return new AppError('invalid', 'crl.malformed', `malformed CRL: ${what} at byte ${offset}`, { offset });
}

function expect(der: Buffer, at: number, limit: number, tag: number, what: string): Node {
  if (at >= limit) throw malformed(`missing ${what}`, at);
  const n = readNode(der, at, limit);
  if (n.tag !== tag) throw malformed(`${what}: expected tag 0x${tag.toString(16)}, got 0x${n.tag.toString(16)}`, at);
  return n;
}

const isTime = (n: Node): boolean => n.tag === TAG.UTC_TIME || n.tag === TAG.GENERALIZED_TIME;

/**
 * Calls `onExt(oid, extnValue)` for each Extension. RFC 5280 §5.2/§5.3: a CRL with a
 * critical extension the reader does not process must not be used, so those throw.
 */
function walkExtensions(der: Buffer, exts: Node, where: string, known: readonly string[], onExt: (id: string, v: Node) => void): void {
  for (let p = exts.contentStart; p < exts.end; ) {
    const ext = expect(der, p, exts.end, TAG.SEQUENCE, `${where} Extension`);
    const idNode = expect(der, ext.contentStart, ext.end, TAG.OID, `${where} extnID`);
    const id = readOid(der, idNode);
    let v = readNode(der, idNode.end, ext.end);
    let critical = false;
    if (v.tag === TAG.BOOLEAN) {
      critical = v.end - v.contentStart === 1 && der[v.contentStart] !== 0;
      v = readNode(der, v.end, ext.end);
    }
    if (v.tag !== TAG.OCTET_STRING || v.end !== ext.end) throw malformed(`${where} extnValue`, v.start);
    if (known.includes(id)) onExt(id, v);
    else if (critical) {
      throw new AppError('invalid', 'crl.unsupported_critical_extension', `CRL has an unsupported critical ${where} extension ${id}`, { oid: id });
    }
    p = ext.end;
  }
}

function parseEntries(der: Buffer, list: Node): ParsedCrlEntry[] {
  const out: ParsedCrlEntry[] = [];
  for (let p = list.contentStart; p < list.end; ) {
    const e = expect(der, p, list.end, TAG.SEQUENCE, 'revokedCertificates entry');
    const serial = expect(der, e.contentStart, e.end, TAG.INTEGER, 'userCertificate');
    const when = readNode(der, serial.end, e.end);
    if (!isTime(when)) throw malformed('revocationDate: expected a Time', when.start);
    const entry: ParsedCrlEntry = { serialHex: readUnsignedInt(der, serial).toString('hex'), revokedAt: readTime(der, when) };
    if (when.end !== e.end) {
      const exts = expect(der, when.end, e.end, TAG.SEQUENCE, 'crlEntryExtensions');
      if (exts.end !== e.end) throw malformed('trailing bytes in entry', exts.end);
      walkExtensions(der, exts, 'CRL entry', [OID.cRLReason], (_id, v) => {
        const r = expect(der, v.contentStart, v.end, TAG.ENUMERATED, 'reasonCode');
        const code = der[r.contentStart];
        if (r.end !== v.end || r.end - r.contentStart !== 1 || code === undefined || !isReasonCode(code)) {
          throw malformed('bad reasonCode', r.start);
        }
        entry.reason = code;
      });
    }
    out.push(entry);
    p = e.end;
  }
  return out;
}

/**
 * Parses a DER CertificateList (RFC 5280 §5.1). Checks structure, not the signature
 * (`tbsDer`/`signature` are returned for that). Throws `crl.malformed`.
 */
export function parseCrl(der: Buffer): ParsedCrl {
  try {
    return parseCrlUnchecked(der);
  } catch (e) {
    if (e instanceof AppError && e.code === 'der.malformed') {
      throw new AppError('invalid', 'crl.malformed', e.message.replace(/^malformed DER/, 'malformed CRL'), e.details, { cause: e });
    }
    throw e;
  }
}

function parseCrlUnchecked(der: Buffer): ParsedCrl {
  const root = expect(der, 0, der.length, TAG.SEQUENCE, 'CertificateList');
  if (root.end !== der.length) throw malformed('trailing bytes after the CRL', root.end);
  const tbs = expect(der, root.contentStart, root.end, TAG.SEQUENCE, 'tbsCertList');
  const alg = expect(der, tbs.end, root.end, TAG.SEQUENCE, 'signatureAlgorithm');
  const sig = expect(der, alg.end, root.end, TAG.BIT_STRING, 'signatureValue');
  if (sig.end !== root.end) throw malformed('unexpected field after signatureValue', sig.end);
  if (sig.end - sig.contentStart < 2 || der[sig.contentStart] !== 0) throw malformed('bad signatureValue', sig.start);

  let n = readNode(der, tbs.contentStart, tbs.end);
  if (n.tag === TAG.INTEGER) {
    // §5.1.2.1: if present, version MUST be v2 (1).
    if (n.end - n.contentStart !== 1 || der[n.contentStart] !== 1) throw malformed('version must be v2', n.start);
    n = readNode(der, n.end, tbs.end);
  }
  if (n.tag !== TAG.SEQUENCE) throw malformed('signature: expected AlgorithmIdentifier', n.start);
  // §5.1.1.2: the outer signatureAlgorithm MUST equal tbsCertList.signature.
  if (der.compare(der, alg.start, alg.end, n.start, n.end) !== 0) throw malformed('signature algorithms differ', n.start);
  const issuer = expect(der, n.end, tbs.end, TAG.SEQUENCE, 'issuer');
  const thisNode = readNode(der, issuer.end, tbs.end);
  if (!isTime(thisNode)) throw malformed('thisUpdate: expected a Time', thisNode.start);
  const out: ParsedCrl = {
    issuerDer: der.subarray(issuer.start, issuer.end),
    thisUpdate: readTime(der, thisNode),
    revoked: [],
    tbsDer: der.subarray(tbs.start, tbs.end),
    signatureAlgorithmDer: der.subarray(alg.start, alg.end),
    signature: der.subarray(sig.contentStart + 1, sig.end),
  };
  let p = thisNode.end;
  let next: Node | undefined = p < tbs.end ? readNode(der, p, tbs.end) : undefined;
  if (next && isTime(next)) {
    out.nextUpdate = readTime(der, next);
    p = next.end;
    next = p < tbs.end ? readNode(der, p, tbs.end) : undefined;
  }
  if (next && next.tag === TAG.SEQUENCE) {
    out.revoked = parseEntries(der, next);
    p = next.end;
    next = p < tbs.end ? readNode(der, p, tbs.end) : undefined;
  }
  if (next) {
    if (next.tag !== 0xa0 || next.end !== tbs.end) throw malformed('unexpected field in tbsCertList', next.start);
    const exts = expect(der, next.contentStart, next.end, TAG.SEQUENCE, 'crlExtensions');
    if (exts.end !== next.end) throw malformed('trailing bytes in crlExtensions', exts.end);
    walkExtensions(der, exts, 'CRL', [OID.cRLNumber, OID.authorityKeyIdentifier], (id, v) => {
      if (id === OID.cRLNumber) {
        const num = expect(der, v.contentStart, v.end, TAG.INTEGER, 'cRLNumber');
        if (num.end !== v.end) throw malformed('trailing bytes in cRLNumber', num.end);
        const mag = readUnsignedInt(der, num);
        out.crlNumber = BigInt(`0x${mag.toString('hex')}`);
      } else {
        const aki = expect(der, v.contentStart, v.end, TAG.SEQUENCE, 'authorityKeyIdentifier');
        if (aki.contentStart < aki.end) {
          const k = readNode(der, aki.contentStart, aki.end);
          if (k.tag === 0x80) out.authorityKeyId = der.subarray(k.contentStart, k.end);
        }
      }
    });
  }
  return out;
}
