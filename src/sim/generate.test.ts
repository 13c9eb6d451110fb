import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEventTime, validateEvent } from '../events/index.js';
import { parsePrefix, prefixContains, readRegistryCsv } from '../registry/index.js';
import { generate } from './generate.js';
import { SCENARIOS, type SimResult } from './types.js';

const work = mkdtempSync(join(tmpdir(), 'fg-sim-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const small = { devices: 120, days: 1 } as const;
const files = (dir: string): Buffer[] => ['registry.csv', 'events.ndjson', 'truth.json'].map((f) => readFileSync(join(dir, f)));

interface Ev {
  type: string;
  ts: string | number;
  serial?: string;
  phase?: string;
  sourceIp?: string;
  cellId?: string;
  imsi?: string;
  msisdn?: string;
  txId?: string;
  gps?: { lat: number; lon: number };
}

let run: SimResult;
let events: Ev[];

beforeAll(() => {
  run = generate({ dir: join(work, 'base'), seed: 11, ...small });
  events = readFileSync(run.eventsPath, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Ev);
});

describe('sim/generate determinism', () => {
  it('ok/same seed and options give the same bytes', () => {
    const again = generate({ dir: join(work, 'again'), seed: 11, ...small });
    const [a, b] = [files(run.truthPath.replace(/truth\.json$/, '')), files(join(work, 'again'))];
    for (let i = 0; i < 3; i++) expect((a[i] as Buffer).equals(b[i] as Buffer)).toBe(true);
    expect(again.lines).toBe(run.lines);
  });

  it('ok/scenario order does not matter', () => {
    generate({ dir: join(work, 'rev'), seed: 11, ...small, scenarios: [...SCENARIOS].reverse() });
    expect(readFileSync(join(work, 'rev', 'events.ndjson')).equals(readFileSync(run.eventsPath))).toBe(true);
  });

  it('fail/a fleet too small for the scenarios is refused, not a hang', () => {
    expect(() => generate({ dir: join(work, 'tiny'), seed: 1, devices: 4, days: 0.1 })).toThrow(/too few/);
  });

  it('fail/a different seed gives different events and a different registry', () => {
    generate({ dir: join(work, 'other'), seed: 12, ...small });
    const [a, b] = [files(join(work, 'base')), files(join(work, 'other'))];
    expect((a[0] as Buffer).equals(b[0] as Buffer)).toBe(false);
    expect((a[1] as Buffer).equals(b[1] as Buffer)).toBe(false);
  });
});

describe('sim/generate contract conformance', () => {
  it('ok/every line is a valid event (FORMATS.md §1), no blank or malformed line by default', () => {
    const lines = readFileSync(run.eventsPath, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    for (const [i, l] of lines.entries()) {
      const v = validateEvent(JSON.parse(l));
      expect(v.ok, `line ${i + 1}: ${l} ${JSON.stringify(v)}`).toBe(true);
    }
    expect(run.truth.counts.events).toBe(lines.length);
  });

  it('ok/with malformed on, the bad lines the benchmark wants are there', () => {
    const r = generate({ dir: join(work, 'bad'), seed: 11, ...small, malformed: true });
    const lines = readFileSync(r.eventsPath, 'utf8').split('\n').slice(0, -1);
    const bad = lines.filter((l) => {
      try {
        return !validateEvent(JSON.parse(l)).ok;
      } catch {
        return true;
      }
    });
    expect(bad.length).toBe(7);
    expect(r.truth.counts.events).toBe(lines.length - 7);
  });

  it('ok/the registry CSV imports with no row errors', async () => {
    let rows = 0;
    for await (const r of readRegistryCsv([readFileSync(run.registryPath)])) {
      expect(r.ok, JSON.stringify(r)).toBe(true);
      rows++;
    }
    expect(rows).toBe(small.devices);
  });
});

describe('sim/generate traffic shapes', () => {
  const registry = (): Map<string, { prefix: string; lat: number; lon: number }> => {
    const lines = readFileSync(run.registryPath, 'utf8').trim().split('\n').slice(1);
    return new Map(lines.map((l) => {
      const f = l.split(',');
      return [f[0] as string, { lat: Number(f[3]), lon: Number(f[4]), prefix: f[6] as string }];
    }));
  };

  it('ok/benign reboots change the address inside the registered prefix; GPS fixes jitter near the site', () => {
    const reg = registry();
    const bad = new Set([...run.truth.compromised.serials, ...run.truth.expected.map((e) => e.serial)]);
    const addrs = new Map<string, Set<string>>();
    let fixes = 0;
    for (const e of events) {
      if (!e.serial || bad.has(e.serial)) continue;
      const d = reg.get(e.serial);
      expect(d, e.serial).toBeDefined();
      if (e.type === 'femto.session' && e.phase === 'up') {
        expect(prefixContains(parsePrefix((d as { prefix: string }).prefix), e.sourceIp as string), `${e.serial} ${e.sourceIp}`).toBe(true);
        const s = addrs.get(e.serial) ?? new Set();
        addrs.set(e.serial, s.add(e.sourceIp as string));
      }
      if (e.type === 'femto.report' && e.gps) {
        fixes++;
        expect(Math.abs(e.gps.lat - (d as { lat: number }).lat)).toBeLessThan(0.0003);
        expect(Math.abs(e.gps.lon - (d as { lon: number }).lon)).toBeLessThan(0.0003);
      }
    }
    expect(fixes).toBeGreaterThan(100);
    // Over a day, some units reboot onto a new address.
    expect([...addrs.values()].some((s) => s.size > 1)).toBe(true);
  });

  it('ok/relocations are announced by registry.update before the unit comes back', () => {
    const updates = events.filter((e) => e.type === 'registry.update').map((e) => e.serial);
    expect(updates.length).toBeGreaterThan(0);
    for (const s of updates) expect(run.truth.expected.map((e) => e.serial)).toContain(s);
  });

  it('ok/benign payments by day and by night', () => {
    const fraud = new Set(run.truth.fraudTx);
    const hours = events.filter((e) => e.type === 'payment.auth' && !fraud.has(e.txId as string)).map((e) => (new Date(parseEventTime(e.ts)).getUTCHours() + 9) % 24);
    expect(hours.some((h) => h >= 9 && h < 21)).toBe(true);
    expect(hours.some((h) => h < 6 || h >= 22)).toBe(true);
  });
});

describe('sim/generate ground truth', () => {
  it('ok/one rogue per scenario, serials not benign, cells not benign', () => {
    expect(run.truth.rogues.map((r) => r.name)).toEqual([...SCENARIOS]);
    const benignS = new Set(run.truth.benignSerials);
    const benignC = new Set(run.truth.benignCellIds);
    for (const r of run.truth.rogues) {
      for (const s of r.serials) expect(benignS.has(s), s).toBe(false);
      for (const c of r.cellIds) expect(benignC.has(c), c).toBe(false);
      expect(Date.parse(r.end)).toBeGreaterThan(Date.parse(r.start));
    }
  });

  it('ok/each rogue starts with its first event', () => {
    for (const r of run.truth.rogues) {
      const first = events.filter((e) => (e.serial && r.serials.includes(e.serial) && Date.parse(r.start) <= parseEventTime(e.ts)) || (e.cellId && r.cellIds.includes(e.cellId) && e.type === 'ue.attach' && parseEventTime(e.ts) >= Date.parse(r.start)));
      expect(first.length, r.name).toBeGreaterThan(0);
      expect(Math.min(...first.map((e) => parseEventTime(e.ts))), r.name).toBe(Date.parse(r.start));
    }
  });

  it('ok/exposed subscribers are exactly the attaches on compromised cells inside the attack windows', () => {
    for (const r of run.truth.rogues) {
      const [a, b] = [Date.parse(r.start), Date.parse(r.end)];
      for (const c of r.cellIds) {
        const seen = new Set(events.filter((e) => e.type === 'ue.attach' && e.cellId === c && parseEventTime(e.ts) >= a && parseEventTime(e.ts) <= b).map((e) => e.imsi as string));
        // shared-cert: the genuine units keep serving their cells; no rogue radio exposes anyone.
        if (r.name === 'shared-cert') expect(run.truth.exposedImsis[c], c).toEqual([]);
        else expect([...seen].sort(), `${r.name} ${c}`).toEqual(run.truth.exposedImsis[c]);
      }
    }
    expect(run.truth.counts.exposed).toBeGreaterThan(50);
  });

  it('ok/every fraudulent payment is in the stream, by an exposed subscriber, minutes after exposure', () => {
    expect(run.truth.fraudTx.length).toBeGreaterThan(0);
    const exposed = new Set(Object.values(run.truth.exposedImsis).flat());
    const byTx = new Map(events.filter((e) => e.type === 'payment.auth').map((e) => [e.txId as string, e]));
    for (const tx of run.truth.fraudTx) {
      const p = byTx.get(tx);
      expect(p, tx).toBeDefined();
      const imsi = `45008${(p as Ev).msisdn?.slice(6).padStart(10, '0')}`;
      expect(exposed.has(imsi), tx).toBe(true);
    }
  });

  it('fail/no benign payment by a subscriber on a compromised cell within the 2 h before it, once the attack began', () => {
    // A payment-exposure detector rightly flags such a payment, so the truth would call a hit a false positive.
    const startOf = new Map<string, number>();
    for (const r of run.truth.rogues) for (const c of r.cellIds) startOf.set(c, Date.parse(r.start));
    const attaches = new Map<string, { cell: string; t: number }[]>();
    for (const e of events) {
      if (e.type !== 'ue.attach' || !startOf.has(e.cellId as string)) continue;
      const k = (e.imsi as string).slice(5);
      attaches.set(k, [...(attaches.get(k) ?? []), { cell: e.cellId as string, t: parseEventTime(e.ts) }]);
    }
    const fraud = new Set(run.truth.fraudTx);
    const clash = events.filter((e) => {
      if (e.type !== 'payment.auth' || fraud.has(e.txId as string)) return false;
      const t = parseEventTime(e.ts);
      return (attaches.get((e.msisdn as string).slice(6).padStart(10, '0')) ?? []).some((x) => x.t <= t && x.t >= t - 2 * 3_600_000 && t >= (startOf.get(x.cell) as number));
    });
    expect(clash.map((e) => e.txId)).toEqual([]);
  });
});
