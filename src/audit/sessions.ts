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
      const gps = event.gps as { lat: number; lon: number; accuracyM?: number } | undefined;
      if (gps !== undefined && device !== undefined) judgeGps(u, device, gps, t);
    }
  }

  private bad(line: number, message: string): void {
    this.summary.malformed += 1;
    this.problems.push({ source: 'sessions', file: this.file, line, message });
  }

  private usageOf(serial: string, t: number): DeviceUsage {
    let u = this.usage.get(serial);
    if (u === undefined) {
      u = { firstSeen: t, lastSeen: t, connects: 0, certs: [], outsidePrefix: undefined, drift: undefined, overlap: undefined, edges: [] };
      this.usage.set(serial, u);
    }
    return u;
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

  finish(openMs: number): SessionHistory {
    for (const u of this.usage.values()) {
      sweepOverlaps(u, openMs);
      u.edges = []; // judged; free the memory
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

/**
 * Walks one serial's session edges in time order and records sessions that were up at the
 * same time with different certificates or from different addresses: one unit cannot hold
 * two tunnels from two lines, so a second one is a clone. An `up` without its `down`
 * counts as open for `openMs` (a gateway that lost the `down`), a re-`up` of the same
 * session (same id, or same address and certificate) replaces it.
 */
function sweepOverlaps(u: DeviceUsage, openMs: number): void {
  if (u.edges.length < 2) return;
  // Array.prototype.sort is stable: equal times keep file order.
  const edges = u.edges.sort((a, b) => a.t - b.t);
  let open: SessionEdge[] = [];
  const same = (a: SessionEdge, b: SessionEdge): boolean => (a.sid !== undefined || b.sid !== undefined ? a.sid === b.sid : a.ip === b.ip && a.fp === b.fp);
  for (const e of edges) {
    if (!e.up) {
      let k = open.findIndex((o) => same(o, e));
      if (k < 0 && e.sid === undefined) k = open.findIndex((o) => o.ip === e.ip);
      if (k >= 0) open.splice(k, 1);
      continue;
    }
    open = open.filter((o) => e.t - o.t <= openMs && !same(o, e));
    for (const o of open) {
      const certs = o.fp !== undefined && e.fp !== undefined && o.fp !== e.fp;
      const ips = o.ip !== e.ip;
      if (!certs && !ips) continue;
      u.overlap ??= { at: e.t, certs: new Set(), ips: new Set() };
      if (certs) u.overlap.certs.add(o.fp as string).add(e.fp as string);
      if (ips) u.overlap.ips.add(o.ip).add(e.ip);
    }
    open.push(e);
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
  const reducer = new Reducer(file, devices);
  let lineNo = 0;
  let bytes = 0;
  let carry: Buffer | null = null;
  try {
    for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      let buf: Buffer = carry === null ? chunk : Buffer.concat([carry, chunk]);
      let start = 0;
      for (let nl = buf.indexOf(10); nl >= 0; nl = buf.indexOf(10, start)) {
        reducer.line(buf.toString('utf8', start, nl), ++lineNo);
        start = nl + 1;
      }
      buf = buf.subarray(start);
      carry = buf.length > 0 ? Buffer.from(buf) : null;
      options.onBytes?.(bytes);
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new AppError('invalid', 'audit.input_unreadable', `cannot read session history ${file}: ${code}`, { file });
  }
  if (carry !== null) reducer.line(carry.toString('utf8'), ++lineNo);
  return reducer.finish(options.openMs);
}
