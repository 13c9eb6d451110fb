/**
 * A small, strict DER (ITU-T X.690) reader and writer: exactly what femtoguard's
 * certificate, CSR, OCSP and CRL code needs, built for speed on the hot paths
 * (issuance, OCSP). Generic ASN.1 libraries build object trees; here a certificate is
 * a handful of Buffer concatenations and a parse is a walk over offsets.
 */
import { AppError } from '../core/errors.js';

// ---------------------------------------------------------------- tags
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

// ---------------------------------------------------------------- writer
function lengthBytes(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n < 0x100) return Buffer.from([0x81, n]);
  if (n < 0x10000) return Buffer.from([0x82, n >> 8, n & 0xff]);
  if (n < 0x1000000) return Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.from([0x84, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
}

/** Tag-length-value from already-encoded content parts. */
export function tlv(tag: number, ...parts: Buffer[]): Buffer {
  let len = 0;
  for (const p of parts) len += p.length;
  const lb = lengthBytes(len);
  const out = Buffer.allocUnsafe(1 + lb.length + len);
  out[0] = tag;
  lb.copy(out, 1);
  let o = 1 + lb.length;
  for (const p of parts) {
    p.copy(out, o);
    o += p.length;
  }
  return out;
}

export const seq = (...parts: Buffer[]): Buffer => tlv(TAG.SEQUENCE, ...parts);
export const set = (...parts: Buffer[]): Buffer => tlv(TAG.SET, ...parts);
export const nullDer = (): Buffer => Buffer.from([0x05, 0x00]);
export const bool = (v: boolean): Buffer => Buffer.from([0x01, 0x01, v ? 0xff : 0x00]);
export const octets = (b: Buffer): Buffer => tlv(TAG.OCTET_STRING, b);
export const utf8 = (s: string): Buffer => tlv(TAG.UTF8_STRING, Buffer.from(s, 'utf8'));
export const printable = (s: string): Buffer => tlv(TAG.PRINTABLE_STRING, Buffer.from(s, 'latin1'));
export const ia5 = (s: string): Buffer => tlv(TAG.IA5_STRING, Buffer.from(s, 'latin1'));
/** BIT STRING with no unused bits (keys, signatures). */
export const bitString = (b: Buffer, unusedBits = 0): Buffer => tlv(TAG.BIT_STRING, Buffer.from([unusedBits]), b);
/** [n] EXPLICIT: constructed context-specific wrapper. */
export const explicit = (n: number, ...parts: Buffer[]): Buffer => tlv(0xa0 | n, ...parts);
/** [n] IMPLICIT over a primitive value: the content bytes with a context tag. */
export const implicitPrimitive = (n: number, content: Buffer): Buffer => tlv(0x80 | n, content);
export const enumerated = (n: number): Buffer => tlv(TAG.ENUMERATED, Buffer.from([n]));

/** INTEGER from a non-negative bigint or number, or from raw unsigned magnitude bytes. */
export function int(v: bigint | number | Buffer): Buffer {
  let mag: Buffer;
  if (Buffer.isBuffer(v)) {
    let i = 0;
    while (i < v.length - 1 && v[i] === 0) i++;
    mag = v.subarray(i);
  } else {
    let n = BigInt(v);
    if (n < 0n) throw new RangeError('negative INTEGER not supported');
    const bytes: number[] = [];
    do {
      bytes.unshift(Number(n & 0xffn));
      n >>= 8n;
    } while (n > 0n);
    mag = Buffer.from(bytes);
  }
  if (mag.length === 0) mag = Buffer.from([0]);
  if ((mag[0] as number) & 0x80) mag = Buffer.concat([Buffer.from([0]), mag]);
  return tlv(TAG.INTEGER, mag);
}

const oidCache = new Map<string, Buffer>();
/** OBJECT IDENTIFIER from dotted form; encodings are cached (a few dozen distinct OIDs). */
export function oid(dotted: string): Buffer {
  const hit = oidCache.get(dotted);
  if (hit) return hit;
  const arcs = dotted.split('.').map((a) => BigInt(a));
  if (arcs.length < 2) throw new RangeError(`bad OID ${dotted}`);
  const body: number[] = [];
  const first = (arcs[0] as bigint) * 40n + (arcs[1] as bigint);
  for (const arc of [first, ...arcs.slice(2)]) {
    const chunk: number[] = [];
    let a = arc;
    do {
      chunk.unshift(Number(a & 0x7fn));
      a >>= 7n;
    } while (a > 0n);
    for (let i = 0; i < chunk.length - 1; i++) chunk[i] = (chunk[i] as number) | 0x80;
    body.push(...chunk);
  }
  const enc = tlv(TAG.OID, Buffer.from(body));
  oidCache.set(dotted, enc);
  return enc;
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));
/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; whole seconds, Z. */
export function time(d: Date): Buffer {
  const y = d.getUTCFullYear();
  const rest =
    pad2(d.getUTCMonth() + 1) + pad2(d.getUTCDate()) + pad2(d.getUTCHours()) + pad2(d.getUTCMinutes()) + pad2(d.getUTCSeconds()) + 'Z';
  if (y >= 1950 && y < 2050) return tlv(TAG.UTC_TIME, Buffer.from(pad2(y % 100) + rest, 'latin1'));
  return tlv(TAG.GENERALIZED_TIME, Buffer.from(String(y).padStart(4, '0') + rest, 'latin1'));
}
/** GeneralizedTime always (OCSP and some CRL fields require it). */
export function generalizedTime(d: Date): Buffer {
  const s =
    String(d.getUTCFullYear()).padStart(4, '0') +
    pad2(d.getUTCMonth() + 1) + pad2(d.getUTCDate()) + pad2(d.getUTCHours()) + pad2(d.getUTCMinutes()) + pad2(d.getUTCSeconds()) + 'Z';
  return tlv(TAG.GENERALIZED_TIME, Buffer.from(s, 'latin1'));
}

// ---------------------------------------------------------------- reader
/** One parsed TLV: offsets into the buffer it came from. */
export interface Node {
  readonly tag: number;
  /** offset of the tag byte */
  readonly start: number;
  /** offset of the first content byte */
  readonly contentStart: number;
  /** offset one past the last content byte */
  readonly end: number;
}

export function derError(what: string, offset: number): AppError {
  return new AppError('invalid', 'der.malformed', `malformed DER: ${what} at byte ${offset}`, { offset });
}

/** Reads the TLV at `offset`; `limit` bounds it (defaults to the buffer's end). Strict DER lengths. */
export function readNode(buf: Buffer, offset: number, limit = buf.length): Node {
  if (offset + 2 > limit) throw derError('truncated header', offset);
  const tag = buf[offset] as number;
  if ((tag & 0x1f) === 0x1f) throw derError('high tag numbers are not supported', offset);
  let p = offset + 1;
  const first = buf[p++] as number;
  let len: number;
  if (first < 0x80) {
    len = first;
  } else {
    const n = first & 0x7f;
    if (n === 0) throw derError('indefinite length is not DER', offset);
    if (n > 4) throw derError('length too large', offset);
    if (p + n > limit) throw derError('truncated length', offset);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[p++] as number);
    if (len < 0x80 || (n > 1 && buf[p - n] === 0)) throw derError('non-minimal length', offset);
  }
  const end = p + len;
  if (end > limit) throw derError('content runs past its container', offset);
  return { tag, start: offset, contentStart: p, end };
}

/** The direct children of a constructed node. */
export function children(buf: Buffer, node: Node): Node[] {
  if ((node.tag & 0x20) === 0) throw derError('expected a constructed value', node.start);
  const out: Node[] = [];
  let p = node.contentStart;
  while (p < node.end) {
    const c = readNode(buf, p, node.end);
    out.push(c);
    p = c.end;
  }
  return out;
}

/** Parses a whole buffer as exactly one TLV (no trailing bytes). */
export function parseRoot(buf: Buffer): Node {
  const n = readNode(buf, 0);
  if (n.end !== buf.length) throw derError('trailing bytes after the value', n.end);
  return n;
}

export function expectTag(node: Node | undefined, tag: number, what: string, at = 0): Node {
  if (!node) throw derError(`missing ${what}`, at);
  if (node.tag !== tag) throw derError(`${what}: expected tag 0x${tag.toString(16)}, got 0x${node.tag.toString(16)}`, node.start);
  return node;
}

export const content = (buf: Buffer, n: Node): Buffer => buf.subarray(n.contentStart, n.end);
export const whole = (buf: Buffer, n: Node): Buffer => buf.subarray(n.start, n.end);

/** Dotted OID text from an OID node. */
export function readOid(buf: Buffer, n: Node): string {
  if (n.tag !== TAG.OID) throw derError('expected OBJECT IDENTIFIER', n.start);
  const arcs: number[] = [];
  let v = 0;
  for (let p = n.contentStart; p < n.end; p++) {
    const b = buf[p] as number;
    v = v * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) {
        const a0 = v < 40 ? 0 : v < 80 ? 1 : 2;
        arcs.push(a0, v - a0 * 40);
      } else arcs.push(v);
      v = 0;
    }
  }
  if (arcs.length === 0) throw derError('empty OBJECT IDENTIFIER', n.start);
  if (((buf[n.end - 1] as number) & 0x80) !== 0) throw derError('OBJECT IDENTIFIER ends inside an arc', n.start);
  return arcs.join('.');
}

/** INTEGER magnitude as unsigned bytes (leading zero dropped). */
export function readUnsignedInt(buf: Buffer, n: Node): Buffer {
  if (n.tag !== TAG.INTEGER) throw derError('expected INTEGER', n.start);
  let s = n.contentStart;
  if (s === n.end) throw derError('empty INTEGER', n.start);
  if (buf[s] === 0 && s + 1 < n.end) s++;
  return buf.subarray(s, n.end);
}

export function readSmallInt(buf: Buffer, n: Node): number {
  const b = readUnsignedInt(buf, n);
  if (b.length > 6) throw derError('INTEGER too large', n.start);
  return b.readUIntBE(0, b.length || 1);
}

/** UTCTime or GeneralizedTime to a Date. */
export function readTime(buf: Buffer, n: Node): Date {
  const s = buf.toString('latin1', n.contentStart, n.end);
  let m: RegExpExecArray | null;
  let y: number;
  if (n.tag === TAG.UTC_TIME && (m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s))) {
    const yy = Number(m[1]);
    y = yy < 50 ? 2000 + yy : 1900 + yy; // RFC 5280 §4.1.2.5.1
  } else if (n.tag === TAG.GENERALIZED_TIME && (m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.\d+)?Z$/.exec(s))) {
    y = Number(m[1]);
  } else {
    throw derError('bad time value', n.start);
  }
  const [mo, d, h, mi, se] = [Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])];
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi, se));
  // Date.UTC rolls month 13 or second 99 over silently: a round trip catches it.
  if (t.getUTCMonth() !== mo - 1 || t.getUTCDate() !== d || t.getUTCHours() !== h || t.getUTCMinutes() !== mi || t.getUTCSeconds() !== se) {
    throw derError('time value out of range', n.start);
  }
  return t;
}

/** Any of the string types X.509 names use, as text. */
export function readString(buf: Buffer, n: Node): string {
  switch (n.tag) {
    case TAG.UTF8_STRING:
      return buf.toString('utf8', n.contentStart, n.end);
    case TAG.PRINTABLE_STRING:
    case TAG.IA5_STRING:
    case 0x14: // TeletexString
    case 0x1a: // VisibleString
      return buf.toString('latin1', n.contentStart, n.end);
    case 0x1e: // BMPString
      return Buffer.from(buf.subarray(n.contentStart, n.end)).swap16().toString('utf16le');
    default:
      throw derError('expected a string', n.start);
  }
}

// ---------------------------------------------------------------- PEM
export function toPem(label: string, der: Buffer): string {
  const b64 = der.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** A PEM block (RFC 7468 §2): its label and the DER its base64 holds. */
export interface PemBlock {
  label: string;
  der: Buffer;
}

/** A `-----BEGIN` line with no matching `-----END` line before the next BEGIN or the end. */
export interface TruncatedPem {
  label: string;
  /** 1-based line of the BEGIN line */
  line: number;
}

const PEM_BEGIN = /-----BEGIN ([A-Z0-9 ]+)-----/;
const PEM_ANY_BEGIN = '-----BEGIN ';

/**
 * Every PEM block of the given label (or any label) in a text. A block ends at the first
 * `-----END <label>-----` after its BEGIN, provided no other BEGIN comes first: a block whose
 * body holds another BEGIN is truncated (a file cut short, then another appended), and reading
 * restarts at that inner BEGIN, so the complete block after it is read rather than swallowed
 * into the broken one. Linear in the text.
 *
 * A truncated block of that label goes to `onTruncated` when given (the fleet audit reports it
 * and reads on); without it, it is refused (`invalid`, naming its line) rather than skipped:
 * those callers load trust anchors and chains, where a silently shortened bundle would go
 * unnoticed.
 */
export function fromPemAll(text: string, label?: string, onTruncated?: (t: TruncatedPem) => void): PemBlock[] {
  const blocks: PemBlock[] = [];
  const re = new RegExp(PEM_BEGIN.source, 'g');
  let line = 1;
  let counted = 0;
  const lineAt = (at: number): number => {
    for (let k = text.indexOf('\n', counted); k >= 0 && k < at; k = text.indexOf('\n', k + 1)) line += 1;
    counted = at;
    return line;
  };
  const truncated = (t: TruncatedPem): void => {
    if (!onTruncated) throw new AppError('invalid', 'pem.truncated', `PEM ${t.label} block at line ${t.line} has no END line`, { line: t.line });
    onTruncated(t);
  };
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const l = m[1] as string;
    const bodyStart = re.lastIndex;
    const next = text.indexOf(PEM_ANY_BEGIN, bodyStart);
    const endLine = `-----END ${l}-----`;
    // Searched only up to the next BEGIN: each stretch of text is searched once.
    const end = (next < 0 ? text.slice(bodyStart) : text.slice(bodyStart, next)).indexOf(endLine);
    const wanted = !label || l === label;
    if (end < 0) {
      if (wanted) truncated({ label: l, line: lineAt(m.index) });
      if (next < 0) break;
      re.lastIndex = next;
      continue;
    }
    if (wanted) blocks.push({ label: l, der: Buffer.from(text.slice(bodyStart, bodyStart + end).replace(/[^A-Za-z0-9+/=]/g, ''), 'base64') });
    re.lastIndex = bodyStart + end + endLine.length;
  }
  return blocks;
}
