import type { FgEvent, ImsRegisterEvent, PaymentAuthEvent, UeAttachEvent } from '../events/index.js';
import { dayOf, type ExposureBatch, type ExposureBucket, type PaymentRecord, type SubscriberRecord } from './types.js';

/**
 * Folds `ue.attach`, `ims.register` and `payment.auth` events into what the exposure store
 * keeps: one bucket per (cell, day, IMSI), one record per subscriber, one per payment. The
 * live service and the benchmark feed it the same way; `take()` hands over what was folded
 * since the last call. The folding is order-free (counts add, first/last are min/max), so
 * events out of order give the same buckets.
 */
export class ExposureAggregator {
  /**
   * day → cell → imsi → bucket. Nested rather than one map on a joined key: the hot path
   * builds no key strings, and `take()` can hand the buckets over in key order cheaply.
   */
  private days = new Map<number, Map<string, Map<string, ExposureBucket>>>();
  private subs = new Map<string, SubscriberRecord>();
  private pays = new Map<string, PaymentRecord>();
  private events = 0;

  /** Events folded since the last `take()`. */
  get pending(): number {
    return this.events;
  }

  /** Folds one event; other types are ignored. Returns whether the event was one of ours. */
  add(e: FgEvent): boolean {
    switch (e.type) {
      case 'ue.attach':
        this.attach(e);
        return true;
      case 'ims.register':
        this.ims(e);
        return true;
      case 'payment.auth':
        this.payment(e);
        return true;
      default:
        return false;
    }
  }

  attach(e: UeAttachEvent): void {
    this.events++;
    const b = this.bucket(e.cellId, e.imsi, e.t);
    if (b.firstAttach === null || e.t < b.firstAttach) b.firstAttach = e.t;
    if (b.lastAttach === null || e.t > b.lastAttach) b.lastAttach = e.t;
    b.attachCount++;
    this.subscriber(e.imsi, e.t, e.cellId, e.msisdn, e.imei);
  }

  ims(e: ImsRegisterEvent): void {
    this.events++;
    if (e.cellId) {
      const b = this.bucket(e.cellId, e.imsi, e.t);
      b.imsCount++;
      if (!e.ipsec) b.imsWithoutIpsec++;
    }
    this.subscriber(e.imsi, e.t, e.cellId, e.msisdn, undefined);
  }

  payment(e: PaymentAuthEvent): void {
    this.events++;
    // The same txId twice is the same payment (a re-sent event without an id).
    if (!this.pays.has(e.txId)) {
      this.pays.set(e.txId, { txId: e.txId, msisdn: e.msisdn, t: e.t, amountMinor: e.amountMinor, currency: e.currency, method: e.method ?? null, merchant: e.merchant ?? null });
    }
  }

  /**
   * Hands over what was folded and starts afresh. Buckets come in key order (day, cell,
   * imsi): written in that order they append to the store's B-tree instead of scattering.
   */
  take(cursor: number | null): ExposureBatch {
    const buckets: ExposureBucket[] = [];
    for (const day of [...this.days.keys()].sort((a, b) => a - b)) {
      const cells = this.days.get(day) as Map<string, Map<string, ExposureBucket>>;
      for (const cell of [...cells.keys()].sort()) {
        const byImsi = cells.get(cell) as Map<string, ExposureBucket>;
        for (const imsi of [...byImsi.keys()].sort()) buckets.push(byImsi.get(imsi) as ExposureBucket);
      }
    }
    const batch: ExposureBatch = { buckets, subscribers: [...this.subs.values()], payments: [...this.pays.values()], cursor };
    this.days = new Map();
    this.subs = new Map();
    this.pays = new Map();
    this.events = 0;
    return batch;
  }

  /** Buckets folded but not yet taken, for one cell (a cell flagged before the next flush). */
  pendingFor(cellId: string): ExposureBucket[] {
    const out: ExposureBucket[] = [];
    for (const cells of this.days.values()) for (const b of cells.get(cellId)?.values() ?? []) out.push(b);
    return out;
  }

  private bucket(cellId: string, imsi: string, t: number): ExposureBucket {
    const day = dayOf(t);
    let cells = this.days.get(day);
    if (!cells) this.days.set(day, (cells = new Map()));
    let byImsi = cells.get(cellId);
    if (!byImsi) cells.set(cellId, (byImsi = new Map()));
    let b = byImsi.get(imsi);
    if (!b) {
      b = { day, cellId, imsi, firstAttach: null, lastAttach: null, attachCount: 0, firstSeen: t, lastSeen: t, imsCount: 0, imsWithoutIpsec: 0 };
      byImsi.set(imsi, b);
    } else {
      if (t < b.firstSeen) b.firstSeen = t;
      if (t > b.lastSeen) b.lastSeen = t;
    }
    return b;
  }

  private subscriber(imsi: string, t: number, cellId: string | undefined, msisdn: string | undefined, imei: string | undefined): void {
    let s = this.subs.get(imsi);
    if (!s) {
      s = { imsi, msisdn: msisdn ?? null, msisdnSince: msisdn ? t : null, imei: imei ?? null, firstSeen: t, lastSeen: t, lastCellId: cellId ?? null };
      this.subs.set(imsi, s);
      return;
    }
    if (t < s.firstSeen) s.firstSeen = t;
    // The same number seen earlier moves the link's time back (events come in any order).
    if (msisdn && msisdn === s.msisdn && t < (s.msisdnSince ?? Infinity)) s.msisdnSince = t;
    // The latest event decides the links (a number can move to another SIM).
    if (t >= s.lastSeen) {
      s.lastSeen = t;
      if (cellId) s.lastCellId = cellId;
      if (msisdn && msisdn !== s.msisdn) {
        s.msisdn = msisdn;
        s.msisdnSince = t;
      }
      if (imei) s.imei = imei;
    } else {
      if (msisdn && !s.msisdn) {
        s.msisdn = msisdn;
        s.msisdnSince = t;
      }
      if (imei && !s.imei) s.imei = imei;
    }
  }
}
