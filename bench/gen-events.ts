/**
 * Seeded, streaming generator of a fleet registry (FORMATS.md §2) and an event stream
 * (FORMATS.md §1) for bench/detect.ts. Same seed, same options: byte-identical files.
 *
 *   npx tsx bench/gen-events.ts OUTDIR [--devices 20000] [--events 5000000] [--seed 1]
 *
 * writes OUTDIR/registry.csv, OUTDIR/events.ndjson and OUTDIR/incidents.json (the injected
 * incidents: serial, cells, start). What the stream holds:
 * - a fleet of mostly `active` home femtocells (a few provisioned, decommissioned, lost; a few
 *   active ones silent, so idle-device has work) and ~3% cafe/office cells with steady crowds;
 * - a session per device at the start, reboots (down, then up from a new address inside the
 *   device's /24), reports every 10-20 min with GPS jitter (when the unit has a fix) and a
 *   subset of its expected macro neighbours;
 * - `ue.attach` of household phones on home cells (more in the evening) and of regulars and
 *   passers-by on cafe/office cells (opening hours), `ims.register` after half of them,
 *   mostly with IPsec, and `payment.auth` by MSISDN after a few;
 * - relocations announced by `registry.update` (down, update, up from the new line);
 * - injected incidents: a lost unit's credential on a roaming rogue cell that strips IPsec,
 *   a clone of an active unit from another ISP at night, an unregistered unit, and a
 *   decommissioned unit coming back;
 * - `ts` as RFC 3339 UTC, RFC 3339 +09:00 and epoch ms; 0.5% of events arrive up to 2 min
 *   late; a few malformed lines, an unknown type and a blank line.
 * The time span follows from the event target (about 1.6 days for 5M events at 20,000
 * devices, at the report and attach rates above); incidents sit at fixed fractions of it.
 * Output is buffered in large writes; memory stays flat whatever the event count.
 */
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

export interface GenOptions {
  dir: string;
  devices?: number;
  events?: number;
  seed?: number;
}

export interface GenResult {
  registryPath: string;
  eventsPath: string;
  devices: number;
  /** lines written to events.ndjson (including the malformed and blank ones) */
  lines: number;
  bytes: number;
  seconds: number;
  spanHours: number;
  incidents: { name: string; serial: string; cellIds: string[]; start: string }[];
}

const MIN = 60_000;
const HOUR = 3_600_000;
const KST = 9 * HOUR;
const START = Date.parse('2025-08-04T12:00:00+09:00');
const WRITE_BYTES = 1 << 22;

// Macro layer: a ~1.1 km grid over Seoul; femtocells hear the macro cells around their site.
const LAT0 = 37.4;
const LON0 = 126.75;
const DLAT = 0.01;
const DLON = 0.0125;
const ROWS = 30;
const COLS = 36;
const macroId = (r: number, c: number): string => `45008-${100_000_000 + r * COLS + c}`;

/** sfc32, seeded through splitmix32: fast, and good enough for traffic shapes. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  const mix = (): number => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = mix();
  let b = mix();
  let c = mix();
  let d = mix();
  return () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}

type Kind = 'home' | 'venue';
type Status = 'active' | 'provisioned' | 'decommissioned' | 'lost';

interface Device {
  i: number;
  serial: string;
  cell: string;
  status: Status;
  kind: Kind;
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

const enum K {
  Report,
  Attach,
  Reboot,
  Up,
  Ims,
  Pay,
  Relocate,
  Line,
}

interface Job {
  /** heap key: when the line is written (event time plus any arrival delay) */
  at: number;
  kind: K;
  d: number;
  s: number;
  cell: string;
  line: string;
}

/**
 * Min-heap on `at`; ties by insertion order so output is deterministic. The keys live in
 * their own arrays (unboxed doubles), so sifting does not chase a pointer per comparison.
 */
class Heap {
  private jobs: Job[] = [];
  private ats: number[] = [];
  private seqs: number[] = [];
  private seq = 0;
  get size(): number {
    return this.jobs.length;
  }
  push(j: Job): void {
    const { jobs, ats, seqs } = this;
    const at = j.at;
    const s = this.seq++;
    let i = jobs.length;
    jobs.push(j);
    ats.push(at);
    seqs.push(s);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pa = ats[p] as number;
      if (pa < at || (pa === at && (seqs[p] as number) < s)) break;
      jobs[i] = jobs[p] as Job;
      ats[i] = pa;
      seqs[i] = seqs[p] as number;
      i = p;
    }
    jobs[i] = j;
    ats[i] = at;
    seqs[i] = s;
  }
  pop(): Job {
    const { jobs, ats, seqs } = this;
    const top = jobs[0] as Job;
    const last = jobs.pop() as Job;
    const la = ats.pop() as number;
    const ls = seqs.pop() as number;
    const n = jobs.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        let c = l;
        if (r < n) {
          const ra = ats[r] as number;
          const la2 = ats[l] as number;
          if (ra < la2 || (ra === la2 && (seqs[r] as number) < (seqs[l] as number))) c = r;
        }
        const ca = ats[c] as number;
        if (la < ca || (la === ca && ls < (seqs[c] as number))) break;
        jobs[i] = jobs[c] as Job;
        ats[i] = ca;
        seqs[i] = seqs[c] as number;
        i = c;
      }
      jobs[i] = last;
      ats[i] = la;
      seqs[i] = ls;
    }
    return top;
  }
}

/**
 * `YYYY-MM-DDTHH:MM:SS.mmm` of a time, without a Date per event: the stream is nearly in
 * order, so the date-and-minute prefix is formatted once per minute.
 */
class MinuteClock {
  private minute = NaN;
  private prefix = '';
  format(t: number): string {
    const m = Math.floor(t / MIN);
    if (m !== this.minute) {
      this.minute = m;
      this.prefix = new Date(m * MIN).toISOString().slice(0, 17);
    }
    const rest = t - m * MIN;
    const s = Math.floor(rest / 1000);
    const ms = rest - s * 1000;
    return `${this.prefix}${s < 10 ? '0' : ''}${s}.${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}`;
  }
}

/** Average events per registered device per day at the rates below (to size the time span). */
const DAILY_PER_DEVICE = 156;

export function generate(opts: GenOptions): GenResult {
  const t0 = process.hrtime.bigint();
  const N = opts.devices ?? 20_000;
  const M = opts.events ?? 5_000_000;
  const rand = prng(opts.seed ?? 1);
  const span = Math.round((M / (N * DAILY_PER_DEVICE)) * 24 * HOUR);
  const END = START + span;
  mkdirSync(opts.dir, { recursive: true });
  const registryPath = join(opts.dir, 'registry.csv');
  const eventsPath = join(opts.dir, 'events.ndjson');

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
  const csv: string[] = ['serial,status,cell_ids,site_lat,site_lon,site_radius_m,ip_prefixes,expected_neighbors,cert_fingerprints,owner'];
  for (let i = 0; i < N; i++) {
    const r = rand();
    const status: Status = r < 0.965 ? 'active' : r < 0.985 ? 'provisioned' : r < 0.995 ? 'decommissioned' : 'lost';
    const lat = LAT0 + between(0.02, ROWS * DLAT - 0.02);
    const lon = LON0 + between(0.02, COLS * DLON - 0.02);
    const nb = nearMacro(lat, lon, int(5, 7));
    const net = `${175 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
    const kind: Kind = rand() < 0.03 ? 'venue' : 'home';
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
    csv.push(`${d.serial},${status},${d.cell},${lat.toFixed(6)},${lon.toFixed(6)},300,${d.prefix},${nb.join(';')},${d.fp},acct-${String(i * 7 + 13).padStart(6, '0')}`);
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
  // Lines go straight into one reused buffer: each line string dies young (no rope of a
  // whole flush kept alive across garbage collections), and writes are 4 MiB each.
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
  const later = (t: number, body: string): void => {
    heap.push({ at: t, kind: K.Line, d: -1, s: -1, cell: '', line: `{${body},"ts":${ts(t)},"id":"x${seq++}"}` });
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
  const payBody = (s: number): string => {
    const m = rand();
    return `"type":"payment.auth","txId":"tx${String(seq).padStart(10, '0')}","msisdn":"${subMsisdn[s]}","amountMinor":${pick(AMOUNTS)},"currency":"KRW","method":"${m < 0.6 ? 'sms-otp' : m < 0.9 ? 'ars' : 'pin'}","merchant":"${pick(MERCHANTS)}"`;
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
  const incidentDevs = new Set<number>();
  const homeNotUsed = (): Device => {
    for (;;) {
      const d = pick(homes);
      if (!incidentDevs.has(d.i)) {
        incidentDevs.add(d.i);
        return d;
      }
    }
  };
  // Relocations announced by the registry (benign).
  for (let k = 0; k < 5; k++) job(START + span * (0.15 + 0.12 * k), K.Relocate, homeNotUsed().i);

  // ------------------------------------------------------------ incidents
  const incidents: GenResult['incidents'] = [];
  const strangersOn = (cell: string, from: number, to: number, perHour: number, noIpsec: number, payShare: number): void => {
    for (let t = from + exp(HOUR / perHour); t < to; t += exp(HOUR / perHour)) {
      const s = anySub();
      later(t, attachBody(cell, s));
      if (rand() < 0.7) later(t + between(1_000, 20_000), imsBody(cell, s, rand() >= noIpsec));
      if (rand() < payShare) later(t + between(2 * MIN, 15 * MIN), payBody(s));
    }
  };
  const firstOf = (st: Status): Device | undefined => devices.find((d) => d.status === st && !incidentDevs.has(d.i));
  // 1. A lost unit's credential on a cell driven around at night, stripping IMS IPsec.
  const lost = firstOf('lost');
  if (lost) {
    const a = START + span * 0.3;
    const b = a + Math.min(5 * HOUR, span * 0.15);
    const rogue = { ...lost, net: '211.36.140', host: 77 };
    const cell = '45008-299000001';
    later(a, sessionBody({ ...rogue, cell, session: 99 }, 'up'));
    let lat = lost.lat;
    let lon = lost.lon;
    const heading = rand() * 2 * Math.PI;
    for (let t = a + 2 * MIN; t < b; t += 5 * MIN) {
      // ~25 km/h: 2 km per report
      lat = Math.min(LAT0 + ROWS * DLAT - 0.01, Math.max(LAT0 + 0.01, lat + Math.cos(heading) * 0.018));
      lon = Math.min(LON0 + COLS * DLON - 0.01, Math.max(LON0 + 0.01, lon + Math.sin(heading) * 0.022));
      later(t, reportBody(rogue, lat, lon, true, nearMacro(lat, lon, 4).map((x) => `"${x}"`), ip(rogue), cell));
    }
    strangersOn(cell, a + MIN, b, 220, 0.85, 0.03);
    later(b, sessionBody({ ...rogue, cell, session: 99 }, 'down'));
    incidents.push({ name: 'lost-credential-rogue', serial: lost.serial, cellIds: [cell], start: new Date(a).toISOString() });
    incidentDevs.add(lost.i);
  }
  // 2. A clone of an active unit, from another ISP, serving the unit's own cell at night.
  {
    const victim = homeNotUsed();
    const a = START + span * 0.55;
    const b = a + Math.min(3 * HOUR, span * 0.1);
    const clone = { ...victim, net: '58.120.33', host: 9, session: 77 };
    later(a, sessionBody(clone, 'up'));
    for (let t = a + 3 * MIN; t < b; t += 10 * MIN) later(t, reportBody(clone, 35.1796, 129.0756, true, ['"45008-109000001"', '"45008-109000002"', '"45008-109000003"'], ip(clone), victim.cell));
    strangersOn(victim.cell, a + MIN, b, 100, 0.7, 0.03);
    later(b, sessionBody(clone, 'down'));
    incidents.push({ name: 'clone', serial: victim.serial, cellIds: [victim.cell], start: new Date(a).toISOString() });
  }
  // 3. A unit the registry has never heard of, announcing a cell nobody may serve.
  {
    const a = START + span * 0.75;
    const unreg: Device = { ...homeNotUsed(), serial: 'FGX-UNREG-0001', net: '203.0.113', host: 7, fp: hex(8), session: 1 };
    const cell = '45008-299000002';
    later(a, sessionBody({ ...unreg, cell }, 'up'));
    for (let t = a + MIN; t < a + HOUR; t += 10 * MIN) later(t, reportBody(unreg, unreg.lat, unreg.lon, unreg.gps, unreg.nbq, ip(unreg), cell));
    strangersOn(cell, a + MIN, a + HOUR, 40, 0.5, 0);
    incidents.push({ name: 'unregistered-device', serial: unreg.serial, cellIds: [cell], start: new Date(a).toISOString() });
  }
  // 4. A decommissioned unit brings its old session back.
  const decom = firstOf('decommissioned');
  if (decom) {
    const a = START + span * 0.4;
    later(a, sessionBody({ ...decom, session: 5 }, 'up'));
    for (let t = a + MIN; t < a + HOUR; t += 15 * MIN) later(t, reportBody(decom, decom.lat, decom.lon, decom.gps, decom.nbq, ip(decom), decom.cell));
    incidents.push({ name: 'decommissioned-return', serial: decom.serial, cellIds: [decom.cell], start: new Date(a).toISOString() });
  }
  // Malformed lines, an unknown type and a blank line, spread through the file.
  const BAD = [
    '{"type":"ue.attach","cellId":"45008-200000001","imsi":"4500800',
    '{"type":"ue.attach","cellId":"45008-200000002","imsi":"450080000000002","ts":"2025-13-45T99:00:00Z","id":"bad1"}',
    '{"type":"radio.weird","ts":"2025-08-05T00:00:00Z","id":"bad2"}',
    '{"type":"femto.report","ts":"2025-08-05T00:00:00Z","id":"bad3"}',
    'not json at all',
    '',
    '{"type":"payment.auth","txId":"t","msisdn":"+821000000000","amountMinor":1.5,"currency":"KRW","ts":1754300000000,"id":"bad4"}',
  ];
  const badEvery = Math.max(1, Math.floor(M / (BAD.length + 1)));
  let nextBad = badEvery;
  let badIdx = 0;

  // ------------------------------------------------------------ run the clock
  while (heap.size > 0) {
    const j = heap.pop();
    const t = j.at;
    if (t >= END) break;
    if (lines >= nextBad && badIdx < BAD.length) {
      write(BAD[badIdx++] as string);
      nextBad += badEvery;
    }
    const d = (j.d >= 0 ? devices[j.d] : devices[0]) as Device;
    switch (j.kind) {
      case K.Line:
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
        emit(t, payBody(j.s));
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
  writeFileSync(join(opts.dir, 'incidents.json'), JSON.stringify(incidents, null, 2) + '\n');
  return {
    registryPath,
    eventsPath,
    devices: N,
    lines,
    bytes,
    seconds: Number(process.hrtime.bigint() - t0) / 1e9,
    spanHours: span / HOUR,
    incidents,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { devices: { type: 'string', default: '20000' }, events: { type: 'string', default: '5000000' }, seed: { type: 'string', default: '1' } },
  });
  const dir = positionals[0];
  if (!dir) {
    console.error('usage: npx tsx bench/gen-events.ts OUTDIR [--devices N] [--events M] [--seed S]');
    process.exit(2);
  }
  const r = generate({ dir, devices: Number(values.devices), events: Number(values.events), seed: Number(values.seed) });
  console.log(
    `${r.devices} devices, ${r.lines} event lines (${(r.bytes / 2 ** 20).toFixed(0)} MiB) over ${r.spanHours.toFixed(1)} h in ${r.seconds.toFixed(1)} s -> ${r.registryPath}, ${r.eventsPath}`,
  );
  for (const i of r.incidents) console.log(`  incident ${i.name}: ${i.serial} ${i.cellIds.join(' ')} from ${i.start}`);
}
