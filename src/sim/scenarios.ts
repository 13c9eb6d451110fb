/**
 * The attack scenarios: each prepares its lines ahead of time (they are written when the
 * clock reaches them) and declares its rogue entities and window for the ground truth.
 */
import type { LineMeta } from './heap.js';
import type { Rogue, ScenarioName } from './types.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const KST = 9 * HOUR;

export type Status = 'active' | 'provisioned' | 'decommissioned' | 'lost';

export interface Device {
  i: number;
  serial: string;
  cell: string;
  status: Status;
  kind: 'home' | 'venue';
  silent: boolean;
  lat: number;
  lon: number;
  gps: boolean;
  /** JSON-quoted expected neighbours, ready to splice into a report */
  nbq: string[];
  nb: string[];
  net: string;
  prefix: string;
  host: number;
  fp: string;
  sw: string;
  endpoint: string;
  session: number;
  down: boolean;
  /** household phones (home) or regulars (venue), as subscriber indexes */
  subs: number[];
}

/** What a scenario may use from the generator. */
export interface Kit {
  start: number;
  span: number;
  end: number;
  rand: () => number;
  between(a: number, b: number): number;
  exp(mean: number): number;
  hex(words: number): string;
  devices: readonly Device[];
  /** an active home unit no other scenario or relocation uses */
  homeNotUsed(): Device;
  /** the first device with this status no scenario uses; made so if the fleet has none */
  firstOf(st: Status): Device;
  anySub(): number;
  imsi(s: number): string;
  /** the (lat, lon) macro cells a scan there hears, JSON-quoted */
  nearMacroQ(lat: number, lon: number, n: number): string[];
  bounds: { lat0: number; lat1: number; lon0: number; lon1: number };
  later(t: number, body: string, meta?: LineMeta): void;
  sessionBody(d: Device, phase: 'up' | 'down'): string;
  attachBody(cell: string, s: number): string;
  imsBody(cell: string, s: number, ipsec: boolean): string;
  /** a payment body and its txId */
  payBody(s: number): { body: string; txId: string };
  reportBody(d: Device, lat: number, lon: number, gps: boolean, nbq: readonly string[], sourceIp: string, cell: string): string;
  /**
   * Marks a cell as compromised in [from, to]: benign payments keep clear of its subscribers
   * and, when a rogue radio serves it (`exposes`, default true), attaches in the window expose them.
   */
  compromise(cell: string, from: number, to: number, exposes?: boolean): void;
}

const ip = (d: Device): string => `${d.net}.${d.host}`;

/**
 * The first time at or after `t` that falls between 00:00 and 03:00 KST (attacks in the
 * incident came at night), if the attack still fits in the span; otherwise `t`.
 */
function night(k: Kit, t: number, duration: number): number {
  const h = Math.floor((t + KST) / HOUR) % 24;
  if (h < 3) return t;
  const dayStart = t - ((t + KST) % (24 * HOUR));
  const n = dayStart + 24 * HOUR + k.between(0, 2 * HOUR);
  return n + duration < k.end - 10 * MIN ? n : t;
}

/** Strangers' phones on a rogue cell: attaches, IMS registrations (some without IPsec), and fraud payments minutes later. */
function strangersOn(k: Kit, cell: (t: number) => string, from: number, to: number, perHour: number, noIpsec: number, payShare: number): void {
  for (let t = from + k.exp(HOUR / perHour); t < to; t += k.exp(HOUR / perHour)) {
    const s = k.anySub();
    const c = cell(t);
    k.later(t, k.attachBody(c, s), { exposed: { cellId: c, imsi: k.imsi(s) } });
    if (k.rand() < 0.7) k.later(t + k.between(1_000, 20_000), k.imsBody(c, s, k.rand() >= noIpsec));
    if (k.rand() < payShare) {
      const p = k.payBody(s);
      k.later(t + k.between(2 * MIN, 15 * MIN), p.body, { fraudTx: p.txId });
    }
  }
}

type Inject = (k: Kit) => Omit<Rogue, 'start' | 'end'> & { a: number; b: number };

const INJECT: Record<ScenarioName, Inject> = {
  // The incident: a lost unit's credential on a rogue cell driven around at night, announcing
  // a new unregistered cell id every half hour, drawing strangers, stripping IMS IPsec, and
  // micropayments authenticated minutes after exposure.
  'lost-credential-rogue': (k) => {
    const lost = k.firstOf('lost');
    const dur = Math.min(5 * HOUR, k.span * 0.15);
    const a = night(k, k.start + k.span * 0.3, dur);
    const b = a + dur;
    const rogue: Device = { ...lost, net: '211.36.140', host: 77, session: 99 };
    const cells: string[] = [];
    for (let j = 0; j * 30 * MIN < dur; j++) cells.push(`45008-${299_000_001 + j}`);
    const cellAt = (t: number): string => cells[Math.min(cells.length - 1, Math.floor((t - a) / (30 * MIN)))] as string;
    for (const c of cells) k.compromise(c, a, b);
    k.later(a, k.sessionBody({ ...rogue, cell: cells[0] as string }, 'up'));
    let lat = lost.lat;
    let lon = lost.lon;
    const heading = k.rand() * 2 * Math.PI;
    for (let t = a + 2 * MIN; t < b; t += 5 * MIN) {
      // ~25 km/h: 2 km per report
      lat = Math.min(k.bounds.lat1 - 0.01, Math.max(k.bounds.lat0 + 0.01, lat + Math.cos(heading) * 0.018));
      lon = Math.min(k.bounds.lon1 - 0.01, Math.max(k.bounds.lon0 + 0.01, lon + Math.sin(heading) * 0.022));
      k.later(t, k.reportBody(rogue, lat, lon, true, k.nearMacroQ(lat, lon, 4), ip(rogue), cellAt(t)));
    }
    strangersOn(k, cellAt, a + MIN, b, 220, 0.85, 0.03);
    k.later(b, k.sessionBody({ ...rogue, cell: cells[0] as string }, 'down'));
    return { name: 'lost-credential-rogue', serials: [lost.serial], cellIds: cells, a, b };
  },
  // A clone of an active unit's certificate, from another ISP, serving the unit's own cell at
  // night while the real unit is up.
  clone: (k) => {
    const victim = k.homeNotUsed();
    const dur = Math.min(3 * HOUR, k.span * 0.1);
    const a = night(k, k.start + k.span * 0.55, dur);
    const b = a + dur;
    k.compromise(victim.cell, a, b);
    const clone: Device = { ...victim, net: '58.120.33', host: 9, session: 77 };
    k.later(a, k.sessionBody(clone, 'up'));
    for (let t = a + 3 * MIN; t < b; t += 10 * MIN) k.later(t, k.reportBody(clone, 35.1796, 129.0756, true, ['"45008-109000001"', '"45008-109000002"', '"45008-109000003"'], ip(clone), victim.cell));
    strangersOn(k, () => victim.cell, a + MIN, b, 100, 0.7, 0);
    k.later(b, k.sessionBody(clone, 'down'));
    return { name: 'clone', serials: [victim.serial], cellIds: [victim.cell], a, b };
  },
  // A unit the registry has never heard of, announcing a cell nobody may serve.
  'unregistered-device': (k) => {
    const a = k.start + k.span * 0.75;
    const b = a + HOUR;
    const unreg: Device = { ...k.homeNotUsed(), serial: 'FGX-UNREG-0001', net: '203.0.113', host: 7, fp: k.hex(8), session: 1 };
    const cell = '45008-299100001';
    k.compromise(cell, a, b);
    k.later(a, k.sessionBody({ ...unreg, cell }, 'up'));
    for (let t = a + MIN; t < b; t += 10 * MIN) k.later(t, k.reportBody(unreg, unreg.lat, unreg.lon, unreg.gps, unreg.nbq, ip(unreg), cell));
    strangersOn(k, () => cell, a + MIN, b, 40, 0.5, 0);
    return { name: 'unregistered-device', serials: [unreg.serial], cellIds: [cell], a, b };
  },
  // A decommissioned unit brings its old session back.
  'decommissioned-return': (k) => {
    const decom = k.firstOf('decommissioned');
    const a = k.start + k.span * 0.4;
    const b = a + HOUR;
    k.compromise(decom.cell, a, b);
    k.later(a, k.sessionBody({ ...decom, session: 5 }, 'up'));
    for (let t = a + MIN; t < b; t += 15 * MIN) k.later(t, k.reportBody(decom, decom.lat, decom.lon, decom.gps, decom.nbq, ip(decom), decom.cell));
    return { name: 'decommissioned-return', serials: [decom.serial], cellIds: [decom.cell], a, b };
  },
  // One certificate presented under several serials: two registered units come up from their
  // own lines with a third unit's certificate (a vendor default, or a key copied around).
  'shared-cert': (k) => {
    const owner = k.homeNotUsed();
    const users = [k.homeNotUsed(), k.homeNotUsed()];
    const a = k.start + k.span * 0.65;
    const b = a + HOUR;
    // The genuine units keep serving their own cells: the credential is compromised, no
    // subscriber is exposed to a rogue radio.
    for (const d of [owner, ...users]) k.compromise(d.cell, a, b, false);
    users.forEach((u, j) => {
      const t = a + j * 5 * MIN;
      const imp: Device = { ...u, fp: owner.fp, session: 500 + j, host: (u.host % 250) + 3 };
      k.later(t, k.sessionBody(imp, 'up'));
      k.later(b, k.sessionBody(imp, 'down'));
    });
    return { name: 'shared-cert', serials: [owner.serial, ...users.map((u) => u.serial)], cellIds: [owner.cell, ...users.map((u) => u.cell)], a, b };
  },
  // A registered unit's identity used from inside its own prefix with a GPS fix and a radio
  // scan that match its site: location and address give nothing away. Behaviour does: a second
  // address at once, a crowd of strangers at night, IMS IPsec stripped.
  'spoofed-gps': (k) => {
    const victim = k.homeNotUsed();
    const dur = Math.min(2 * HOUR, k.span * 0.08);
    const a = night(k, k.start + k.span * 0.8, dur);
    const b = a + dur;
    k.compromise(victim.cell, a, b);
    const imp: Device = { ...victim, host: victim.host > 128 ? victim.host - 100 : victim.host + 100, session: 900 };
    k.later(a, k.sessionBody(imp, 'up'));
    for (let t = a + 2 * MIN; t < b; t += 10 * MIN) k.later(t, k.reportBody(imp, victim.lat, victim.lon, true, victim.nbq, ip(imp), victim.cell));
    strangersOn(k, () => victim.cell, a + MIN, b, 120, 0.8, 0);
    k.later(b, k.sessionBody(imp, 'down'));
    return { name: 'spoofed-gps', serials: [victim.serial], cellIds: [victim.cell], a, b };
  },
};

/** Injects one scenario; returns its rogue entry for the truth file. */
export function inject(name: ScenarioName, k: Kit): Rogue {
  const r = INJECT[name](k);
  return { name: r.name, serials: r.serials, cellIds: r.cellIds, start: new Date(r.a).toISOString(), end: new Date(r.b).toISOString() };
}
