/**
 * Rate accounting of refusals whose identity no certificate proved. Such a refusal names
 * whatever serial and cell ids the client claimed, and a client needs no certificate to be
 * refused; admission publishes none of them to detection (a claimed serial must not raise
 * alerts, or responses, against a real device), records and audits every one, and passes each
 * through this limiter: within a source prefix's rate they are noise, past it the prefix is
 * flooding and the limiter counts what came past the rate so that one summary per source prefix
 * per minute reaches the audit log. (`allowed` is whether a refusal was within the rate.)
 *
 * Buckets are kept per source prefix (/24 IPv4, /56 IPv6 by default: one subscriber line or
 * one small network), in a table of bounded size evicting the least recently used, plus one
 * bucket over all sources so that rotating through many IPv6 prefixes (each a fresh, full
 * bucket) is bounded too.
 */
import { formatPrefix, parsePrefix, type Prefix } from '../registry/index.js';

export interface RefusalEventLimits {
  /** events (refusals) per minute a source prefix may publish, refilled continuously */
  perMinute: number;
  /** bucket size: refusals a quiet source prefix may publish at once */
  burst: number;
  /** prefix length that groups IPv4 sources into one bucket (32: per address) */
  ipv4PrefixLength: number;
  /** prefix length that groups IPv6 sources into one bucket (128: per address) */
  ipv6PrefixLength: number;
  /** source prefixes tracked at most; the least recently seen is evicted first */
  maxSources: number;
  /** refusals per minute over all sources (also its burst) */
  totalPerMinute: number;
}

/** What was held back for one source prefix, for the audit log. */
export interface Suppression {
  sourcePrefix: string;
  /** refusals whose events were not published */
  suppressed: number;
  /** times (ms) of the first and last of them */
  firstAt: number;
  lastAt: number;
}

export interface TakeResult {
  /** the refusal's events may be published */
  allowed: boolean;
  /** a summary due now (the first suppression after a quiet minute) */
  summary: Suppression | null;
  /** the summary of a source evicted to make room, if it had suppressions not yet reported */
  evicted: Suppression | null;
}

/** Summaries of one source prefix are at most this far apart. */
export const SUMMARY_INTERVAL_MS = 60_000;
/** The key of a source that is not an IP address (never expected: fail closed, one shared bucket). */
export const UNKNOWN_SOURCE = 'unknown';

/**
 * Tokens are counted in 1/60,000ths so that a refill (elapsed ms × tokens per minute) is a
 * whole number and buckets never fall short of a token by a floating-point rounding.
 */
const TOKEN = 60_000;

interface Bucket {
  /** in 1/TOKEN of a token */
  tokens: number;
  refilledAt: number;
  suppressed: number;
  firstAt: number;
  lastAt: number;
  /** when the last summary was due (-Infinity: never) */
  summaryAt: number;
}

function mask(words: readonly number[], length: number): number[] {
  return words.map((w, k) => {
    const bits = length - 32 * k;
    return bits <= 0 ? 0 : bits >= 32 ? w : (w & ((0xffffffff << (32 - bits)) >>> 0)) >>> 0;
  });
}

/**
 * The source prefix an address is counted under: `a.b.c.0/24`, `2001:db8:0:100::/56` with the
 * default lengths. An IPv4-mapped IPv6 address counts as its IPv4 address; a zone index is
 * ignored; anything that is not an address is {@link UNKNOWN_SOURCE}.
 */
export function sourcePrefixOf(ip: string, ipv4Length: number, ipv6Length: number): string {
  let p: Prefix;
  try {
    const zone = ip.indexOf('%');
    p = parsePrefix(zone >= 0 ? ip.slice(0, zone) : ip);
  } catch {
    return UNKNOWN_SOURCE;
  }
  if (p.length !== (p.family === 4 ? 32 : 128)) return UNKNOWN_SOURCE; // a prefix, not an address
  const w = p.words;
  if (p.family === 6 && w[0] === 0 && w[1] === 0 && w[2] === 0xffff) return formatPrefix({ family: 4, length: ipv4Length, words: mask([w[3] as number], ipv4Length) });
  const length = p.family === 4 ? ipv4Length : ipv6Length;
  return formatPrefix({ family: p.family, length, words: mask(w, length) });
}

/** A token bucket refilled at `perMinute` tokens a minute up to `size` tokens. */
function refill(b: { tokens: number; refilledAt: number }, nowMs: number, perMinute: number, size: number): void {
  const elapsed = Math.floor(nowMs - b.refilledAt);
  // A clock that steps back refills nothing (and does not drain either).
  if (elapsed > 0) b.tokens = Math.min(size * TOKEN, b.tokens + elapsed * perMinute);
  b.refilledAt = Math.max(b.refilledAt, nowMs);
}

function summaryOf(key: string, b: Bucket): Suppression {
  return { sourcePrefix: key, suppressed: b.suppressed, firstAt: b.firstAt, lastAt: b.lastAt };
}

/**
 * The limiter. Time is passed in (event handlers pass the admission clock), so it is tested
 * without waiting. Not thread-safe, and need not be: admission runs on one event loop.
 */
export class RefusalEventLimiter {
  /** insertion order is recency order: a source is re-inserted each time it is seen */
  private readonly buckets = new Map<string, Bucket>();
  private readonly total: { tokens: number; refilledAt: number };

  constructor(private readonly limits: RefusalEventLimits) {
    this.total = { tokens: limits.totalPerMinute * TOKEN, refilledAt: -Infinity };
  }

  /** Source prefixes tracked now. */
  get size(): number {
    return this.buckets.size;
  }

  /** The key `sourceIp` is counted under. */
  keyOf(sourceIp: string): string {
    return sourcePrefixOf(sourceIp, this.limits.ipv4PrefixLength, this.limits.ipv6PrefixLength);
  }

  /** Takes one token for a refusal from `sourceIp`, or counts it as suppressed. */
  take(sourceIp: string, nowMs: number): TakeResult {
    const key = this.keyOf(sourceIp);
    let evicted: Suppression | null = null;
    let b = this.buckets.get(key);
    if (b) {
      this.buckets.delete(key);
    } else {
      if (this.buckets.size >= this.limits.maxSources) evicted = this.evictOldest();
      b = { tokens: this.limits.burst * TOKEN, refilledAt: nowMs, suppressed: 0, firstAt: 0, lastAt: 0, summaryAt: -Infinity };
    }
    this.buckets.set(key, b);
    refill(b, nowMs, this.limits.perMinute, this.limits.burst);
    if (this.total.refilledAt === -Infinity) this.total.refilledAt = nowMs;
    refill(this.total, nowMs, this.limits.totalPerMinute, this.limits.totalPerMinute);
    if (b.tokens >= TOKEN && this.total.tokens >= TOKEN) {
      b.tokens -= TOKEN;
      this.total.tokens -= TOKEN;
      return { allowed: true, summary: null, evicted };
    }
    if (b.suppressed === 0) b.firstAt = nowMs;
    b.suppressed++;
    b.lastAt = nowMs;
    return { allowed: false, summary: this.summaryIfDue(key, b, nowMs, false), evicted };
  }

  /**
   * Summaries due at `nowMs` (a minute after the source's last one), or every pending one
   * when `all` (shutdown). Also forgets sources whose bucket is full again and that have
   * nothing to report: they are as good as new.
   */
  flush(nowMs: number, all = false): Suppression[] {
    const out: Suppression[] = [];
    for (const [key, b] of this.buckets) {
      const s = this.summaryIfDue(key, b, nowMs, all);
      if (s) out.push(s);
      refill(b, nowMs, this.limits.perMinute, this.limits.burst);
      if (b.suppressed === 0 && b.tokens >= this.limits.burst * TOKEN && nowMs - b.summaryAt >= SUMMARY_INTERVAL_MS) this.buckets.delete(key);
    }
    return out;
  }

  private summaryIfDue(key: string, b: Bucket, nowMs: number, force: boolean): Suppression | null {
    if (b.suppressed === 0 || (!force && nowMs - b.summaryAt < SUMMARY_INTERVAL_MS)) return null;
    const s = summaryOf(key, b);
    b.suppressed = 0;
    b.summaryAt = nowMs;
    return s;
  }

  private evictOldest(): Suppression | null {
    const oldest = this.buckets.entries().next().value;
    if (!oldest) return null;
    const [key, b] = oldest;
    this.buckets.delete(key);
    return b.suppressed > 0 ? summaryOf(key, b) : null;
  }
}
