import { maskSubscriberFields } from '../core/mask.js';
import { scoreExposure, type RiskLevel, type RiskPolicy } from './score.js';
import { byLinkTime, DAY_MS, holderAt, type NumberLink, type PaymentRecord } from './types.js';

/** Who was exposed to which cells in [from, to), with their payments at risk. */
export interface ImpactSubscriber {
  imsi: string;
  imei: string | null;
  msisdn: string | null;
  cellIds: string[];
  firstSeen: number;
  lastSeen: number;
  attachCount: number;
  imsWithoutIpsec: number;
  paymentsAtRisk: number;
  /** minor units per currency, of the payments at risk */
  amountAtRisk: Record<string, number>;
}

export interface ImpactPayment extends PaymentRecord {
  imsi: string;
  lastExposureCell: string;
  lastExposure: number;
  secondsSinceExposure: number;
  riskLevel: RiskLevel;
  /** authenticated within the payment-exposure look-back of an exposure (riskLevel high) */
  atRisk: boolean;
}

export interface ImpactSummary {
  window: { from: string | null; to: string | null };
  cells: string[];
  subscribers: number;
  attaches: number;
  imsWithoutIpsec: number;
  perCell: { cellId: string; subscribers: number; attaches: number; imsWithoutIpsec: number; firstSeen: string | null; lastSeen: string | null }[];
  perDay: { day: string; subscribers: number; attaches: number }[];
  payments: { total: number; atRisk: number; amountAtRisk: Record<string, number>; amountTotal: Record<string, number> };
  /**
   * subscribers included although the index cannot prove an attach inside the window (a window
   * cut inside one day, the event log pruned): included, since a notification is cheaper than a
   * missed victim
   */
  uncertain: number;
}

export interface ImpactResult {
  subscribers: ImpactSubscriber[];
  payments: ImpactPayment[];
  summary: ImpactSummary;
}

interface Acc {
  cells: Map<string, number[]>;
  firstSeen: number;
  lastSeen: number;
  attachCount: number;
  imsWithoutIpsec: number;
}

/**
 * Collects exposures (attaches to the cells under analysis in the window) and builds the
 * impact result. The offline command feeds it every attach exactly; the store feeds it
 * day buckets. Payments are scored with the shared scoring function: the cells under
 * analysis count as flagged for the whole window. A payment belongs to the IMSI that held its
 * number at the payment's time (`holds`): a recycled number's new owner does not inherit the
 * previous owner's exposure, nor the previous owner the new owner's payments.
 */
export class ImpactBuilder {
  private readonly subs = new Map<string, Acc>();
  private readonly ims = new Map<string, number>();
  private readonly days = new Map<number, { imsis: Set<string>; attaches: number }>();
  private readonly cellStats = new Map<string, { imsis: Set<string>; attaches: number; ims: number; first: number; last: number }>();
  private readonly links = new Map<string, { msisdn: string | null; imei: string | null }>();
  private readonly payments: PaymentRecord[] = [];
  /** msisdn → every link of the number, any holder's */
  private readonly numberLinks = new Map<string, NumberLink[]>();
  private uncertain = 0;

  constructor(
    private readonly cells: readonly string[],
    private readonly from: number,
    private readonly to: number,
  ) {}

  /**
   * Attaches of `imsi` to `cellId` on `day`: `count` of them, `times` the ones whose exact time
   * is known (at least one), all inside the window.
   */
  addAttaches(imsi: string, cellId: string, day: number, times: readonly number[], count: number): void {
    let a = this.subs.get(imsi);
    if (!a) this.subs.set(imsi, (a = { cells: new Map(), firstSeen: Infinity, lastSeen: -Infinity, attachCount: 0, imsWithoutIpsec: 0 }));
    let l = a.cells.get(cellId);
    if (!l) a.cells.set(cellId, (l = []));
    for (const t of times) {
      l.push(t);
      if (t < a.firstSeen) a.firstSeen = t;
      if (t > a.lastSeen) a.lastSeen = t;
    }
    a.attachCount += count;
    let d = this.days.get(day);
    if (!d) this.days.set(day, (d = { imsis: new Set(), attaches: 0 }));
    d.imsis.add(imsi);
    d.attaches += count;
    const c = this.cell(cellId);
    c.imsis.add(imsi);
    c.attaches += count;
    for (const t of times) {
      if (t < c.first) c.first = t;
      if (t > c.last) c.last = t;
    }
  }

  /** IMS registrations without IPsec through a cell under analysis, in the window. */
  addImsWithoutIpsec(imsi: string, cellId: string, n: number): void {
    this.ims.set(imsi, (this.ims.get(imsi) ?? 0) + n);
    this.cell(cellId).ims += n;
  }

  /** Counts a subscriber included without proof of an attach inside the window. */
  markUncertain(): void {
    this.uncertain++;
  }

  /** The identifiers shown for a subscriber: its number now (null when given up), its IMEI. */
  link(imsi: string, msisdn: string | null, imei: string | null): void {
    this.links.set(imsi, { msisdn, imei });
  }

  /** A link of a number to an IMSI from `since`: payments on the number are attributed through these. */
  holds(l: NumberLink): void {
    let ls = this.numberLinks.get(l.msisdn);
    if (!ls) this.numberLinks.set(l.msisdn, (ls = []));
    ls.push(l);
  }

  /** The exposed subscribers found so far. */
  imsis(): string[] {
    return [...this.subs.keys()];
  }

  /** Payments in the window (of anyone: those of unexposed subscribers are left out). */
  addPayment(p: PaymentRecord): void {
    if (p.t >= this.from && p.t < this.to) this.payments.push(p);
  }

  build(policy: RiskPolicy): ImpactResult {
    for (const ls of this.numberLinks.values()) ls.sort(byLinkTime);
    for (const acc of this.subs.values()) for (const l of acc.cells.values()) l.sort((x, y) => x - y);
    const flag = { t: -Infinity, rules: ['impact-analysis'] };
    const payments: ImpactPayment[] = [];
    const perSub = new Map<string, { n: number; amount: Record<string, number> }>();
    const total: Record<string, number> = {};
    const atRiskAmount: Record<string, number> = {};
    for (const p of [...this.payments].sort((a, b) => a.t - b.t || (a.txId < b.txId ? -1 : 1))) {
      const ls = this.numberLinks.get(p.msisdn);
      const imsi = ls === undefined ? undefined : holderAt(ls, p.t);
      const acc = imsi === undefined ? undefined : this.subs.get(imsi);
      if (!imsi || !acc) continue;
      const on: [string, number][] = [];
      for (const [cell, times] of acc.cells) {
        const last = lastAtOrBefore(times, p.t);
        if (last !== undefined) on.push([cell, last]);
      }
      // A payment before the subscriber's first exposure is not at risk from it.
      const s = scoreExposure(on, () => flag, p.t, Infinity, policy);
      const top = s.cells[0];
      if (!s.exposed || !top || s.lastExposure === null) continue;
      const atRisk = s.riskLevel === 'high';
      payments.push({ ...p, imsi, lastExposureCell: top.cellId, lastExposure: s.lastExposure, secondsSinceExposure: Math.round((p.t - s.lastExposure) / 1000), riskLevel: s.riskLevel, atRisk });
      total[p.currency] = (total[p.currency] ?? 0) + p.amountMinor;
      if (atRisk) {
        let x = perSub.get(imsi);
        if (!x) perSub.set(imsi, (x = { n: 0, amount: {} }));
        x.n++;
        x.amount[p.currency] = (x.amount[p.currency] ?? 0) + p.amountMinor;
        atRiskAmount[p.currency] = (atRiskAmount[p.currency] ?? 0) + p.amountMinor;
      }
    }
    const subscribers: ImpactSubscriber[] = [...this.subs.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([imsi, a]) => {
        const l = this.links.get(imsi);
        const r = perSub.get(imsi);
        return {
          imsi,
          imei: l?.imei ?? null,
          msisdn: l?.msisdn ?? null,
          cellIds: [...a.cells.keys()].sort(),
          firstSeen: a.firstSeen,
          lastSeen: a.lastSeen,
          attachCount: a.attachCount,
          imsWithoutIpsec: this.ims.get(imsi) ?? 0,
          paymentsAtRisk: r?.n ?? 0,
          amountAtRisk: r?.amount ?? {},
        };
      });
    const iso = (t: number): string | null => (Number.isFinite(t) ? new Date(t).toISOString() : null);
    const summary: ImpactSummary = {
      window: { from: iso(this.from), to: iso(this.to) },
      cells: [...this.cells].sort(),
      subscribers: subscribers.length,
      attaches: subscribers.reduce((n, s) => n + s.attachCount, 0),
      imsWithoutIpsec: subscribers.reduce((n, s) => n + s.imsWithoutIpsec, 0),
      perCell: [...this.cells].sort().map((cellId) => {
        const c = this.cellStats.get(cellId);
        return { cellId, subscribers: c?.imsis.size ?? 0, attaches: c?.attaches ?? 0, imsWithoutIpsec: c?.ims ?? 0, firstSeen: c ? iso(c.first) : null, lastSeen: c ? iso(c.last) : null };
      }),
      perDay: [...this.days.entries()].sort(([a], [b]) => a - b).map(([d, x]) => ({ day: new Date(d * DAY_MS).toISOString().slice(0, 10), subscribers: x.imsis.size, attaches: x.attaches })),
      payments: { total: payments.length, atRisk: payments.filter((p) => p.atRisk).length, amountAtRisk: atRiskAmount, amountTotal: total },
      uncertain: this.uncertain,
    };
    return { subscribers, payments, summary };
  }

  private cell(cellId: string): { imsis: Set<string>; attaches: number; ims: number; first: number; last: number } {
    let c = this.cellStats.get(cellId);
    if (!c) this.cellStats.set(cellId, (c = { imsis: new Set(), attaches: 0, ims: 0, first: Infinity, last: -Infinity }));
    return c;
  }
}

/** The last time in a sorted list at or before `t`. */
function lastAtOrBefore(sorted: readonly number[], t: number): number | undefined {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as number) <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 ? sorted[lo - 1] : undefined;
}

/** The same result with IMSI, MSISDN and IMEI masked (for roles without `subscribers:identifiers`). */
export function maskImpact(r: ImpactResult): ImpactResult {
  const ids = (x: { imsi: string; msisdn: string | null; imei?: string | null }): { imsi: string; msisdn: string | null; imei: string | null } => {
    const m = maskSubscriberFields({ imsi: x.imsi, ...(x.msisdn ? { msisdn: x.msisdn } : {}), ...(x.imei ? { imei: x.imei } : {}) });
    return { imsi: m.imsi, msisdn: m.msisdn ?? null, imei: m.imei ?? null };
  };
  return {
    subscribers: r.subscribers.map((s) => ({ ...s, ...ids(s) })),
    payments: r.payments.map((p) => {
      const m = ids(p);
      return { ...p, imsi: m.imsi, msisdn: m.msisdn ?? '' };
    }),
    summary: r.summary,
  };
}
