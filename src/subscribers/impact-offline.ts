import { DedupWindow, forEachNdjsonLine, validateEvent, type NdjsonLine } from '../events/index.js';
import { cellsFlaggedBy, type FlaggingAlert } from './flags.js';
import { ImpactBuilder, type ImpactResult } from './impact.js';
import type { RiskPolicy } from './score.js';
import { dayOf, type NumberLink } from './types.js';

export interface OfflineImpactStats {
  lines: number;
  accepted: number;
  rejectedCount: number;
  rejected: { line: number; error: string }[];
  unknownTypes: Record<string, number>;
  duplicates: number;
}

const MAX_LISTED_ERRORS = 1000;
/** Ids are remembered this long (event time) to drop re-sent events, as detection does. */
const DEDUP_MS = 24 * 3_600_000;

/**
 * Impact analysis straight from an events file (`femtoguard impact --events`), streaming:
 * memory grows with the exposed subscribers, the payments in the window and the identifier
 * links (one per subscriber and number it held), never with the number of events. Every attach is seen, so the result is
 * exact to the millisecond; the order of events does not matter.
 */
export async function impactFromEvents(opts: {
  events: AsyncIterable<Buffer | string> | Iterable<Buffer | string>;
  cells: readonly string[];
  from: number;
  to: number;
  policy: RiskPolicy;
  onProgress?: (bytes: number, events: number) => void;
}): Promise<{ result: ImpactResult; stats: OfflineImpactStats }> {
  const cells = new Set(opts.cells);
  const { from, to } = opts;
  const b = new ImpactBuilder(opts.cells, from, to);
  // The latest event linking an IMSI to an MSISDN or IMEI wins, whatever the order of the file.
  const msisdnOf = new Map<string, { t: number; v: string }>();
  const imeiOf = new Map<string, { t: number; v: string }>();
  // msisdn → imsi → link: when each IMSI was first seen with the number (who held it when).
  const holders = new Map<string, Map<string, NumberLink>>();
  const hold = (msisdn: string, imsi: string, t: number): void => {
    let m = holders.get(msisdn);
    if (!m) holders.set(msisdn, (m = new Map()));
    const l = m.get(imsi);
    if (!l) m.set(imsi, { msisdn, imsi, since: t });
    else if (t < l.since) l.since = t;
  };
  const stats: OfflineImpactStats = { lines: 0, accepted: 0, rejectedCount: 0, rejected: [], unknownTypes: {}, duplicates: 0 };
  const dedup = new DedupWindow(DEDUP_MS);
  const seenTx = new Set<string>();
  let newest = -Infinity;
  const linkNewest = (m: Map<string, { t: number; v: string }>, imsi: string, t: number, v: string): void => {
    const cur = m.get(imsi);
    if (!cur) m.set(imsi, { t, v });
    else if (t >= cur.t) {
      cur.t = t;
      cur.v = v;
    }
  };
  const reject = (line: number, error: string): void => {
    stats.rejectedCount++;
    if (stats.rejected.length < MAX_LISTED_ERRORS) stats.rejected.push({ line, error });
  };
  const onLine = (l: NdjsonLine): void => {
    stats.lines++;
    if ('error' in l) return reject(l.line, l.error);
    const v = validateEvent(l.value);
    if (!v.ok) {
      if ('unknownType' in v) stats.unknownTypes[v.unknownType] = (stats.unknownTypes[v.unknownType] ?? 0) + 1;
      else reject(l.line, v.error);
      return;
    }
    const e = v.event;
    stats.accepted++;
    if (e.t > newest) newest = e.t;
    if (e.id !== undefined && dedup.isDuplicate(e.id, e.t, newest)) {
      stats.duplicates++;
      return;
    }
    switch (e.type) {
      case 'ue.attach':
        if (e.msisdn) {
          linkNewest(msisdnOf, e.imsi, e.t, e.msisdn);
          hold(e.msisdn, e.imsi, e.t);
        }
        if (e.imei) linkNewest(imeiOf, e.imsi, e.t, e.imei);
        if (cells.has(e.cellId) && e.t >= from && e.t < to) b.addAttaches(e.imsi, e.cellId, dayOf(e.t), [e.t], 1);
        break;
      case 'ims.register':
        if (e.msisdn) {
          linkNewest(msisdnOf, e.imsi, e.t, e.msisdn);
          hold(e.msisdn, e.imsi, e.t);
        }
        if (!e.ipsec && e.cellId && cells.has(e.cellId) && e.t >= from && e.t < to) b.addImsWithoutIpsec(e.imsi, e.cellId, 1);
        break;
      case 'payment.auth':
        if (seenTx.has(e.txId)) {
          stats.duplicates++;
          return;
        }
        if (e.t >= from && e.t < to) {
          seenTx.add(e.txId);
          b.addPayment({ txId: e.txId, msisdn: e.msisdn, t: e.t, amountMinor: e.amountMinor, currency: e.currency, method: e.method ?? null, merchant: e.merchant ?? null });
        }
        break;
      default:
        break;
    }
  };
  await forEachNdjsonLine(opts.events, onLine, (bytes) => opts.onProgress?.(bytes, stats.accepted));
  const exposed = new Set(b.imsis());
  for (const imsi of exposed) {
    // The subscriber's latest number, unless a newer link took it (recycled to someone else).
    const m = msisdnOf.get(imsi)?.v;
    b.link(imsi, m !== undefined && newestHolder(holders.get(m)) === imsi ? m : null, imeiOf.get(imsi)?.v ?? null);
  }
  // The links of every number an exposed subscriber held: payments are attributed through them.
  for (const m of holders.values()) {
    let any = false;
    for (const imsi of m.keys()) if (exposed.has(imsi)) any = true;
    if (any) for (const l of m.values()) b.holds(l);
  }
  return { result: b.build(opts.policy), stats };
}

/** The IMSI of a number's newest link (ties: the greater IMSI, as the store orders them). */
function newestHolder(links: Map<string, NumberLink> | undefined): string | undefined {
  let best: NumberLink | undefined;
  for (const l of links?.values() ?? []) if (!best || l.since > best.since || (l.since === best.since && l.imsi > best.imsi)) best = l;
  return best?.imsi;
}

/**
 * The cells an alerts file (FORMATS.md §3, as `femtoguard detect` writes it) flags, with the
 * first time each was flagged: the same selection as the live engine's cell flags, less the
 * registered cells of a flagged device (the file does not carry the registry).
 */
export async function cellsFromAlerts(input: AsyncIterable<Buffer | string>): Promise<{ cells: Map<string, number>; alerts: number; rejected: { line: number; error: string }[] }> {
  const cells = new Map<string, number>();
  const rejected: { line: number; error: string }[] = [];
  let alerts = 0;
  const onLine = (l: NdjsonLine): void => {
    if ('error' in l) return void rejected.push({ line: l.line, error: l.error });
    const a = l.value as Partial<FlaggingAlert> | null;
    if (!a || typeof a !== 'object' || typeof a.rule !== 'string' || typeof a.severity !== 'string' || typeof a.ts !== 'string' || Number.isNaN(Date.parse(a.ts))) {
      return void rejected.push({ line: l.line, error: 'not an alert (FORMATS.md §3: rule, severity, ts required)' });
    }
    alerts++;
    const t = Date.parse(a.ts);
    for (const c of cellsFlaggedBy(a as FlaggingAlert)) {
      const prev = cells.get(c);
      if (prev === undefined || t < prev) cells.set(c, t);
    }
  };
  await forEachNdjsonLine(input, onLine);
  return { cells, alerts, rejected };
}
