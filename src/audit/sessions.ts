/**
 * Session and report history (FORMATS.md §1 events, NDJSON) reduced to what the audit
 * judges: when each serial was last seen, which certificates it presented, addresses
 * outside its registered prefixes, GPS fixes away from its site, and sessions that were up
 * at the same time. Streaming: one line at a time, never the whole file.
 *
 * Malformed lines are reported with their line number and skipped; unknown types are
 * counted and skipped; an `id` seen before is skipped. Session overlap is judged per serial
 * after sorting by time, so out-of-order arrival gives the sorted result.
 */
import { createReadStream } from 'node:fs';
import { AppError } from '../core/errors.js';
import { NdjsonSplitter, type NdjsonLine } from '../events/index.js';
import { isIp, PrefixSet, type DeviceInput } from '../registry/index.js';
import { isoTime, parseEventTime } from './event-time.js';
import type { InputProblem, SessionSummary } from './types.js';

/** One `femto.session` edge, kept per serial for the overlap sweep. */
interface SessionEdge {
  t: number;
  up: boolean;
  ip: string;
  fp: string | undefined;
  sid: string | undefined;
}

/** What the history says about one serial (registered or not). */
export interface DeviceUsage {
  firstSeen: number;
  lastSeen: number;
  /** `femto.session` up events and `femto.report` events. */
  connects: number;
  /** Distinct fingerprints presented. */
  certs: string[];
  /** Addresses outside the device's `ip_prefixes` → times seen (at most 16 addresses kept). */
  outsidePrefix: Map<string, number> | undefined;
  /** Farthest GPS fix beyond the site radius, and how many fixes were beyond it. */
  drift: { maxM: number; at: number; lat: number; lon: number; fixes: number } | undefined;
  /** Certificates and addresses of sessions that were up at the same time. */
  overlap: { at: number; certs: Set<string>; ips: Set<string> } | undefined;
  edges: SessionEdge[];
  /**
   * `femto.report` times by source address, as intervals `[a0, b0, a1, b1, ...]` in which
   * consecutive reports are at most the open limit apart (keep-alives of an open session;
   * kept as intervals, not one entry per report, so hourly reports cost almost nothing).
   */
  reports: Map<string, number[]> | undefined;
}

export interface SessionHistory {
  usage: Map<string, DeviceUsage>;
  /** Certificate fingerprint → serials that presented it. */
  presenters: Map<string, string[]>;
  firstTs: number | null;
  lastTs: number | null;
  summary: SessionSummary;
  problems: InputProblem[];
}

const KNOWN_IGNORED = new Set(['ue.attach', 'ims.register', 'payment.auth', 'registry.update']);
const FINGERPRINT = /^[0-9a-f]{64}$/;
const MAX_ADDRESSES = 16;
/** Mean Earth radius (IUGG), metres. */
const EARTH_M = 6_371_008.8;

/** Great-circle distance in metres (haversine). */
export function distanceM(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_M * Math.asin(Math.min(1, Math.sqrt(a)));
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

class Reducer {
  readonly usage = new Map<string, DeviceUsage>();
  readonly presenters = new Map<string, string[]>();
  readonly ids = new Set<string>();
  readonly prefixSets = new Map<string, PrefixSet>();
  readonly summary: SessionSummary;
  readonly problems: InputProblem[] = [];
  firstTs: number | null = null;
  lastTs: number | null = null;

  constructor(
    private readonly file: string,
    private readonly devices: ReadonlyMap<string, DeviceInput>,
    private readonly openMs: number,
  ) {
    this.summary = { file, lines: 0, events: 0, ignored: 0, duplicates: 0, unknownTypes: {}, malformed: 0, firstTs: null, lastTs: null };
  }

  line(text: string, lineNo: number): void {
    this.summary.lines = lineNo;
    if (text.trim().length === 0) return; // FORMATS.md §1: blank lines are ignored
    let event: unknown;
    try {
      event = JSON.parse(text);
    } catch (e) {
      return this.bad(lineNo, `not JSON: ${(e as Error).message}`);
    }
    if (!isObject(event)) return this.bad(lineNo, 'not a JSON object');
    if (!nonEmpty(event.type)) return this.bad(lineNo, 'missing "type"');
    const t = parseEventTime(event.ts);
    if (t === null) return this.bad(lineNo, `"ts" is not an RFC 3339 time with an offset or integer epoch milliseconds`);
    if (event.id !== undefined && !nonEmpty(event.id)) return this.bad(lineNo, '"id" must be a non-empty string');
    const type = event.type;
    if (type !== 'femto.session' && type !== 'femto.report') {
      if (KNOWN_IGNORED.has(type)) this.summary.ignored += 1;
      else this.summary.unknownTypes[type] = (this.summary.unknownTypes[type] ?? 0) + 1;
      return;
    }
    const problem = type === 'femto.session' ? checkSession(event) : checkReport(event);
    if (problem !== null) return this.bad(lineNo, `${type}: ${problem}`);
    if (event.id !== undefined) {
      if (this.ids.has(event.id as string)) {
        this.summary.duplicates += 1;
        return;
      }
      this.ids.add(event.id as string);
    }
    this.summary.events += 1;
    if (this.firstTs === null || t < this.firstTs) this.firstTs = t;
    if (this.lastTs === null || t > this.lastTs) this.lastTs = t;
    const serial = event.serial as string;
    const u = this.usageOf(serial, t);
    if (t < u.firstSeen) u.firstSeen = t;
    if (t > u.lastSeen) u.lastSeen = t;
    const device = this.devices.get(serial);
    const sourceIp = event.sourceIp as string | undefined;
    if (sourceIp !== undefined && device !== undefined) this.judgeSource(u, device, sourceIp);
    if (type === 'femto.session') {
      const up = event.phase === 'up';
      if (up) u.connects += 1;
      const fp = event.certFingerprint === undefined ? undefined : normalizeFingerprint(event.certFingerprint as string);
      if (fp !== undefined) this.presented(u, serial, fp);
      u.edges.push({ t, up, ip: sourceIp as string, fp, sid: event.sessionId as string | undefined });
    } else {
      u.connects += 1;
      if (sourceIp !== undefined) this.reported(u, sourceIp, t);
      const gps = event.gps as { lat: number; lon: number; accuracyM?: number } | undefined;
      if (gps !== undefined && device !== undefined) judgeGps(u, device, gps, t);
    }
  }

  /** A line the splitter refused (longer than its cap): reported, skipped. */
  rejected(l: NdjsonLine): void {
    if ('error' in l) this.bad(l.line, l.error);
  }

  /** The file's line count, blank lines included (the splitter does not hand those over). */
  lines(n: number): void {
    this.summary.lines = n;
  }

  private bad(line: number, message: string): void {
    this.summary.malformed += 1;
    this.problems.push({ source: 'sessions', file: this.file, line, message });
  }

  private usageOf(serial: string, t: number): DeviceUsage {
    let u = this.usage.get(serial);
    if (u === undefined) {
      u = { firstSeen: t, lastSeen: t, connects: 0, certs: [], outsidePrefix: undefined, drift: undefined, overlap: undefined, edges: [], reports: undefined };
      this.usage.set(serial, u);
    }
    return u;
  }

  /** Folds a report's time into its address's intervals: the last one when it reaches it (input is nearly sorted), else a new one. */
  private reported(u: DeviceUsage, ip: string, t: number): void {
    u.reports ??= new Map();
    const iv = u.reports.get(ip);
    if (iv === undefined) {
      u.reports.set(ip, [t, t]);
      return;
    }
    const k = iv.length - 2;
    const a = iv[k] as number;
    const b = iv[k + 1] as number;
    if (t >= a - this.openMs && t <= b + this.openMs) {
      if (t < a) iv[k] = t;
      if (t > b) iv[k + 1] = t;
    } else iv.push(t, t);
  }

  private presented(u: DeviceUsage, serial: string, fp: string): void {
    if (u.certs.includes(fp)) return;
    u.certs.push(fp);
    const list = this.presenters.get(fp);
    if (list === undefined) this.presenters.set(fp, [serial]);
    else list.push(serial);
  }

  private judgeSource(u: DeviceUsage, device: DeviceInput, ip: string): void {
    if (device.ipPrefixes.length === 0) return;
    let set = this.prefixSets.get(device.serial);
    if (set === undefined) {
      set = new PrefixSet(device.ipPrefixes);
      this.prefixSets.set(device.serial, set);
    }
    if (set.contains(ip)) return;
    u.outsidePrefix ??= new Map();
    const n = u.outsidePrefix.get(ip);
    if (n !== undefined) u.outsidePrefix.set(ip, n + 1);
    else if (u.outsidePrefix.size < MAX_ADDRESSES) u.outsidePrefix.set(ip, 1);
  }

  finish(): SessionHistory {
    for (const u of this.usage.values()) {
      sweepOverlaps(u, this.openMs);
      u.edges = []; // judged; free the memory
      u.reports = undefined;
    }
    this.summary.firstTs = this.firstTs === null ? null : isoTime(this.firstTs);
    this.summary.lastTs = this.lastTs === null ? null : isoTime(this.lastTs);
    return { usage: this.usage, presenters: this.presenters, firstTs: this.firstTs, lastTs: this.lastTs, summary: this.summary, problems: this.problems };
  }
}

function normalizeFingerprint(v: string): string {
  return v.replace(/:/g, '').toLowerCase();
}

function checkSession(e: Record<string, unknown>): string | null {
  if (!nonEmpty(e.serial)) return 'missing "serial"';
  if (e.phase !== 'up' && e.phase !== 'down') return '"phase" must be "up" or "down"';
  if (!nonEmpty(e.sourceIp) || !isIp(e.sourceIp)) return '"sourceIp" must be an IPv4 or IPv6 address';
  if (e.certFingerprint !== undefined && (typeof e.certFingerprint !== 'string' || !FINGERPRINT.test(normalizeFingerprint(e.certFingerprint)))) {
    return '"certFingerprint" must be a SHA-256 fingerprint (64 hex digits)';
  }
  if (e.sessionId !== undefined && !nonEmpty(e.sessionId)) return '"sessionId" must be a non-empty string';
  return null;
}

function checkReport(e: Record<string, unknown>): string | null {
  if (!nonEmpty(e.serial)) return 'missing "serial"';
  if (e.sourceIp !== undefined && (!nonEmpty(e.sourceIp) || !isIp(e.sourceIp))) return '"sourceIp" must be an IPv4 or IPv6 address';
  if (e.gps !== undefined) {
    const g = e.gps;
    if (!isObject(g) || typeof g.lat !== 'number' || typeof g.lon !== 'number' || Math.abs(g.lat) > 90 || Math.abs(g.lon) > 180) {
      return '"gps" must be { "lat": -90..90, "lon": -180..180 }';
    }
    if (g.accuracyM !== undefined && (typeof g.accuracyM !== 'number' || !(g.accuracyM >= 0))) return '"gps.accuracyM" must be a non-negative number';
  }
  return null;
}

/** A fix counts as drift when even its accuracy circle lies wholly outside the site radius. */
function judgeGps(u: DeviceUsage, device: DeviceInput, gps: { lat: number; lon: number; accuracyM?: number }, t: number): void {
  if (device.siteLat === null || device.siteLon === null) return;
  const d = distanceM(device.siteLat, device.siteLon, gps.lat, gps.lon);
  if (d - (gps.accuracyM ?? 0) <= device.siteRadiusM) return;
  if (u.drift === undefined) u.drift = { maxM: d, at: t, lat: gps.lat, lon: gps.lon, fixes: 1 };
  else {
    u.drift.fixes += 1;
    if (d > u.drift.maxM) Object.assign(u.drift, { maxM: d, at: t, lat: gps.lat, lon: gps.lon });
  }
}

/** Reports from one address, consecutive ones at most the open limit apart: `[a, b]`. */
interface ReportSpan {
  a: number;
  b: number;
  ip: string;
}

/** The report intervals of a serial, merged per address and sorted by start. */
function reportSpans(reports: Map<string, number[]> | undefined, openMs: number): ReportSpan[] {
  const out: ReportSpan[] = [];
  for (const [ip, iv] of reports ?? []) {
    const spans: ReportSpan[] = [];
    for (let k = 0; k < iv.length; k += 2) spans.push({ a: iv[k] as number, b: iv[k + 1] as number, ip });
    spans.sort((x, y) => x.a - y.a);
    let cur: ReportSpan | undefined;
    for (const s of spans) {
      if (cur !== undefined && s.a <= cur.b + openMs) cur.b = Math.max(cur.b, s.b);
      else out.push((cur = s));
    }
  }
  return out.sort((x, y) => x.a - y.a);
}

/** A session up and not yet closed: open until its last sign of life plus the open limit. */
interface OpenSession {
  edge: SessionEdge;
  until: number;
}

/**
 * Walks one serial's session edges in time order and records sessions that were up at the
 * same time with different certificates or from different addresses: one unit cannot hold
 * two tunnels from two lines, so a second one is a clone. An `up` without its `down`
 * counts as open for `openMs` after its last sign of life: the `up` itself, or a
 * `femto.report` from the session's address (a keep-alive: a unit that keeps reporting from
 * the line it came up on is still there, whatever a lost `down` would say). A re-`up` of the
 * same session (same id, or same address and certificate) replaces it.
 */
function sweepOverlaps(u: DeviceUsage, openMs: number): void {
  if (u.edges.length < 2) return;
  // Array.prototype.sort is stable: equal times keep file order.
  const edges = u.edges.sort((a, b) => a.t - b.t);
  const spans = reportSpans(u.reports, openMs);
  /** per address, the latest report span begun so far */
  const latestSpan = new Map<string, ReportSpan>();
  let open: OpenSession[] = [];
  let next = 0;
  const keepAlive = (s: ReportSpan): void => {
    latestSpan.set(s.ip, s);
    for (const o of open) if (o.edge.ip === s.ip && s.a <= o.until) o.until = Math.max(o.until, s.b + openMs);
  };
  const same = (a: SessionEdge, b: SessionEdge): boolean => (a.sid !== undefined || b.sid !== undefined ? a.sid === b.sid : a.ip === b.ip && a.fp === b.fp);
  for (const e of edges) {
    for (; next < spans.length && (spans[next] as ReportSpan).a <= e.t; next++) keepAlive(spans[next] as ReportSpan);
    if (!e.up) {
      let k = open.findIndex((o) => same(o.edge, e));
      if (k < 0 && e.sid === undefined) k = open.findIndex((o) => o.edge.ip === e.ip);
      if (k >= 0) open.splice(k, 1);
      continue;
    }
    open = open.filter((o) => e.t <= o.until && !same(o.edge, e));
    for (const { edge: o } of open) {
      const certs = o.fp !== undefined && e.fp !== undefined && o.fp !== e.fp;
      const ips = o.ip !== e.ip;
      if (!certs && !ips) continue;
      u.overlap ??= { at: e.t, certs: new Set(), ips: new Set() };
      if (certs) u.overlap.certs.add(o.fp as string).add(e.fp as string);
      if (ips) u.overlap.ips.add(o.ip).add(e.ip);
    }
    // Reports from this address already running at the up keep it alive from the start.
    const s = latestSpan.get(e.ip);
    open.push({ edge: e, until: (s !== undefined && s.b >= e.t ? s.b : e.t) + openMs });
  }
}

/**
 * Reads a session/report history. `devices` gives each serial's prefixes and site.
 * @throws AppError invalid `audit.input_unreadable` when the file cannot be opened
 */
export async function readSessionHistory(
  file: string,
  devices: ReadonlyMap<string, DeviceInput>,
  options: { openMs: number; onBytes?: (bytes: number) => void },
): Promise<SessionHistory> {
  const reducer = new Reducer(file, devices, options.openMs);
  // The project's NDJSON splitter: lines are cut without re-copying what came before (a long
  // line costs its length, not its length squared), and one over MAX_LINE_BYTES is reported
  // with its number and skipped instead of being buffered without bound.
  const splitter = new NdjsonSplitter();
  const onRaw = (buf: Buffer, start: number, end: number, line: number): void => reducer.line(buf.toString('utf8', start, end), line);
  const onError = (l: NdjsonLine): void => reducer.rejected(l);
  let bytes = 0;
  let newlines = 0;
  let lastByte = -1;
  try {
    for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, nl + 1)) newlines += 1;
      if (chunk.length > 0) lastByte = chunk[chunk.length - 1] as number;
      splitter.pushRaw(chunk, onRaw, onError);
      options.onBytes?.(bytes);
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new AppError('invalid', 'audit.input_unreadable', `cannot read session history ${file}: ${code}`, { file });
  }
  splitter.endRaw(onRaw, onError);
  reducer.lines(newlines + (lastByte >= 0 && lastByte !== 10 ? 1 : 0));
  return reducer.finish();
}
