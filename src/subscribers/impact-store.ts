import { ImpactBuilder, type ImpactResult } from './impact.js';
import type { RiskPolicy } from './score.js';
import { dayOf, pairKey, type ExposureBucket, type ExposureStore } from './types.js';

export interface ImpactQuery {
  cells: readonly string[];
  /** window [from, to), epoch ms */
  from: number;
  to: number;
}

/**
 * Impact analysis against the exposure index: the buckets of the cells for the days the
 * window touches (index lookups, no scan), then the subscribers' identifiers, the links of
 * every number they held, and the payments on those numbers.
 *
 * A bucket holds the first and last attach of its day. When the window cuts a day, a bucket
 * is in if one of those two falls inside; one that straddles the whole window (which can only
 * happen when the window starts and ends within one day) is resolved from the event log.
 * Attach counts of a day the window cuts are the whole day's.
 */
export async function impactFromStore(store: ExposureStore, q: ImpactQuery, policy: RiskPolicy): Promise<ImpactResult> {
  const { from, to } = q;
  const b = new ImpactBuilder(q.cells, from, to);
  if (to <= from || q.cells.length === 0) return b.build(policy);
  const buckets = await store.cellBuckets(q.cells, dayOf(from), dayOf(to - 1));
  const straddling: ExposureBucket[] = [];
  for (const x of buckets) {
    if (x.attachCount === 0 || x.firstAttach === null || x.lastAttach === null) {
      if (x.imsWithoutIpsec > 0 && x.lastSeen >= from && x.firstSeen < to) b.addImsWithoutIpsec(x.imsi, x.cellId, x.imsWithoutIpsec);
      continue;
    }
    const inside = [x.firstAttach, x.lastAttach].filter((t, i, a) => t >= from && t < to && a.indexOf(t) === i);
    if (inside.length > 0) {
      b.addAttaches(x.imsi, x.cellId, x.day, inside, x.attachCount);
      if (x.imsWithoutIpsec > 0) b.addImsWithoutIpsec(x.imsi, x.cellId, x.imsWithoutIpsec);
    } else if (x.firstAttach < from && x.lastAttach >= to && x.attachCount > 2) {
      straddling.push(x);
    }
  }
  if (straddling.length > 0) {
    const times = await store.attachTimes(q.cells, from, to);
    for (const x of straddling) {
      const exact = times?.get(pairKey(x.imsi, x.cellId));
      if (times && !exact) continue;
      if (!exact) b.markUncertain();
      b.addAttaches(x.imsi, x.cellId, x.day, exact ?? [x.lastAttach as number], exact?.length ?? x.attachCount);
      if (x.imsWithoutIpsec > 0) b.addImsWithoutIpsec(x.imsi, x.cellId, x.imsWithoutIpsec);
    }
  }
  const imsis = b.imsis();
  for (const s of await store.subscribers(imsis)) b.link(s.imsi, s.msisdn, s.imei);
  // Every number the exposed subscribers ever held, with its other holders: a payment is theirs
  // only if they held its number at the payment's time (recycled numbers).
  const links = await store.numberLinks(imsis);
  for (const l of links) b.holds(l);
  for (const p of await store.payments([...new Set(links.map((l) => l.msisdn))], from, to)) b.addPayment(p);
  return b.build(policy);
}
