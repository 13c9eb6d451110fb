/**
 * X.501 distinguished names (RFC 5280 §4.1.2.4): encode an RDNSequence, parse one back
 * to a flat attribute list, and render it for people and logs.
 */
import { OID } from './oids.js';
import { TAG, children, derError, expectTag, oid, printable, readOid, readString, seq, set, utf8, type Node } from './der.js';

/** One attribute of a name: its type as a dotted OID and its value as text. */
export interface NameAttr {
  type: string;
  value: string;
}

// X.680 §41.4: the PrintableString alphabet.
const PRINTABLE_RE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/** True when `s` fits a PrintableString (X.680 §41.4). */
export function isPrintableString(s: string): boolean {
  return PRINTABLE_RE.test(s);
}

/**
 * Encodes a Name as an RDNSequence with one attribute per RDN, in the order given.
 * RFC 5280 §4.1.2.4 / Appendix A: countryName and serialNumber are PrintableString
 * (we fall back to UTF8String when the value does not fit); every other attribute is
 * UTF8String, which RFC 5280 says conforming CAs MUST use for new names.
 */
export function encodeName(attrs: readonly NameAttr[]): Buffer {
  const rdns: Buffer[] = [];
  for (const a of attrs) rdns.push(set(seq(oid(a.type), encodeValue(a))));
  return seq(...rdns);
}

function encodeValue(a: NameAttr): Buffer {
  if ((a.type === OID.countryName || a.type === OID.serialNumber) && isPrintableString(a.value)) return printable(a.value);
  return utf8(a.value);
}

/**
 * Parses the Name TLV at `node` of `buf` into its attributes, in encoding order.
 * Multi-valued RDNs are flattened. Throws `der.malformed` (callers rewrap it).
 */
export function parseName(buf: Buffer, node: Node): NameAttr[] {
  expectTag(node, TAG.SEQUENCE, 'Name', node.start);
  const out: NameAttr[] = [];
  for (const rdn of children(buf, node)) {
    expectTag(rdn, TAG.SET, 'RelativeDistinguishedName', rdn.start);
    const atvs = children(buf, rdn);
    // X.501: an RDN is a SET SIZE (1..MAX).
    if (atvs.length === 0) throw derError('empty RelativeDistinguishedName', rdn.start);
    for (const atv of atvs) {
      expectTag(atv, TAG.SEQUENCE, 'AttributeTypeAndValue', atv.start);
      const [t, v, extra] = children(buf, atv);
      if (!t || !v || extra) throw derError('AttributeTypeAndValue must have a type and one value', atv.start);
      out.push({ type: readOid(buf, t), value: readString(buf, v) });
    }
  }
  return out;
}

const SHORT_NAMES: Readonly<Record<string, string>> = {
  [OID.commonName]: 'CN',
  [OID.serialNumber]: 'serialNumber',
  [OID.countryName]: 'C',
  [OID.organizationName]: 'O',
  [OID.organizationalUnitName]: 'OU',
};

// RFC 4514 §2.4: characters escaped anywhere, plus a leading '#' or space and a trailing space.
function escapeValue(v: string): string {
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i] as string;
    const code = c.charCodeAt(0);
    if (code < 0x20) out += `\\${code.toString(16).padStart(2, '0')}`;
    else if ('\\,+"<>;='.includes(c) || (i === 0 && (c === '#' || c === ' ')) || (i === v.length - 1 && c === ' ')) out += `\\${c}`;
    else out += c;
  }
  return out;
}

/**
 * Renders a name RFC 4514-style for display, e.g. `CN=KTF000001, serialNumber=KTF000001`.
 * Unlike RFC 4514 it keeps encoding order (as `openssl x509 -subject` does), which is
 * what operators compare against.
 */
export function nameToString(attrs: readonly NameAttr[]): string {
  return attrs.map((a) => `${SHORT_NAMES[a.type] ?? a.type}=${escapeValue(a.value)}`).join(', ');
}
