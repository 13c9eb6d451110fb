import { describe, expect, it } from 'vitest';
import type { AuditEventInput } from '../audit-log/index.js';
import { fixedClock } from '../core/clock.js';
import { createGatewayRotation, endpointOf, nextEpoch, normalizeEndpoint } from './rotation.js';
import { admissionConfigSchema } from './config.js';
import type { GatewayRotationStore, RotationEpoch } from './store.js';

const POOL = ['127.0.0.2:9443', '127.0.0.3:9443', '127.0.0.4:9443'];
const T = Date.parse('2025-08-05T00:00:00Z');
const H = 3_600_000;

function memoryStore(): GatewayRotationStore & { epochs: RotationEpoch[] } {
  const epochs: RotationEpoch[] = [];
  return {
    epochs,
    latest: () => Promise.resolve(epochs[epochs.length - 1] ?? null),
    recent: (n) => Promise.resolve(epochs.slice(-n)),
    append(e, prev) {
      if ((epochs[epochs.length - 1]?.seq ?? 0) !== prev) return Promise.resolve(null);
      const x = { ...e, seq: prev + 1 };
      epochs.push(x);
      return Promise.resolve(x);
    },
  };
}

function setup(pool = POOL, acceptOnMainListener = true) {
  const store = memoryStore();
  const audit: AuditEventInput[] = [];
  const clock = fixedClock(new Date(T));
  const r = createGatewayRotation(
    { store, clock, audit: { record: (e) => (audit.push(e), Promise.resolve()) } },
    { pool, intervalSeconds: 24 * 3600, graceSeconds: 3600, pollMs: 1000, acceptOnMainListener },
  );
  return { r, store, audit, clock };
}

describe('gateway rotation', () => {
  it('ok/the first epoch makes the first address current and announces the second', async () => {
    const { r, audit } = setup();
    await r.ensure();
    expect(r.announcement()).toEqual({ current: '127.0.0.2:9443', next: '127.0.0.3:9443', rotatesAt: new Date(T + 24 * H).toISOString() });
    expect(r.status('127.0.0.2:9443', false, T)).toEqual({ state: 'current' });
    expect(r.status('127.0.0.3:9443', false, T)).toEqual({ state: 'next' });
    expect(audit).toMatchObject([{ action: 'gateway.rotated', actor: 'system', details: { reason: 'first epoch', retired: null } }]);
  });

  it('ok/rotating retires the current address: it answers during the grace period, then it is stale', async () => {
    const { r, clock } = setup();
    await r.ensure();
    clock.advance(H);
    const e = await r.rotate('cli:op', 'drill');
    expect(e).toMatchObject({ seq: 2, current: '127.0.0.3:9443', next: '127.0.0.4:9443', actor: 'cli:op' });
    expect(r.status('127.0.0.2:9443', false, T + H + 1000)).toEqual({ state: 'grace', retiredAt: T + H, graceUntil: T + 2 * H });
    expect(r.status('127.0.0.2:9443', false, T + 2 * H)).toEqual({ state: 'stale', retiredAt: T + H, staleSince: T + 2 * H });
    expect(r.view().retired()).toEqual([{ endpoint: '127.0.0.2:9443', retiredAt: new Date(T + H).toISOString(), staleSince: new Date(T + 2 * H).toISOString() }]);
  });

  it('ok/the pool cycles: a retired address is fine again once it is announced as next', async () => {
    const { r } = setup();
    await r.ensure();
    await r.rotate('t', 'a');
    const e = await r.rotate('t', 'b');
    expect(e).toMatchObject({ current: '127.0.0.4:9443', next: '127.0.0.2:9443' });
    expect(r.status('127.0.0.2:9443', false, T + 100 * H)).toEqual({ state: 'next' });
    expect(r.status('127.0.0.3:9443', false, T + 100 * H).state).toBe('stale');
  });

  it('ok/the schedule rotates once rotatesAt has passed, and not before', async () => {
    const { r, clock, store } = setup();
    await r.ensure();
    clock.advance(24 * H - 1);
    await r.tick();
    expect(store.epochs).toHaveLength(1);
    clock.advance(1);
    await r.tick();
    expect(store.epochs.map((e) => e.reason)).toEqual(['first epoch', 'schedule']);
  });

  it('ok/a rotation written by another process (the CLI) is picked up by refresh', async () => {
    const a = setup();
    await a.r.ensure();
    const other = createGatewayRotation({ store: a.store, clock: a.clock, audit: { record: () => Promise.resolve() } }, { pool: [], intervalSeconds: 60, graceSeconds: 0, pollMs: 1000, acceptOnMainListener: true });
    // the CLI has no pool in its config: it rotates over the pool stored with the epoch
    await other.rotate('cli', 'forced');
    expect(a.r.announcement().current).toBe('127.0.0.2:9443');
    await a.r.refresh();
    expect(a.r.announcement().current).toBe('127.0.0.3:9443');
  });

  it('fail/compare-and-set: an append after a stale sequence number is refused', async () => {
    const { r, store } = setup();
    await r.ensure();
    expect(await store.append(nextEpoch(POOL, null, T, 1000, 'x', 'y'), 0)).toBeNull();
  });

  it('fail/an address that was never announced, a foreign one, the main listener when not accepted', async () => {
    const { r } = setup(POOL, false);
    await r.ensure();
    expect(r.status('127.0.0.4:9443', false, T)).toEqual({ state: 'unannounced' });
    expect(r.status('10.0.0.1:9443', false, T)).toEqual({ state: 'foreign' });
    expect(r.status(undefined, true, T)).toEqual({ state: 'foreign' });
    expect(setup().r.status(undefined, true, T)).toEqual({ state: 'no-rotation' });
  });

  it('fail/rotating with no pool anywhere is a clear error', async () => {
    const { r } = setup([]);
    await expect(r.rotate('cli', 'x')).rejects.toThrow(/no gateway address pool/);
  });

  it('ok/endpoints are compared in one canonical form', () => {
    expect(endpointOf('::ffff:127.0.0.2', 9443)).toBe('127.0.0.2:9443');
    expect(endpointOf('2001:DB8::1', 443)).toBe('[2001:db8::1]:443');
    expect(normalizeEndpoint('[2001:DB8::1]:443')).toBe('[2001:db8::1]:443');
  });
});

describe('gateway rotation: a scheduled and a forced rotation at once', () => {
  it('fail/when the operator rotated in between, the scheduled rotation is dropped: one rotation, not two (no address skipped)', async () => {
    const { r: server, store, audit, clock } = setup();
    await server.ensure();
    clock.advance(24 * H + 1); // the scheduled rotation is due
    const cli = createGatewayRotation({ store, clock, audit: { record: (e) => (audit.push(e), Promise.resolve()) } }, { pool: POOL, intervalSeconds: 24 * 3600, graceSeconds: 3600, pollMs: 1000, acceptOnMainListener: true });
    await Promise.all([server.tick(), cli.rotate('cli:op', 'forced')]);
    expect(store.epochs.map((e) => [e.seq, e.current, e.actor])).toEqual([
      [1, '127.0.0.2:9443', 'system'],
      [2, '127.0.0.3:9443', 'cli:op'],
    ]);
    expect(server.announcement()).toMatchObject({ current: '127.0.0.3:9443', next: '127.0.0.4:9443' });
  });
});

describe('rotation config', () => {
  const parse = (pool: string[]) => admissionConfigSchema.safeParse({ rotation: { pool } });
  it('ok/no pool (no rotation), or three addresses and more', () => {
    expect(parse([]).success).toBe(true);
    expect(parse(POOL).success).toBe(true);
  });
  it('fail/a pool of one or two addresses, or one address twice, is refused with why', () => {
    for (const pool of [POOL.slice(0, 1), POOL.slice(0, 2)]) {
      const r = parse(pool);
      expect(r.success).toBe(false);
      expect(r.error?.issues[0]?.message).toMatch(/at least 3 addresses/);
    }
    expect(parse([...POOL, POOL[0] as string]).error?.issues[0]?.message).toMatch(/each address may appear once/);
  });
});
