import { describe, expect, it } from 'vitest';
import { DedupWindow, hashId, hashIdBytes } from './dedup.js';
import { ReorderBuffer } from './reorder.js';
import type { FgEvent } from './types.js';

const MIN = 60_000;
const T0 = Date.parse('2025-08-05T00:00:00Z');
const e = (minutes: number, id?: string): FgEvent => ({ type: 'femto.report', serial: 'KTF1', ts: T0 + minutes * MIN, t: T0 + minutes * MIN, ...(id !== undefined ? { id } : {}) });
const label = (x: FgEvent): string => `${(x.t - T0) / MIN}${x.id ?? ''}`;

/** Deterministic pseudo-random numbers in [0, 1). */
function rng(seed: number): () => number {
  let s = seed;
  return () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
}

function collect(delayMin: number): { buf: ReorderBuffer<FgEvent>; out: FgEvent[] } {
  const out: FgEvent[] = [];
  return { buf: new ReorderBuffer<FgEvent>(delayMin * MIN, (x) => out.push(x)), out };
}

describe('ReorderBuffer', () => {
  it('ok/puts a stream out of order by up to the delay back in time order', () => {
    for (const seed of [1, 2, 3]) {
      const rand = rng(seed);
      const events = Array.from({ length: 2000 }, (_, i) => e(i * 0.25 + rand() * 0.1, `i${i}`));
      const arrival = events.map((x) => ({ x, a: x.t + rand() * 10 * MIN })).sort((p, q) => p.a - q.a).map((p) => p.x);
      const { buf, out } = collect(10);
      for (const x of arrival) buf.push(x);
      expect(buf.size).toBeLessThanOrEqual(10 * 4 + 5);
      buf.flush();
      expect(buf.late).toBe(0);
      expect(out.map(label)).toEqual([...events].sort((p, q) => p.t - q.t).map(label));
    }
  });

  it('ok/equal times are ordered by id whatever the arrival order; without ids by arrival', () => {
    const a = collect(10);
    for (const x of [e(1, 'b'), e(1, 'c'), e(1, 'a'), e(0)]) a.buf.push(x);
    a.buf.flush();
    expect(a.out.map(label)).toEqual(['0', '1a', '1b', '1c']);
    const b = collect(10);
    const first = e(1);
    const second = e(1);
    for (const x of [first, second]) b.buf.push(x);
    b.buf.flush();
    expect(b.out[0]).toBe(first);
    expect(b.out[1]).toBe(second);
  });

  it('ok/holds events until the watermark (newest minus delay) passes them', () => {
    const { buf, out } = collect(10);
    buf.push(e(0, 'a'));
    buf.push(e(5, 'b'));
    expect(out).toEqual([]);
    expect(buf.watermark).toBe(T0 - 5 * MIN);
    buf.push(e(10.5, 'c'));
    expect(out.map(label)).toEqual(['0a']);
    buf.push(e(21, 'd'));
    expect(out.map(label)).toEqual(['0a', '5b', '10.5c']);
    expect(buf.size).toBe(1);
  });

  it('fail/an event older than the watermark is late: emitted at once (never dropped) and counted', () => {
    const { buf, out } = collect(10);
    buf.push(e(0, 'a'));
    buf.push(e(30, 'b'));
    buf.push(e(5, 'late'));
    expect(buf.late).toBe(1);
    expect(out.map(label)).toEqual(['0a', '5late']);
    buf.flush();
    expect(out.map(label)).toEqual(['0a', '5late', '30b']);
  });
});

describe('DedupWindow', () => {
  it('ok/the same id within the window is a duplicate; other ids are not', () => {
    const d = new DedupWindow(60 * MIN);
    expect(d.isDuplicate('a', T0, T0)).toBe(false);
    expect(d.isDuplicate('b', T0, T0)).toBe(false);
    expect(d.isDuplicate('a', T0, T0 + 30 * MIN)).toBe(true);
    expect(d.duplicates).toBe(1);
  });

  it('ok/ids are forgotten once event time passes the window, so memory stays bounded', () => {
    const d = new DedupWindow(60 * MIN);
    let maxSize = 0;
    for (let i = 0; i < 50_000; i++) {
      const t = T0 + i * 1000;
      expect(d.isDuplicate(`id${i}`, t, t)).toBe(false);
      maxSize = Math.max(maxSize, d.size);
    }
    // One event a second, a one-hour window: about 3600 ids held at any time.
    expect(maxSize).toBeLessThanOrEqual(3602);
    expect(d.size).toBeLessThanOrEqual(3602);
    // An id older than the window is no longer remembered.
    expect(d.isDuplicate('id0', T0, T0 + 50_000 * 1000)).toBe(false);
    expect(d.isDuplicate('id49999', T0 + 49_999 * 1000, T0 + 50_000 * 1000)).toBe(true);
  });
});

/** The meaning of DedupWindow, written the obvious way: a Set of live ids and a queue in arrival order. */
class ReferenceDedup {
  private readonly queue: { id: string; t: number }[] = [];
  private head = 0;
  private readonly live = new Set<string>();
  duplicates = 0;

  constructor(private readonly windowMs: number) {}

  isDuplicate(id: string, t: number, now: number): boolean {
    if (this.live.has(id)) {
      this.duplicates++;
      return true;
    }
    this.queue.push({ id, t });
    this.live.add(id);
    while (this.head < this.queue.length && (this.queue[this.head] as { t: number }).t < now - this.windowMs) {
      this.live.delete((this.queue[this.head++] as { id: string }).id);
    }
    return false;
  }

  get size(): number {
    return this.live.size;
  }
}

/** The smallest table has 4096 slots: ids found here share home slots in it (4095 and 0: a chain that wraps). */
function idsWithHomes(prefix: string, homes: readonly number[], count: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) if (homes.includes(hashId(`${prefix}${i}`) & 4095)) out.push(`${prefix}${i}`);
  return out;
}

/**
 * Feeds the same stream to DedupWindow and the reference and checks every answer and size.
 * `step(i)` gives the time advance before event i; ids are mostly fresh, some repeat a recent
 * or an old (maybe expired) id, some come from `pool`; a few arrive late.
 */
function differential(seed: number, events: number, windowMs: number, step: (i: number) => number, pool: readonly string[]): { d: DedupWindow; maxSize: number } {
  const rand = rng(seed);
  const d = new DedupWindow(windowMs);
  const ref = new ReferenceDedup(windowMs);
  const issued: string[] = [];
  let clock = 0;
  let now = 0;
  let maxSize = 0;
  for (let i = 0; i < events; i++) {
    clock += step(i);
    const u = rand();
    let id: string;
    if (u < 0.15 && issued.length > 0) id = issued[issued.length - 1 - Math.floor(rand() * Math.min(issued.length, 3000))] as string;
    else if (u < 0.2 && issued.length > 0) id = issued[Math.floor(rand() * issued.length)] as string;
    else if (u < 0.3 && pool.length > 0) id = pool[Math.floor(rand() * pool.length)] as string;
    else id = `f${i}`;
    issued.push(id);
    const t = rand() < 0.05 ? clock - rand() * windowMs * 0.3 : clock;
    now = Math.max(now, t);
    const got = d.isDuplicate(id, t, now);
    const want = ref.isDuplicate(id, t, now);
    if (got !== want || d.size !== ref.size) throw new Error(`event ${i} (${id}): isDuplicate ${got}, want ${want}; size ${d.size}, want ${ref.size}`);
    maxSize = Math.max(maxSize, d.size);
  }
  expect(d.duplicates).toBe(ref.duplicates);
  expect(ref.duplicates).toBeGreaterThan(events / 20);
  return { d, maxSize };
}

describe('DedupWindow against a reference', () => {
  it('ok/same answers and sizes over a long seeded stream that grows the table past 20,000 ids and shrinks it again', () => {
    const pool = idsWithHomes('p', [4095, 0], 80);
    for (const seed of [7, 8]) {
      // 1 ms apart, then 0.05 ms (a 2 s window holds ~40,000 ids), then 50 ms (a few dozen).
      const { d, maxSize } = differential(seed, 160_000, 2000, (i) => (i < 40_000 ? 1 : i < 130_000 ? 0.05 : 50), pool);
      expect(maxSize).toBeGreaterThan(20_000);
      expect(d.size).toBeLessThan(100);
    }
  });

  it('ok/same answers in the smallest table, with ids crowded onto one home chain that wraps, while expired slots are reused and swept', () => {
    // ~1000 live ids in 4096 slots; fresh ids leave expired slots behind, so the table is swept many times.
    const pool = idsWithHomes('q', [4094, 4095, 0, 1], 200);
    for (const seed of [11, 12, 13]) {
      const { maxSize } = differential(seed, 120_000, 1000, () => 1, pool);
      expect(maxSize).toBeLessThan(2048);
    }
  });
});

describe('DedupWindow collisions', () => {
  it('ok/ids sharing a home are forgotten in queue order while the ones behind them stay findable', () => {
    const crowd = idsWithHomes('c', [4095, 0], 300);
    const d = new DedupWindow(1000);
    crowd.forEach((id, i) => expect(d.isDuplicate(id, i, i)).toBe(false));
    for (let k = 0; k < crowd.length; k++) {
      // A new id at time 1000 + k + 0.5 moves the horizon past crowd[k]: it expires, the rest stay.
      expect(d.isDuplicate(`filler${k}`, 1000 + k + 0.5, 1000 + k + 0.5)).toBe(false);
      let found = 0;
      for (let j = k + 1; j < crowd.length; j++) if (d.isDuplicate(crowd[j] as string, 1000 + k, 1000 + k + 0.5)) found++;
      expect(found).toBe(crowd.length - k - 1);
    }
    expect(d.size).toBe(crowd.length);
    // All of the crowd has expired: each is new again.
    crowd.forEach((id) => expect(d.isDuplicate(id, 2000, 1000 + crowd.length)).toBe(false));
  });

  it('fail/two different ids with the same 32-bit hash are not duplicates of each other', () => {
    // Found by hashing x0000000, x0000001, ... until two collided (1.4M tries: too slow to
    // repeat in every run). Same length, so only the characters tell them apart.
    const [a, b] = ['x0355786', 'x1414240'];
    expect(hashId(a), 'hashId changed: find a new colliding pair').toBe(hashId(b));
    const d = new DedupWindow(1000);
    expect(d.isDuplicate(a, 0, 0)).toBe(false);
    expect(d.isDuplicate(b, 1, 1)).toBe(false);
    expect(d.isDuplicate(a, 2, 2)).toBe(true);
    expect(d.isDuplicate(b, 2, 2)).toBe(true);
    // a expires first (queue order); b must still be found, a must not.
    expect(d.isDuplicate('later', 1000.5, 1000.5)).toBe(false);
    expect(d.isDuplicate(b, 1000.5, 1000.5)).toBe(true);
    expect(d.isDuplicate(a, 1000.5, 1000.5)).toBe(false);
    expect(d.duplicates).toBe(3);
  });
});

describe('DedupWindow on id bytes', () => {
  const bytes = (id: string): Buffer => Buffer.from(`xx${id}y`, 'latin1');

  it('ok/hashIdBytes is hashId of the same ASCII characters', () => {
    for (const id of ['e1', 'x0355786', 'tx550841893052', '~ !"#', 'a'.repeat(256)]) expect(hashIdBytes(bytes(id), 2, id.length)).toBe(hashId(id));
  });

  it('ok/an id given as bytes and the same id given as a string are one id, both ways, colliding hashes included', () => {
    const d = new DedupWindow(1000);
    const [a, b] = ['x0355786', 'x1414240']; // same hash (see above)
    expect(d.isDuplicateBytes(bytes(a), 2, a.length, hashId(a), 0, 0)).toBe(false);
    expect(d.isDuplicate(b, 1, 1)).toBe(false);
    expect(d.isDuplicate(a, 2, 2)).toBe(true);
    expect(d.isDuplicateBytes(bytes(b), 2, b.length, hashId(b), 2, 2)).toBe(true);
    expect(d.isDuplicateBytes(bytes('x035578'), 2, 7, hashId('x035578'), 2, 2)).toBe(false);
    expect(d.duplicates).toBe(2);
  });

  it('ok/a stream given half as bytes gives the answers of the same stream given as strings', () => {
    const r = rng(11);
    const s = new DedupWindow(50);
    const m = new DedupWindow(50);
    for (let i = 0; i < 20_000; i++) {
      const id = `e${Math.floor(r() * 3000)}`;
      const want = s.isDuplicate(id, i / 10, i / 10);
      const got = i % 2 === 0 ? m.isDuplicate(id, i / 10, i / 10) : m.isDuplicateBytes(bytes(id), 2, id.length, hashIdBytes(bytes(id), 2, id.length), i / 10, i / 10);
      expect(got).toBe(want);
    }
    expect(m.size).toBe(s.size);
  });
});
