/**
 * Gateway address rotation. The seized rogue unit of the incident still held the address of
 * the authentication server: here the address devices must use changes on a schedule, the
 * next one is announced to admitted devices ahead of time, and a retired address keeps
 * answering only for a grace period. After it, whoever connects there missed every
 * announcement: not a live, trusted device (`stale-endpoint`).
 */
import type { AuditSink } from '../audit-log/index.js';
import type { Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { GatewayRotationStore, RotationEpoch } from './store.js';
import type { GatewayAnnouncement } from './types.js';

export type EndpointStatus =
  | { state: 'no-rotation' }
  | { state: 'current' | 'next' }
  | { state: 'bootstrap' }
  | { state: 'grace'; retiredAt: number; graceUntil: number }
  | { state: 'stale'; retiredAt: number; staleSince: number }
  | { state: 'unannounced' }
  | { state: 'foreign' };

/** Canonical `host:port`: lowercase, IPv4-mapped IPv6 shown as IPv4, IPv6 in brackets. */
export function endpointOf(host: string, port: number): string {
  let h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h.startsWith('::ffff:') && h.includes('.')) h = h.slice(7);
  return `${h.includes(':') ? `[${h}]` : h}:${port}`;
}

/** Canonical form of a configured `host:port`. */
export function normalizeEndpoint(text: string): string {
  const i = text.lastIndexOf(':');
  return endpointOf(text.slice(0, i), Number(text.slice(i + 1)));
}

/** The epoch after `prev` over `pool`: the announced `next` becomes current. */
export function nextEpoch(pool: readonly string[], prev: RotationEpoch | null, nowMs: number, intervalMs: number, actor: string, reason: string): Omit<RotationEpoch, 'seq'> {
  if (pool.length === 0) throw new AppError('invalid', 'gateway.no_pool', 'no gateway address pool is configured (admission.rotation.pool)');
  const at = (i: number): string => pool[((i % pool.length) + pool.length) % pool.length] as string;
  let ci: number;
  if (prev === null || !pool.includes(prev.current)) ci = 0;
  else if (pool.includes(prev.next) && prev.next !== prev.current) ci = pool.indexOf(prev.next);
  else ci = pool.indexOf(prev.current) + 1;
  return {
    current: at(ci),
    next: at(ci + 1),
    pool: [...pool],
    startedAt: new Date(nowMs).toISOString(),
    rotatesAt: new Date(nowMs + intervalMs).toISOString(),
    actor,
    reason,
  };
}

/**
 * What the epochs say about each address (pure). An address was retired when the epoch
 * after its last one as `current` began; it is fine again once announced as `next`.
 */
export class RotationView {
  private readonly retiredAt = new Map<string, number>();
  constructor(
    readonly latest: RotationEpoch | null,
    epochs: readonly RotationEpoch[],
    private readonly pool: readonly string[],
    private readonly graceMs: number,
    private readonly acceptMain: boolean,
  ) {
    for (let i = 0; i + 1 < epochs.length; i++) {
      const e = epochs[i] as RotationEpoch;
      const after = epochs[i + 1] as RotationEpoch;
      if (after.current !== e.current) this.retiredAt.set(e.current, Date.parse(after.startedAt));
    }
  }

  status(endpoint: string | undefined, mainListener: boolean, nowMs: number): EndpointStatus {
    if (this.pool.length === 0 || this.latest === null) return { state: 'no-rotation' };
    if (mainListener) return this.acceptMain ? { state: 'bootstrap' } : { state: 'foreign' };
    if (endpoint === undefined) return { state: 'foreign' };
    if (endpoint === this.latest.current) return { state: 'current' };
    if (endpoint === this.latest.next) return { state: 'next' };
    const r = this.retiredAt.get(endpoint);
    if (r !== undefined) {
      const until = r + this.graceMs;
      return nowMs < until ? { state: 'grace', retiredAt: r, graceUntil: until } : { state: 'stale', retiredAt: r, staleSince: until };
    }
    return this.pool.includes(endpoint) ? { state: 'unannounced' } : { state: 'foreign' };
  }

  announcement(): GatewayAnnouncement {
    const l = this.latest;
    return l === null || this.pool.length === 0 ? { current: null, next: null, rotatesAt: null } : { current: l.current, next: l.next, rotatesAt: l.rotatesAt };
  }

  /** Retired addresses, with when they went stale (the end of their grace period). */
  retired(): { endpoint: string; retiredAt: string; staleSince: string }[] {
    const out: { endpoint: string; retiredAt: string; staleSince: string }[] = [];
    for (const [endpoint, r] of this.retiredAt) {
      if (this.latest && (endpoint === this.latest.current || endpoint === this.latest.next)) continue;
      out.push({ endpoint, retiredAt: new Date(r).toISOString(), staleSince: new Date(r + this.graceMs).toISOString() });
    }
    return out;
  }
}

export interface RotationSettings {
  pool: readonly string[];
  intervalSeconds: number;
  graceSeconds: number;
  pollMs: number;
  acceptOnMainListener: boolean;
}

export interface GatewayRotationDeps {
  store: GatewayRotationStore;
  audit: AuditSink;
  clock: Clock;
  logger?: Logger;
}

/**
 * The rotation as a service: the server polls the store (the CLI rotates from another
 * process), rotates on schedule, and answers `status(endpoint)` from memory on the hot path.
 */
export function createGatewayRotation(deps: GatewayRotationDeps, s: RotationSettings) {
  const { store, audit, clock } = deps;
  const pool = s.pool.map(normalizeEndpoint);
  const intervalMs = s.intervalSeconds * 1000;
  let view = new RotationView(null, [], pool, s.graceSeconds * 1000, s.acceptOnMainListener);
  let timer: NodeJS.Timeout | null = null;
  let busy = false;

  async function refresh(): Promise<RotationView> {
    const latest = await store.latest();
    if (latest?.seq !== view.latest?.seq) {
      // Enough history that every pool address's last turn as current is in it.
      const epochs = await store.recent(2 * Math.max(pool.length, latest?.pool.length ?? 0) + 2);
      view = new RotationView(latest, epochs, pool.length ? pool : (latest?.pool ?? []), s.graceSeconds * 1000, s.acceptOnMainListener);
    }
    return view;
  }

  /**
   * A new epoch after the latest one. With `onlyAfterSeq` (a scheduled rotation) it is made only
   * while the latest epoch is still that one: when another process (an operator's forced
   * rotation) got in first, that rotation stands and this one is dropped (null), so one due
   * rotation never becomes two.
   */
  async function rotateFrom(actor: string, reason: string, onlyAfterSeq?: number): Promise<RotationEpoch | null> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const prev = await store.latest();
      if (onlyAfterSeq !== undefined && (prev?.seq ?? 0) !== onlyAfterSeq) {
        await refresh();
        return null;
      }
      const usePool = pool.length ? pool : (prev?.pool ?? []);
      const e = await store.append(nextEpoch(usePool, prev, clock.now().getTime(), intervalMs, actor, reason), prev?.seq ?? 0);
      if (e) {
        await audit.record({ action: 'gateway.rotated', actor, subject: e.current, outcome: 'success', details: { seq: e.seq, current: e.current, next: e.next, retired: prev?.current ?? null, rotatesAt: e.rotatesAt, reason } });
        await refresh();
        return e;
      }
    }
    throw new AppError('conflict', 'gateway.rotation_contended', 'the rotation state kept changing underneath; try again');
  }

  async function rotate(actor: string, reason: string): Promise<RotationEpoch> {
    return (await rotateFrom(actor, reason)) as RotationEpoch;
  }

  /** Starts the first epoch, or a new one when the configured pool no longer holds the current address. */
  async function ensure(): Promise<void> {
    if (pool.length === 0) return;
    const latest = await store.latest();
    if (latest === null) await rotate('system', 'first epoch');
    else if (!pool.includes(latest.current)) await rotate('system', 'pool changed');
    else await refresh();
  }

  async function tick(): Promise<void> {
    await refresh();
    const l = view.latest;
    if (pool.length && l && clock.now().getTime() >= Date.parse(l.rotatesAt)) await rotateFrom('system', 'schedule', l.seq);
  }

  return {
    ensure,
    refresh,
    rotate,
    tick,
    pool: (): readonly string[] => pool,
    view: (): RotationView => view,
    status: (endpoint: string | undefined, mainListener: boolean, nowMs: number): EndpointStatus => view.status(endpoint, mainListener, nowMs),
    announcement: (): GatewayAnnouncement => view.announcement(),
    /** Polls the store and rotates on schedule until stopped. */
    start(): () => void {
      timer = setInterval(() => {
        if (busy) return;
        busy = true;
        void tick()
          .catch((e: unknown) => deps.logger?.error({ err: String(e) }, 'gateway rotation poll failed'))
          .finally(() => (busy = false));
      }, s.pollMs);
      timer.unref();
      return () => {
        if (timer) clearInterval(timer);
        timer = null;
      };
    },
  };
}

export type GatewayRotation = ReturnType<typeof createGatewayRotation>;
