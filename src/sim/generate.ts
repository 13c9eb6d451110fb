/**
 * Seeded, streaming generator of a fleet registry (FORMATS.md §2), its event stream
 * (FORMATS.md §1) and the ground truth of the attacks injected into it. Same seed, same
 * options: byte-identical files. Memory stays flat whatever the event count: events come
 * off a time-ordered heap of per-device jobs and go out in 4 MiB writes.
 *
 * What the stream holds:
 * - a fleet of mostly `active` home femtocells (a few provisioned, decommissioned, lost; a few
 *   active ones silent) and ~3% cafe/office cells with steady crowds in opening hours;
 * - a session per device at the start, reboots (down, then up from a new address inside the
 *   device's /24), reports every 10-20 min with GPS jitter (when the unit has a fix) and a
 *   subset of its expected macro neighbours;
 * - `ue.attach` of household phones on home cells (more in the evening) and of regulars and
 *   passers-by on cafe/office cells, `ims.register` after half of them, mostly with IPsec,
 *   and `payment.auth` by MSISDN after a few, by day and by night;
 * - relocations announced by `registry.update` (down, update, up from the new line);
 * - the scenarios chosen (scenarios.ts);
 * - `ts` as RFC 3339 UTC, RFC 3339 +09:00 and epoch ms; 0.5% of events arrive up to 2 min
 *   late; with `malformed`, a few malformed lines, an unknown type and a blank line.
 */
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Heap, K, MinuteClock, type LineMeta } from './heap.js';
import { prng } from './prng.js';
import { inject, type Device, type Kit, type Status } from './scenarios.js';
import { buildTruth } from './truth.js';
import { SCENARIOS, type Rogue, type SimOptions, type SimResult } from './types.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const KST = 9 * HOUR;
const START = Date.parse('2025-08-04T12:00:00+09:00');
const WRITE_BYTES = 1 << 22;
/** payment-exposure's default lookback (docs/detection.md): benign payers stay this far from a compromised cell */
const EXPOSURE_LOOKBACK = 2 * HOUR;

// Macro layer: a ~1.1 km grid over Seoul; femtocells hear the macro cells around their site.
const LAT0 = 37.4;
const LON0 = 126.75;
const DLAT = 0.01;
const DLON = 0.0125;
const ROWS = 30;
const COLS = 36;
const macroId = (r: number, c: number): string => `45008-${100_000_000 + r * COLS + c}`;

/** Average events per registered device per day at the rates below (to size the time span). */
const DAILY_PER_DEVICE = 156;

const BAD = [
  '{"type":"ue.attach","cellId":"45008-200000001","imsi":"4500800',
  '{"type":"ue.attach","cellId":"45008-200000002","imsi":"450080000000002","ts":"2025-13-45T99:00:00Z","id":"bad1"}',
  '{"type":"radio.weird","ts":"2025-08-05T00:00:00Z","id":"bad2"}',
  '{"type":"femto.report","ts":"2025-08-05T00:00:00Z","id":"bad3"}',
  'not json at all',
  '',
  '{"type":"payment.auth","txId":"t","msisdn":"+821000000000","amountMinor":1.5,"currency":"KRW","ts":1754300000000,"id":"bad4"}',
];

export function generate(opts: SimOptions): SimResult {
  const t0 = process.hrtime.bigint();
  const N = opts.devices ?? 20_000;
  const M = opts.events ?? 5_000_000;
  const seed = opts.seed ?? 1;
  const rand = prng(seed);
  const span = opts.days !== undefined ? Math.round(opts.days * 24 * HOUR) : Math.round((M / (N * DAILY_PER_DEVICE)) * 24 * HOUR);
  const END = START + span;
  const expectedLines = opts.days !== undefined ? Math.round(N * DAILY_PER_DEVICE * opts.days) : M;
  mkdirSync(opts.dir, { recursive: true });
  const registryPath = join(opts.dir, 'registry.csv');
  const eventsPath = join(opts.dir, 'events.ndjson');
  const truthPath = join(opts.dir, 'truth.json');

  const between = (a: number, b: number): number => a + (b - a) * rand();
  const int = (a: number, b: number): number => a + Math.floor((b - a + 1) * rand());
  const exp = (mean: number): number => -mean * Math.log(1 - rand());
  const hex = (words: number): string => {
    let s = '';
    for (let i = 0; i < words; i++) s += ((rand() * 4294967296) >>> 0).toString(16).padStart(8, '0');
    return s;
  };
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)] as T;

  // ------------------------------------------------------------ subscribers
  const subImsi: string[] = [];
  const subMsisdn: string[] = [];
  const subImei: string[] = [];
  const newSub = (): number => {
    const i = subImsi.length;
    subImsi.push(`45008${String(i).padStart(10, '0')}`);
    subMsisdn.push(`+82101${String(i).padStart(7, '0')}`);
    subImei.push(`35${String(2_000_000_000_000 + ((i * 104_729) % 7_000_000_000_000)).padStart(13, '0')}`);
    return i;
  };

  // ------------------------------------------------------------ fleet
  const nearMacro = (lat: number, lon: number, n: number): string[] => {
    const fr = (lat - LAT0) / DLAT;
    const fc = (lon - LON0) / DLON;
    const cand: { id: string; d: number }[] = [];
    for (let r = Math.floor(fr) - 1; r <= Math.floor(fr) + 2; r++) {
      for (let c = Math.floor(fc) - 1; c <= Math.floor(fc) + 2; c++) {
        cand.push({ id: macroId(((r % ROWS) + ROWS) % ROWS, ((c % COLS) + COLS) % COLS), d: (r + 0.5 - fr) ** 2 + (c + 0.5 - fc) ** 2 });
      }
    }
    cand.sort((a, b) => a.d - b.d);
    return cand.slice(0, n).map((x) => x.id);
  };
  const devices: Device[] = [];
  for (let i = 0; i < N; i++) {
    const r = rand();
    const status: Status = r < 0.965 ? 'active' : r < 0.985 ? 'provisioned' : r < 0.995 ? 'decommissioned' : 'lost';
    const lat = LAT0 + between(0.02, ROWS * DLAT - 0.02);
    const lon = LON0 + between(0.02, COLS * DLON - 0.02);
    const nb = nearMacro(lat, lon, int(5, 7));
    const net = `${175 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
    const kind = rand() < 0.03 ? 'venue' : 'home';
    const d: Device = {
      i,
      serial: `FGB${String(i).padStart(7, '0')}`,
      cell: `45008-${200_000_000 + i}`,
      status,
      kind,
      silent: status === 'active' && rand() < 0.003,
      lat,
      lon,
      gps: rand() < 0.7,
      nb,
      nbq: nb.map((x) => `"${x}"`),
      net,
      prefix: `${net}.0/24`,
      host: int(2, 254),
      fp: hex(8),
      sw: rand() < 0.9 ? 'FW-4.2.1' : 'FW-4.3.0',
      endpoint: rand() < 0.5 ? 'segw-a.fg.example:4500' : 'segw-b.fg.example:4500',
      session: 0,
      down: false,
      subs: [],
    };
    if (kind === 'home') for (let k = int(2, 5); k > 0; k--) d.subs.push(newSub());
    devices.push(d);
  }
  const scenarios = opts.scenarios ?? SCENARIOS;
  // A scenario that needs a lost or decommissioned unit gets one, even in a small fleet:
  // the last home units that are active take the status (before the registry is written).
  const need = (st: Status): void => {
    if (devices.some((d) => d.status === st)) return;
    for (let i = devices.length - 1; i >= 0; i--) {
      const d = devices[i] as Device;
      if (d.status === 'active' && d.kind === 'home' && !d.silent) {
        d.status = st;
        return;
      }
    }
  };
  if (scenarios.includes('lost-credential-rogue')) need('lost');
  if (scenarios.includes('decommissioned-return')) need('decommissioned');
  const csv: string[] = ['serial,status,cell_ids,site_lat,site_lon,site_radius_m,ip_prefixes,expected_neighbors,cert_fingerprints,owner'];
  for (const d of devices) {
    csv.push(`${d.serial},${d.status},${d.cell},${d.lat.toFixed(6)},${d.lon.toFixed(6)},300,${d.prefix},${d.nb.join(';')},${d.fp},acct-${String(d.i * 7 + 13).padStart(6, '0')}`);
  }
  // Passers-by: phones that only ever show up away from home.
  const households = subImsi.length;
  for (let k = Math.round(households * 0.4); k > 0; k--) newSub();
  const anySub = (): number => Math.floor(rand() * subImsi.length);
  for (const d of devices) if (d.kind === 'venue') for (let k = 0; k < 60; k++) d.subs.push(anySub());
  const csvFd = openSync(registryPath, 'w');
  writeSync(csvFd, csv.join('\n') + '\n');
  closeSync(csvFd);

  // ------------------------------------------------------------ output
  // Lines go straight into one reused buffer: each line string dies young, writes are 4 MiB.
  const fd = openSync(eventsPath, 'w');
  const buf = Buffer.allocUnsafe(WRITE_BYTES);
  let used = 0;
  let bytes = 0;
  let lines = 0;
  const flush = (): void => {
    if (used > 0) bytes += writeSync(fd, buf, 0, used);
    used = 0;
  };
  const write = (line: string): void => {
    // Every generated line is ASCII: one byte per character.
    if (used + line.length + 1 > WRITE_BYTES) flush();
    used += buf.write(line, used, 'latin1');
    buf[used++] = 10;
    lines++;
  };

  // ------------------------------------------------------------ ground truth bookkeeping
  /** compromised cells: attack window; attaches inside it expose the subscriber (when a rogue radio serves the cell) */
  const windows = new Map<string, { from: number; to: number; exposes: boolean }>();
  const exposed = new Map<string, Set<string>>();
  const fraudTx: string[] = [];
  /**
   * Subscribers seen on a compromised cell from `lookback` before its attack onwards. A
   * payment-exposure detector rightly flags their later payments, so the benign traffic
   * gives them none: every payment they make is one the truth calls fraud.
   */
  const tainted = new Uint8Array(subImsi.length);
  const imsiIndex = (imsi: string): number => Number(imsi.slice(5));
  const onAttach = (t: number, cell: string, s: number): void => {
    const w = windows.get(cell);
    if (!w || t < w.from - EXPOSURE_LOOKBACK) return;
    tainted[s] = 1;
    if (w.exposes && t >= w.from && t <= w.to) {
      let set = exposed.get(cell);
      if (!set) exposed.set(cell, (set = new Set()));
      set.add(subImsi[s] as string);
    }
  };
  const record = (t: number, meta: LineMeta | undefined): void => {
    if (!meta) return;
    if (meta.exposed) onAttach(t, meta.exposed.cellId, imsiIndex(meta.exposed.imsi));
    if (meta.fraudTx) fraudTx.push(meta.fraudTx);
  };

  let seq = 0;
  const utc = new MinuteClock();
  const kst = new MinuteClock();
  /** FORMATS.md §1 allows three forms of `ts`; the stream mixes them. */
  const ts = (at: number): string => {
    const t = Math.floor(at);
    const r = rand();
    if (r < 0.4) return `"${utc.format(t)}Z"`;
    if (r < 0.7) return `"${kst.format(t + KST)}+09:00"`;
    return String(t);
  };
  const heap = new Heap();
  const job = (at: number, kind: K, d: number, s = -1, cell = ''): void => heap.push({ at, kind, d, s, cell, line: '' });
  /** Emits an event line now, or (0.5% of the time) up to 2 min late. */
  const emit = (t: number, body: string): void => {
    const line = `{${body},"ts":${ts(t)},"id":"e${seq++}"}`;
    if (rand() < 0.005) heap.push({ at: t + between(1_000, 2 * MIN), kind: K.Line, d: -1, s: -1, cell: '', line });
    else write(line);
  };
  /** Lines prepared ahead (incidents, relocations), written at their time. */
  const later = (t: number, body: string, meta?: LineMeta): void => {
    heap.push({ at: t, kind: K.Line, d: -1, s: -1, cell: '', line: `{${body},"ts":${ts(t)},"id":"x${seq++}"}`, ...(meta ? { meta } : {}) });
  };

  const ip = (d: Device): string => `${d.net}.${d.host}`;
  const sessionBody = (d: Device, phase: 'up' | 'down'): string =>
    `"type":"femto.session","serial":"${d.serial}","phase":"${phase}","sourceIp":"${ip(d)}","certFingerprint":"${d.fp}","cellIds":["${d.cell}"],"endpoint":"${d.endpoint}","sessionId":"${d.serial}-${d.session}"`;
  const attachBody = (cell: string, s: number): string => {
    const r = rand();
    return `"type":"ue.attach","cellId":"${cell}","imsi":"${subImsi[s]}"${r < 0.9 ? `,"imei":"${subImei[s]}"` : ''}${r < 0.8 ? `,"msisdn":"${subMsisdn[s]}"` : ''}`;
  };
  const imsBody = (cell: string, s: number, ipsec: boolean): string =>
    `"type":"ims.register","imsi":"${subImsi[s]}"${rand() < 0.8 ? `,"msisdn":"${subMsisdn[s]}"` : ''}${rand() < 0.9 ? `,"cellId":"${cell}"` : ''},"ipsec":${ipsec}`;
  const AMOUNTS = [1_000, 3_300, 5_500, 9_900, 15_000, 30_000, 50_000];
  const MERCHANTS = ['game-a', 'game-b', 'webtoon', 'music', 'giftcard', 'app-store'];
  const payBody = (s: number): { body: string; txId: string } => {
    const m = rand();
    const txId = `tx${String(seq).padStart(10, '0')}`;
    return { txId, body: `"type":"payment.auth","txId":"${txId}","msisdn":"${subMsisdn[s]}","amountMinor":${pick(AMOUNTS)},"currency":"KRW","method":"${m < 0.6 ? 'sms-otp' : m < 0.9 ? 'ars' : 'pin'}","merchant":"${pick(MERCHANTS)}"` };
  };
  const reportBody = (d: Device, lat: number, lon: number, gps: boolean, nbq: readonly string[], sourceIp: string, cell: string): string => {
    // A radio scan hears most of the expected neighbours, in any order.
    const k = Math.max(3, nbq.length - int(0, 2));
    const heard: string[] = [];
    const start = int(0, nbq.length - 1);
    for (let j = 0; j < k; j++) heard.push(nbq[(start + j) % nbq.length] as string);
    const fix = gps ? `,"gps":{"lat":${(lat + (rand() - 0.5) * 0.0004).toFixed(6)},"lon":${(lon + (rand() - 0.5) * 0.0005).toFixed(6)},"accuracyM":${between(4, 40).toFixed(1)}}` : '';
    return `"type":"femto.report","serial":"${d.serial}","sourceIp":"${sourceIp}","cellIds":["${cell}"],"swVersion":"${d.sw}"${fix},"neighbors":[${heard.join(',')}]`;
  };
  const hourKst = (t: number): number => Math.floor((t + KST) / HOUR) % 24;
  /** Household phones come and go more in the evening and less at night. */
  const HOME_WEIGHT = [0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5];
  const nextHomeAttach = (t: number): number => t + exp((40 * MIN) / (HOME_WEIGHT[hourKst(t)] as number));
  /** Cafes and offices: a steady crowd from 08:00 to 22:00 KST, closed at night. */
  const nextVenueAttach = (t: number): number => {
    const h = hourKst(t);
    if (h >= 8 && h < 22) return t + exp(90_000);
    const dayStart = t - ((t + KST) % (24 * HOUR));
    const open = dayStart + 8 * HOUR + (h >= 22 ? 24 * HOUR : 0);
    return open + exp(90_000);
  };
  const afterAttach = (t: number, cell: string, s: number): void => {
    if (rand() < 0.5) heap.push({ at: t + between(1_000, 20_000), kind: K.Ims, d: -1, s, cell, line: '' });
    if (rand() < 0.04) job(t + between(MIN, HOUR), K.Pay, -1, s);
  };

  // ------------------------------------------------------------ schedule the fleet
  const live = devices.filter((d) => d.status === 'active' && !d.silent);
  for (const d of live) {
    const up = START + between(0, 10 * MIN);
    job(up, K.Up, d.i);
    job(up + between(10_000, 15 * MIN), K.Report, d.i);
    job(d.kind === 'home' ? nextHomeAttach(up) : nextVenueAttach(up), K.Attach, d.i);
    job(up + exp(36 * HOUR), K.Reboot, d.i);
  }
  const homes = live.filter((d) => d.kind === 'home');
  const used_ = new Set<number>();
  const homeNotUsed = (): Device => {
    if (homes.every((d) => used_.has(d.i))) throw new Error(`simulator: ${N} devices are too few for the relocations and the scenarios asked for`);
    for (;;) {
      const d = pick(homes);
      if (!used_.has(d.i)) {
        used_.add(d.i);
        return d;
      }
    }
  };
  // Relocations announced by the registry (benign).
  const relocated: string[] = [];
  for (let k = 0; k < 5; k++) {
    const d = homeNotUsed();
    relocated.push(d.serial);
    job(START + span * (0.15 + 0.12 * k), K.Relocate, d.i);
  }

  // ------------------------------------------------------------ scenarios
  const kit: Kit = {
    start: START,
    span,
    end: END,
    rand,
    between,
    exp,
    hex,
    devices,
    homeNotUsed,
    firstOf: (st) => {
      const d = devices.find((x) => x.status === st && !used_.has(x.i));
      if (!d) throw new Error(`simulator: no ${st} device left for a scenario`);
      used_.add(d.i);
      return d;
    },
    anySub,
    imsi: (s) => subImsi[s] as string,
    nearMacroQ: (lat, lon, n) => nearMacro(lat, lon, n).map((x) => `"${x}"`),
    bounds: { lat0: LAT0, lat1: LAT0 + ROWS * DLAT, lon0: LON0, lon1: LON0 + COLS * DLON },
    later,
    sessionBody,
    attachBody,
    imsBody,
    payBody,
    reportBody,
    compromise: (cell, from, to, exposes = true) => windows.set(cell, { from, to, exposes }),
  };
  // Scenarios are injected in the canonical order whatever order they were asked in: same set, same bytes.
  const rogues: Rogue[] = SCENARIOS.filter((s) => scenarios.includes(s)).map((s) => inject(s, kit));

  const badEvery = Math.max(1, Math.floor(expectedLines / (BAD.length + 1)));
  let nextBad = opts.malformed ? badEvery : Infinity;
  let badIdx = 0;
  let nextProgress = 0;

  // ------------------------------------------------------------ run the clock
  while (heap.size > 0) {
    const j = heap.pop();
    const t = j.at;
    if (t >= END) break;
    if (lines >= nextBad && badIdx < BAD.length) {
      write(BAD[badIdx++] as string);
      nextBad += badEvery;
    }
    if (opts.onProgress && lines >= nextProgress) {
      opts.onProgress(t - START, span, lines);
      nextProgress = lines + 65_536;
    }
    const d = (j.d >= 0 ? devices[j.d] : devices[0]) as Device;
    switch (j.kind) {
      case K.Line:
        record(t, j.meta);
        write(j.line);
        break;
      case K.Report:
        if (!d.down) emit(t, reportBody(d, d.lat, d.lon, d.gps, d.nbq, ip(d), d.cell));
        job(t + between(10 * MIN, 20 * MIN), K.Report, d.i);
        break;
      case K.Attach: {
        // A cell whose unit is rebooting serves nobody.
        if (!d.down) {
          const s = d.kind === 'home' ? (rand() < 0.05 ? anySub() : pick(d.subs)) : rand() < 0.7 ? pick(d.subs) : anySub();
          onAttach(t, d.cell, s);
          emit(t, attachBody(d.cell, s));
          afterAttach(t, d.cell, s);
        }
        job(d.kind === 'home' ? nextHomeAttach(t) : nextVenueAttach(t), K.Attach, d.i);
        break;
      }
      case K.Ims:
        emit(t, imsBody(j.cell, j.s, rand() < 0.97));
        break;
      case K.Pay:
        if (!tainted[j.s]) emit(t, payBody(j.s).body);
        break;
      case K.Up:
        d.down = false;
        emit(t, sessionBody(d, 'up'));
        break;
      case K.Reboot:
        // A reboot: the session goes down and comes back from a new address on the same line.
        if (!d.down) {
          emit(t, sessionBody(d, 'down'));
          d.down = true;
          d.session++;
          d.host = int(2, 254);
          job(t + between(30_000, 3 * MIN), K.Up, d.i);
        }
        job(t + exp(36 * HOUR), K.Reboot, d.i);
        break;
      case K.Relocate: {
        // The owner moves house: down, the registry learns the new site and line, up from there.
        if (d.down) {
          job(t + 10 * MIN, K.Relocate, d.i); // not in the middle of a reboot
          break;
        }
        emit(t, sessionBody(d, 'down'));
        d.down = true;
        d.session++;
        d.lat = Math.min(LAT0 + ROWS * DLAT - 0.02, d.lat + 0.06);
        d.lon = Math.min(LON0 + COLS * DLON - 0.02, d.lon + 0.07);
        d.nb = nearMacro(d.lat, d.lon, 6);
        d.nbq = d.nb.map((x) => `"${x}"`);
        d.net = `176.${(d.i >> 8) & 255}.${d.i & 255}`;
        d.prefix = `${d.net}.0/24`;
        later(
          t + MIN,
          `"type":"registry.update","serial":"${d.serial}","siteLat":${d.lat.toFixed(6)},"siteLon":${d.lon.toFixed(6)},"ipPrefixes":["${d.prefix}"],"expectedNeighbors":[${d.nbq.join(',')}]`,
        );
        job(t + 20 * MIN, K.Up, d.i);
        break;
      }
    }
  }
  flush();
  closeSync(fd);
  opts.onProgress?.(span, span, lines);

  const truth = buildTruth(seed, rogues, relocated, fraudTx, exposed, devices, lines - badIdx);
  writeFileSync(truthPath, JSON.stringify(truth, null, 2) + '\n');
  return {
    registryPath,
    eventsPath,
    truthPath,
    devices: N,
    lines,
    bytes,
    seconds: Number(process.hrtime.bigint() - t0) / 1e9,
    spanHours: span / HOUR,
    incidents: rogues.map((r) => ({ name: r.name, serial: r.serials[0] as string, cellIds: r.cellIds, start: r.start })),
    truth,
  };
}
