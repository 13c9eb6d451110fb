import type { AuditSink } from '../audit-log/index.js';

/**
 * Failed-attempt limiter for enrollment requests (per serial and per client address): a
 * sliding window of failure timestamps per key. In memory, one server. EST consults it only
 * for a request that is being refused anyway (see `createEst`): it turns a source's or a
 * serial's run of refusals into cheap, aggregated 429s, and never refuses a request whose
 * credential checked out, so failures nobody can attribute to a credential cannot lock a
 * device out. (Tokens are 192 random bits: guessing is not what it is for.)
 */
export function createFailureLimiter(opts: { max: number; windowMs: number; now: () => number }) {
  const failures = new Map<string, number[]>();
  const prune = (key: string, t: number): number[] => {
    const list = (failures.get(key) ?? []).filter((x) => x > t - opts.windowMs);
    if (list.length) failures.set(key, list);
    else failures.delete(key);
    return list;
  };
  return {
    /** Seconds until the key may try again, or 0 when it may try now. */
    blockedFor(key: string): number {
      const t = opts.now();
      const list = prune(key, t);
      if (list.length < opts.max) return 0;
      return Math.max(1, Math.ceil(((list[0] ?? t) + opts.windowMs - t) / 1000));
    },
    fail(key: string): void {
      const t = opts.now();
      const list = prune(key, t);
      list.push(t);
      failures.set(key, list);
      if (failures.size > 100_000) {
        // Bound memory under a flood of distinct keys: drop the oldest tracked key.
        const first = failures.keys().next().value;
        if (first !== undefined) failures.delete(first);
      }
    },
    reset(key: string): void {
      failures.delete(key);
    },
  };
}

/** One EST request answered 429, as the audit log keeps it. */
export interface RateLimitedRefusal {
  /** `est.enroll` or `est.reenroll`: the request that was refused */
  request: string;
  /** the limiter key that was over its limit: `ip:<address>` or `serial:<serial>` */
  key: string;
  /** `device:<serial>` when a certificate proved the serial, else `anonymous` */
  actor: string;
  /** the serial the request named (the CSR's, or the one its certificate proved) */
  subject: string;
  /** the refusal the request would have had (`est.token_unknown`, `est.client_cert_required`, …) */
  refusal: string;
  sourceIp: string;
  retryAfterSeconds: number;
}

interface RefusalWindow {
  last: RateLimitedRefusal;
  /** when the last event for this key was written (epoch ms) */
  writtenAt: number;
  /** refusals since that event, not yet in the log */
  pending: number;
  firstPendingAt: number;
}

export interface RateLimitAudit {
  /** Counts a 429; writes `est.rate_limited` at once (and waits for it) when its key has no event in the current window. */
  record(r: RateLimitedRefusal): Promise<void>;
  /** Writes the pending counts of windows that have ended, forgets idle keys; `all` writes every pending count (shutdown). */
  flush(all?: boolean): Promise<void>;
}

/**
 * `est.rate_limited` audit events, at most one per (request, limiter key) per window with a
 * `count`, the way `auth.denied` is kept (api/auth.ts): every 429 is on record, and a flood
 * of them costs one row a minute per key, not a row each. Keys are capped; refusals beyond
 * the cap are counted under one overflow key. A write that fails keeps its count pending for
 * the next flush, so the count is not lost to a busy database.
 */
export function createRateLimitAudit(opts: { audit: AuditSink; now: () => number; windowMs?: number; maxKeys?: number }): RateLimitAudit {
  const windowMs = opts.windowMs ?? 60_000;
  const maxKeys = opts.maxKeys ?? 10_000;
  const windows = new Map<string, RefusalWindow>();

  const write = (r: RateLimitedRefusal, count: number, firstAt: number, now: number): Promise<void> =>
    opts.audit.record({
      action: 'est.rate_limited',
      actor: r.actor,
      subject: r.subject,
      outcome: 'denied',
      details: {
        request: r.request,
        limit: r.key,
        refusal: r.refusal,
        sourceIp: r.sourceIp,
        retryAfterSeconds: r.retryAfterSeconds,
        count,
        firstAt: new Date(firstAt).toISOString(),
        lastAt: new Date(now).toISOString(),
        windowSeconds: windowMs / 1000,
      },
    });

  async function writePending(w: RefusalWindow, now: number): Promise<void> {
    const { pending, firstPendingAt } = w;
    w.writtenAt = now;
    w.pending = 0;
    try {
      await write(w.last, pending, firstPendingAt, now);
    } catch {
      // Kept for the next flush: the count must reach the log eventually.
      if (w.pending === 0) w.firstPendingAt = firstPendingAt;
      w.pending += pending;
    }
  }

  return {
    async record(r) {
      const now = opts.now();
      // Per refusal too: a flood of one kind of refusal must not hide another behind its count.
      let key = `${r.request}\u0000${r.key}\u0000${r.refusal}`;
      let last = r;
      if (!windows.has(key) && windows.size >= maxKeys) {
        key = 'overflow';
        last = { ...r, key: 'overflow', subject: 'est', actor: 'anonymous' };
      }
      const w = windows.get(key);
      if (!w || now - w.writtenAt >= windowMs) {
        // First 429 of a window: on record before the answer goes out, with what was pending.
        const pending = w?.pending ?? 0;
        const firstAt = pending > 0 && w ? w.firstPendingAt : now;
        windows.set(key, { last, writtenAt: now, pending: 0, firstPendingAt: now });
        await write(last, pending + 1, firstAt, now);
        return;
      }
      if (w.pending === 0) w.firstPendingAt = now;
      w.pending++;
      w.last = last;
    },
    async flush(all = false) {
      const now = opts.now();
      for (const [key, w] of windows) {
        if (!all && now - w.writtenAt < windowMs) continue;
        if (w.pending > 0) await writePending(w, now);
        else windows.delete(key);
      }
    },
  };
}
