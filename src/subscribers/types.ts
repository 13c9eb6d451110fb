/**
 * The exposure index: which subscribers each cell served, and where each subscriber was.
 * Kept per (cell, UTC day, IMSI) bucket, so both questions are index lookups: "who was on
 * cells X in [from, to)" reads the buckets of X for those days; "where was subscriber Y
 * recently" reads Y's buckets for the last days. Times are epoch milliseconds.
 */

export const DAY_MS = 86_400_000;

/** The UTC day number of an epoch-ms time (days since 1970-01-01). */
export const dayOf = (t: number): number => Math.floor(t / DAY_MS);

/** One (cell, day, subscriber) bucket. Attach fields are null when only IMS registrations were seen. */
export interface ExposureBucket {
  day: number;
  cellId: string;
  imsi: string;
  firstAttach: number | null;
  lastAttach: number | null;
  attachCount: number;
  /** first and last observation of any kind (attach or IMS registration) */
  firstSeen: number;
  lastSeen: number;
  imsCount: number;
  imsWithoutIpsec: number;
}

/**
 * A subscriber joined across identifiers: MSISDN and IMEI as the latest event linking them said.
 * A number belongs to one IMSI at a time: the one with the newest link (`msisdnSince`); a
 * subscriber whose number was recycled to a newer IMSI has given it up (`msisdn` null).
 */
export interface SubscriberRecord {
  imsi: string;
  msisdn: string | null;
  /**
   * When this IMSI was first seen with `msisdn` (the time of the link); null without a number.
   * Optional for writers: without it, `firstSeen` stands in.
   */
  msisdnSince?: number | null;
  imei: string | null;
  firstSeen: number;
  lastSeen: number;
  /** the cell of the latest observation, when it named one */
  lastCellId: string | null;
}

/**
 * One IMSI's hold on a number: from `since` (the first time they were seen together). A payment
 * on the number at time t belongs to the link with the greatest `since` at or before t (the
 * earliest link for a payment before any): `holderAt`.
 */
export interface NumberLink {
  msisdn: string;
  imsi: string;
  since: number;
}

/**
 * The IMSI that held a number at time `t`, from the number's links sorted by `since` then IMSI
 * (ascending): the newest link at or before `t`; before the first link, the first holder (a
 * payment can reach the index before the event naming its subscriber's number).
 */
export function holderAt(sorted: readonly NumberLink[], t: number): string | undefined {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as NumberLink).since <= t) lo = mid + 1;
    else hi = mid;
  }
  return (sorted[lo > 0 ? lo - 1 : 0] as NumberLink | undefined)?.imsi;
}

/** Sorts a number's links as `holderAt` expects: by `since`, ties by IMSI (the store's order too). */
export const byLinkTime = (a: NumberLink, b: NumberLink): number => a.since - b.since || (a.imsi < b.imsi ? -1 : a.imsi > b.imsi ? 1 : 0);

/** A `payment.auth` event as kept by the index (FORMATS.md §1). */
export interface PaymentRecord {
  txId: string;
  msisdn: string;
  t: number;
  amountMinor: number;
  currency: string;
  method: string | null;
  merchant: string | null;
}

/**
 * What one flush writes: bucket increments (merged into existing buckets: counts add,
 * first/last take min/max), subscriber links, payments, and how far in the event log the
 * batch goes, all in one transaction (so a crash never counts an event twice).
 */
export interface ExposureBatch {
  buckets: ExposureBucket[];
  subscribers: SubscriberRecord[];
  payments: PaymentRecord[];
  /** the event-log seq this batch goes up to (the cursor saved with it), or null */
  cursor: number | null;
}

/** Port owned by subscribers/: the durable exposure index. */
export interface ExposureStore {
  apply(batch: ExposureBatch): Promise<void>;
  /** The event-log seq of the last batch applied (0 before any). */
  cursor(): Promise<number>;
  /** Buckets of these cells for days in [fromDay, toDay], ordered by cell, day, imsi. */
  cellBuckets(cellIds: readonly string[], fromDay: number, toDay: number): Promise<ExposureBucket[]>;
  /** Buckets of one subscriber for days in [fromDay, toDay]. */
  subscriberBuckets(imsi: string, fromDay: number, toDay: number): Promise<ExposureBucket[]>;
  subscribers(imsis: readonly string[]): Promise<SubscriberRecord[]>;
  subscriberByMsisdn(msisdn: string): Promise<SubscriberRecord | null>;
  /** Every subscriber, in pages (hot-index rebuild at start). */
  allSubscribers(pageSize: number): AsyncIterable<SubscriberRecord[]>;
  /**
   * Every link of every number these IMSIs ever held, the other holders' included (to attribute
   * a payment to whoever held its number at the time).
   */
  numberLinks(imsis: readonly string[]): Promise<NumberLink[]>;
  /** Payments by these MSISDNs with t in [from, to). */
  payments(msisdns: readonly string[], from: number, to: number): Promise<PaymentRecord[]>;
  /**
   * Exact attach times from the event log, for buckets a window cuts inside one day (the
   * bucket alone cannot say whether an attach fell inside). Null when the log no longer
   * covers the window.
   */
  attachTimes(cellIds: readonly string[], from: number, to: number): Promise<Map<string, number[]> | null>;
  /** Drops buckets, subscribers and payments last seen before `before`. */
  prune(before: number): Promise<{ buckets: number; subscribers: number; payments: number }>;
  counts(): Promise<{ buckets: number; subscribers: number; payments: number }>;
}

/** Key of an (imsi, cell) pair in maps. */
export const pairKey = (imsi: string, cellId: string): string => `${imsi}|${cellId}`;
