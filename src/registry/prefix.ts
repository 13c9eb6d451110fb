/**
 * IP addresses and CIDR prefixes (IPv4 and IPv6) for the registry's `ip_prefixes` and for
 * admission's "does this device connect from its own broadband line" check.
 *
 * Addresses are held as big-endian 32-bit words (one for IPv4, four for IPv6) so that a
 * containment test is a few integer masks, with no BigInt and no allocation per word.
 */
import { AppError } from '../core/errors.js';

/** A CIDR prefix in canonical form: no host bits set. */
export interface Prefix {
  readonly family: 4 | 6;
  /** Prefix length: 0..32 for IPv4, 0..128 for IPv6. */
  readonly length: number;
  /** Network address as unsigned 32-bit words, most significant first (1 word or 4). */
  readonly words: readonly number[];
}

/** A parsed IP address. */
export interface IpAddress {
  readonly family: 4 | 6;
  readonly words: readonly number[];
}

const HEXTET = /^[0-9a-fA-F]{1,4}$/;
const PREFIX_LENGTH = /^(?:0|[1-9]\d{0,2})$/;

/**
 * Dotted-quad IPv4 to a 32-bit word; null unless exactly four decimal octets 0..255 without
 * leading zeros ("010" is octal to inet_aton). Hand-rolled: admission parses one per session.
 */
function parseIpv4Word(text: string): number | null {
  const n = text.length;
  if (n < 7 || n > 15) return null;
  let word = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let k = 0; k < n; k++) {
    const c = text.charCodeAt(k);
    if (c === 46 /* . */) {
      if (digits === 0 || dots === 3) return null;
      word = word * 256 + octet;
      octet = 0;
      digits = 0;
      dots += 1;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return null; // leading zero
      octet = octet * 10 + (c - 48);
      digits += 1;
      if (octet > 255) return null;
    } else {
      return null;
    }
  }
  if (dots !== 3 || digits === 0) return null;
  return word * 256 + octet;
}

/** RFC 4291 §2.2 text forms: full, `::`-compressed, and with a trailing dotted IPv4 part. */
function parseIpv6Words(text: string): number[] | null {
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const parse = (s: string): number[] | null => {
    if (s === '') return [];
    const groups = s.split(':');
    const out: number[] = [];
    for (let k = 0; k < groups.length; k++) {
      const g = groups[k] as string;
      if (k === groups.length - 1 && g.includes('.')) {
        const v4 = parseIpv4Word(g);
        if (v4 === null) return null;
        out.push(v4 >>> 16, v4 & 0xffff);
      } else if (HEXTET.test(g)) {
        out.push(parseInt(g, 16));
      } else {
        return null;
      }
    }
    return out;
  };
  const head = parse(halves[0] as string);
  if (head === null) return null;
  let hextets: number[];
  if (halves.length === 2) {
    const tail = parse(halves[1] as string);
    if (tail === null) return null;
    // A dotted IPv4 part may only end the address.
    if ((halves[0] as string).includes('.')) return null;
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return null; // "::" stands for at least one group (RFC 4291 §2.2 item 2)
    hextets = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    if (head.length !== 8) return null;
    hextets = head;
  }
  const words: number[] = [];
  for (let k = 0; k < 8; k += 2) words.push(((hextets[k] as number) * 0x10000 + (hextets[k + 1] as number)) >>> 0);
  return words;
}

/**
 * Parses an IPv4 or IPv6 address; returns null when `text` is not one. An IPv6 zone
 * (`fe80::1%eth0`, as Node reports link-local peers) is accepted and ignored.
 */
export function parseIp(text: string): IpAddress | null {
  if (typeof text !== 'string' || text.length === 0 || text.length > 64) return null;
  if (!text.includes(':')) {
    const v4 = parseIpv4Word(text);
    return v4 === null ? null : { family: 4, words: [v4] };
  }
  const zone = text.indexOf('%');
  const bare = zone >= 0 ? text.slice(0, zone) : text;
  if (zone >= 0 && zone === text.length - 1) return null;
  const words = parseIpv6Words(bare);
  return words === null ? null : { family: 6, words };
}

/** Whether `text` is an IPv4 or IPv6 address. */
export function isIp(text: string): boolean {
  return parseIp(text) !== null;
}

/** Mask of the first `bits` (0..32) bits of a 32-bit word. */
function maskOf(bits: number): number {
  return bits <= 0 ? 0 : bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
}

function maskWords(words: readonly number[], length: number): number[] {
  return words.map((w, k) => (w & maskOf(length - 32 * k)) >>> 0);
}

function malformed(text: string, why: string): AppError {
  const shown = text.length > 80 ? `${text.slice(0, 80)}…` : text;
  return new AppError('invalid', 'prefix.malformed', `${JSON.stringify(shown)} is not a CIDR prefix: ${why}`, {
    prefix: shown,
  });
}

/**
 * Parses `address/length` (IPv4 or IPv6). A bare address is read as a host prefix (/32 or
 * /128). A prefix with host bits set is refused rather than silently widened or narrowed,
 * because `175.198.195.7/24` usually means the operator pasted an address, not a network.
 * @throws AppError invalid `prefix.malformed` or `prefix.host_bits`
 */
export function parsePrefix(text: string): Prefix {
  if (typeof text !== 'string') throw malformed(String(text), 'not a string');
  const t = text.trim();
  const slash = t.indexOf('/');
  const addrText = slash >= 0 ? t.slice(0, slash) : t;
  if (addrText.includes('%')) throw malformed(text, 'a zone index has no place in a prefix');
  const addr = parseIp(addrText);
  if (addr === null) throw malformed(text, `${JSON.stringify(addrText.slice(0, 64))} is not an IPv4 or IPv6 address`);
  const max = addr.family === 4 ? 32 : 128;
  let length = max;
  if (slash >= 0) {
    const lenText = t.slice(slash + 1);
    if (!PREFIX_LENGTH.test(lenText) || Number(lenText) > max) {
      throw malformed(text, `prefix length must be a whole number 0..${max}`);
    }
    length = Number(lenText);
  }
  const words = maskWords(addr.words, length);
  if (words.some((w, k) => w !== addr.words[k])) {
    const suggestion = formatPrefix({ family: addr.family, length, words });
    throw new AppError(
      'invalid',
      'prefix.host_bits',
      `${t} has host bits set; did you mean ${suggestion}?`,
      { prefix: t, suggestion },
    );
  }
  return { family: addr.family, length, words };
}

/** Canonical text of an address: dotted quad, or RFC 5952 §4 IPv6 (lowercase, longest zero run as ::). */
export function formatIp(ip: IpAddress): string {
  const w = ip.words;
  if (ip.family === 4) {
    const v = w[0] as number;
    return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  }
  // RFC 5952 §5: IPv4-mapped addresses keep their dotted IPv4 tail.
  if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff) {
    return `::ffff:${formatIp({ family: 4, words: [w[3] as number] })}`;
  }
  const hextets: number[] = [];
  for (const word of w) hextets.push(word >>> 16, word & 0xffff);
  // RFC 5952 §4.2: compress the longest run of two or more zero groups, the first if tied.
  let bestStart = -1;
  let bestLen = 1;
  for (let k = 0; k < 8; ) {
    if (hextets[k] !== 0) {
      k += 1;
      continue;
    }
    let end = k;
    while (end < 8 && hextets[end] === 0) end += 1;
    if (end - k > bestLen) {
      bestStart = k;
      bestLen = end - k;
    }
    k = end;
  }
  const hex = (from: number, to: number): string =>
    hextets
      .slice(from, to)
      .map((h) => h.toString(16))
      .join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

/** Canonical text of a prefix, e.g. `175.198.195.0/24` or `2001:db8::/32`. */
export function formatPrefix(p: Prefix): string {
  return `${formatIp(p)}/${p.length}`;
}

/** Parses and re-formats a prefix: the canonical text stored in the registry. */
export function normalizePrefix(text: string): string {
  return formatPrefix(parsePrefix(text));
}

function isV4Mapped(w: readonly number[]): boolean {
  return w[0] === 0 && w[1] === 0 && w[2] === 0xffff;
}

/** The IPv4 address behind `ip`: itself, or the tail of an IPv4-mapped address (RFC 4291 §2.5.5.2). */
function v4Of(ip: IpAddress): number | undefined {
  const w = ip.words;
  return ip.family === 4 ? w[0] : isV4Mapped(w) ? w[3] : undefined;
}

/** The IPv4 prefix behind `p`: itself, or an IPv6 prefix inside ::ffff:0:0/96. */
function v4PrefixOf(p: Prefix): { net: number; length: number } | undefined {
  if (p.family === 4) return { net: p.words[0] as number, length: p.length };
  if (p.length >= 96 && isV4Mapped(p.words)) return { net: p.words[3] as number, length: p.length - 96 };
  return undefined;
}

/**
 * Containment, judging an IPv4 peer by its IPv4 address however it is written: dual-stack
 * sockets report IPv4 peers as ::ffff:a.b.c.d. An IPv6 prefix that merely covers
 * ::ffff:0:0/96 (such as ::/0) does not admit IPv4 peers: fail closed.
 */
function containsParsed(p: Prefix, ip: IpAddress): boolean {
  const v4 = v4Of(ip);
  if (v4 !== undefined) {
    const p4 = v4PrefixOf(p);
    return p4 !== undefined && ((v4 & maskOf(p4.length)) >>> 0) === p4.net;
  }
  if (p.family === 4) return false;
  const pw = p.words;
  const w = ip.words;
  for (let k = 0; k < 4; k++) {
    const bits = p.length - 32 * k;
    if (bits <= 0) return true;
    if ((((w[k] as number) & maskOf(bits)) >>> 0) !== pw[k]) return false;
  }
  return true;
}

/** Whether the address `ip` lies in prefix `p`; false when `ip` is not an address. */
export function prefixContains(p: Prefix, ip: string): boolean {
  const parsed = parseIp(ip);
  return parsed !== null && containsParsed(p, parsed);
}

/**
 * A set of prefixes with a fast `contains`: one hash lookup per distinct prefix length
 * present (at most 33 for IPv4), instead of a scan over every prefix.
 */
export class PrefixSet {
  /** IPv4 and IPv4-mapped prefixes: IPv4 prefix length → network addresses. */
  private readonly v4 = new Map<number, Set<number>>();
  private v4Lengths: number[] = [];
  /** IPv6 prefixes (other than IPv4-mapped ones), few in practice, so a linear scan. */
  private readonly v6: Prefix[] = [];
  private readonly all: Prefix[] = [];
  /**
   * The last address asked of `contains` and its answer. A device reports from the same
   * line address for hours (detection asks for every report and session of the fleet), so
   * this one-entry memo answers most calls with a string comparison instead of parsing the
   * address and probing one hash set per prefix length. Reset by `add`.
   */
  private lastIp: string | undefined;
  private lastIn = false;

  constructor(prefixes: Iterable<Prefix | string> = []) {
    for (const p of prefixes) this.add(p);
  }

  /** Adds a prefix (parsed or text). @throws AppError when the text is not a prefix. */
  add(prefix: Prefix | string): void {
    const p = typeof prefix === 'string' ? parsePrefix(prefix) : prefix;
    this.lastIp = undefined;
    this.all.push(p);
    const p4 = v4PrefixOf(p);
    if (p4 === undefined) {
      this.v6.push(p);
      return;
    }
    let set = this.v4.get(p4.length);
    if (set === undefined) {
      set = new Set();
      this.v4.set(p4.length, set);
      // Longest first, so match() reports the most specific prefix.
      this.v4Lengths = [...this.v4.keys()].sort((a, b) => b - a);
    }
    set.add(p4.net);
  }

  get size(): number {
    return this.all.length;
  }

  /** The prefixes, in insertion order. */
  prefixes(): readonly Prefix[] {
    return this.all;
  }

  /** Whether any prefix contains `ip`; false when `ip` is not an address. */
  contains(ip: string): boolean {
    if (ip === this.lastIp) return this.lastIn;
    const r = this.match(ip) !== undefined;
    this.lastIp = ip;
    this.lastIn = r;
    return r;
  }

  /**
   * The most specific IPv4 prefix (IPv4-mapped prefixes given in their IPv4 form), or the
   * first IPv6 prefix, containing `ip`.
   */
  match(ip: string): Prefix | undefined {
    const parsed = parseIp(ip);
    if (parsed === null) return undefined;
    const v4 = v4Of(parsed);
    if (v4 !== undefined) {
      for (const length of this.v4Lengths) {
        const net = (v4 & maskOf(length)) >>> 0;
        if (this.v4.get(length)?.has(net) === true) return { family: 4, length, words: [net] };
      }
      return undefined;
    }
    for (const p of this.v6) if (containsParsed(p, parsed)) return p;
    return undefined;
  }
}
