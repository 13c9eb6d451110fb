/**
 * Failed-attempt limiter for enrollment credentials (per serial and per client address):
 * a sliding window of failure timestamps. In memory: it slows online guessing against one
 * server; tokens are 256-bit, so it is defence in depth, not the only fence.
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
