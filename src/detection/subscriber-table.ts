/**
 * SubscriberIndex: subscribers joined across identifiers (IMSI, MSISDN, IMEI) with the cells
 * they were on recently, on the subscriber side's hottest path (every attach and IMS
 * registration). Split from state.ts.
 *
 * Laid out for memory, not for objects: with ~10^5..10^6 subscribers every lookup is a cache
 * miss, and a Map keyed by the event's fresh IMSI string costs several (the bucket, the stored
 * key's characters to compare, the record, then each stored identifier string compared with the
 * event's). Here an identifier made only of digits (IMSI, IMEI, MSISDN with or without a
 * leading `+`: up to 15 digits fit a double exactly) is a number (`digitsKey`): the IMSI is
 * found in an open-addressing table of numbers (key and subscriber number side by side: one
 * miss), and the subscriber's numbers (last time, MSISDN and IMEI keys) sit side by side in
 * one typed array (one more). Any other identifier is kept and compared as a string (a Map for
 * IMSIs that are not digits): the input is attacker-controlled, so nothing assumes the shape.
 */

import { digitsKey } from '../events/index.js';

// The key of digit identifiers is defined beside the decoder that computes it from bytes.
export { digitsKey };

/**
 * An event's subscriber identifiers (an attach or an IMS registration: its own properties), with
 * their digitsKey when its decoder computed them from the bytes (SubscriberKeys: 0 for an
 * identifier absent; the strings are then read only when they must be kept or compared).
 */
export interface SubscriberIds {
  readonly imsi: string;
  readonly msisdn?: string | undefined;
  readonly imei?: string | undefined;
  readonly imsiKey?: number;
  readonly msisdnKey?: number;
  readonly imeiKey?: number;
}

/** The IMSI's digitsKey: the decoder's, else computed from the string. */
export function imsiKeyOf(ids: SubscriberIds): number {
  return ids.imsiKey ?? digitsKey(ids.imsi);
}

/** per-subscriber numbers (one cache line): [IMSI key (NaN: not digits), last time, MSISDN key, IMEI key, first cell's last time] */
const STRIDE = 8;
const F_KEY = 0;
const F_LAST = 1;
const F_MSISDN = 2;
const F_IMEI = 3;
const F_CELL0_T = 4;
/** an identifier not held (no key is 0) */
const NONE = 0;

/** A 32-bit hash of a digits key (digitsKey), for open-addressing tables of keys. */
export function hashKey(k: number): number {
  const lo = k % 4294967296 | 0;
  const hi = (k / 4294967296) | 0;
  let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * Subscribers joined across identifiers (IMSI, MSISDN, IMEI) with the cells they were on
 * recently. Bounded: subscribers not seen within the retention are dropped by `expire` (their
 * numbers are reused).
 */
export class SubscriberIndex {
  /** open addressing, linear probing: [IMSI key, subscriber number] per slot; key 0 = empty */
  private slots = new Float64Array(2 * 1024);
  private used = 0;
  /** subscribers whose IMSI is not a digit string */
  private readonly otherImsis = new Map<string, number>();
  /** per subscriber number (STRIDE): see F_* */
  private num = new Float64Array(STRIDE * 1024);
  /**
   * Per subscriber number, side by side: the IMSI (undefined: the number is free) and its first
   * cell (undefined: none), whose time is F_CELL0_T. Most events name the subscriber's first
   * cell again: they reach no array of their own.
   */
  private readonly refs: (string | undefined)[] = [];
  private readonly msisdns: (string | undefined)[] = [];
  private readonly imeis: (string | undefined)[] = [];
  // The cells after the first are a handful: parallel arrays in first-seen order, searched linearly.
  private readonly cells: (string[] | undefined)[] = [];
  private readonly cellTs: (number[] | undefined)[] = [];
  private readonly free: number[] = [];
  private live = 0;
  private readonly imsiByMsisdn = new Map<string, string>();

  /** The subscriber number of `imsi` (its digits key `k`), or -1. */
  private find(imsi: string, k: number): number {
    return k !== k ? (this.otherImsis.get(imsi) ?? -1) : this.findKey(k);
  }

  /** The subscriber number of the IMSI of digits key `k` (not NaN), or -1. */
  private findKey(k: number): number {
    const slots = this.slots;
    const mask = (slots.length >>> 1) - 1;
    let i = hashKey(k) & mask;
    for (;;) {
      const sk = slots[2 * i] as number;
      if (sk === k) return slots[2 * i + 1] as number;
      if (sk === 0) return -1;
      i = (i + 1) & mask;
    }
  }

  private insert(k: number, no: number): void {
    const slots = this.slots;
    const mask = (slots.length >>> 1) - 1;
    let i = hashKey(k) & mask;
    while ((slots[2 * i] as number) !== 0) i = (i + 1) & mask;
    slots[2 * i] = k;
    slots[2 * i + 1] = no;
  }

  /** Removes key `k` (present), shifting back the slots after it (no tombstones). */
  private remove(k: number): void {
    const slots = this.slots;
    const mask = (slots.length >>> 1) - 1;
    let i = hashKey(k) & mask;
    while ((slots[2 * i] as number) !== k) i = (i + 1) & mask;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const sk = slots[2 * j] as number;
      if (sk === 0) break;
      const home = hashKey(sk) & mask;
      // Slot j's key may move to i when its home is not in (i, j] cyclically.
      if (i <= j ? home <= i || home > j : home <= i && home > j) {
        slots[2 * i] = sk;
        slots[2 * i + 1] = slots[2 * j + 1] as number;
        i = j;
      }
    }
    slots[2 * i] = 0;
    this.used--;
  }

  private add(imsi: string, k: number, t: number): number {
    let no = this.free.pop();
    if (no === undefined) {
      no = this.msisdns.length;
      this.refs.push(undefined, undefined);
      this.msisdns.push(undefined);
      this.imeis.push(undefined);
      this.cells.push(undefined);
      this.cellTs.push(undefined);
      if (STRIDE * (no + 1) > this.num.length) {
        const n = new Float64Array(this.num.length * 2);
        n.set(this.num);
        this.num = n;
      }
    }
    this.refs[2 * no] = imsi;
    const b = STRIDE * no;
    this.num[b + F_KEY] = k;
    this.num[b + F_LAST] = t;
    this.num[b + F_MSISDN] = NONE;
    this.num[b + F_IMEI] = NONE;
    this.live++;
    if (k !== k) this.otherImsis.set(imsi, no);
    else {
      if (2 * (this.used + 1) > this.slots.length >>> 1) this.grow();
      this.insert(k, no);
      this.used++;
    }
    return no;
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Float64Array(old.length * 2);
    for (let i = 0; i < old.length; i += 2) {
      const k = old[i] as number;
      if (k !== 0) this.insert(k, old[i + 1] as number);
    }
  }

  /**
   * Records an event of the subscriber: its time, the identifiers it carries (SubscriberIds: an
   * event, with the decoder's keys when it has them), its cell. A string is read only for a
   * subscriber not held yet, an IMSI that is not digits, or an identifier that changed (or is
   * not digits).
   */
  observeIds(ids: SubscriberIds, t: number, cellId?: string): void {
    const k = ids.imsiKey ?? digitsKey(ids.imsi);
    let no = k !== k ? (this.otherImsis.get(ids.imsi) ?? -1) : this.findKey(k);
    if (no < 0) no = this.add(ids.imsi, k, t);
    const num = this.num;
    const b = STRIDE * no;
    if (t > (num[b + F_LAST] as number)) num[b + F_LAST] = t;
    // An identifier is kept only when it changed (compared as numbers when it is digits): the
    // same one in a fresh string would be garbage the collector has to promote. An empty one
    // counts as absent (key 0).
    let mk = ids.msisdnKey;
    if (mk === undefined) {
      const msisdn = ids.msisdn;
      mk = msisdn ? digitsKey(msisdn) : 0;
    }
    if (mk !== 0 && (mk === mk ? num[b + F_MSISDN] !== mk : this.msisdns[no] !== ids.msisdn)) this.link(no, ids.msisdn as string, mk);
    let ik = ids.imeiKey;
    if (ik === undefined) {
      const imei = ids.imei;
      ik = imei ? digitsKey(imei) : 0;
    }
    if (ik !== 0) {
      if (ik === ik) {
        if (num[b + F_IMEI] !== ik) {
          this.imeis[no] = ids.imei;
          num[b + F_IMEI] = ik;
        }
      } else {
        const imei = ids.imei;
        if (this.imeis[no] !== imei) {
          this.imeis[no] = imei;
          num[b + F_IMEI] = NONE;
        }
      }
    }
    if (cellId) {
      const c0 = this.refs[2 * no + 1];
      if (c0 === cellId) {
        if (t > (num[b + F_CELL0_T] as number)) num[b + F_CELL0_T] = t;
      } else if (c0 === undefined) {
        this.refs[2 * no + 1] = cellId;
        num[b + F_CELL0_T] = t;
      } else this.seeOtherCell(no, cellId, t);
    }
  }

  /** Subscriber `no` was on `cellId` (not its first cell) at `t`. */
  private seeOtherCell(no: number, cellId: string, t: number): void {
    let cells = this.cells[no];
    let cellT = this.cellTs[no];
    if (cells === undefined || cellT === undefined) {
      this.cells[no] = cells = [];
      this.cellTs[no] = cellT = [];
    }
    const i = cells.indexOf(cellId);
    if (i < 0) {
      cells.push(cellId);
      cellT.push(t);
    } else if (t > (cellT[i] as number)) cellT[i] = t;
  }

  /** Sets subscriber `no`'s MSISDN (key `mk`, NaN when not digits), or clears it (undefined). */
  private setMsisdn(no: number, msisdn: string | undefined, mk: number): void {
    this.msisdns[no] = msisdn;
    this.num[STRIDE * no + F_MSISDN] = msisdn !== undefined && mk === mk ? mk : NONE;
  }

  /**
   * The latest link wins, both ways: the subscriber's previous number no longer leads to it
   * (a number given up is recycled to someone else: their payment must not be judged by this
   * subscriber's cells), and the subscriber the number led to before no longer holds it (so
   * that subscriber's own next event naming the number links it back).
   */
  private link(no: number, msisdn: string, mk: number): void {
    const own = this.refs[2 * no] as string;
    const old = this.msisdns[no];
    if (old !== undefined && this.imsiByMsisdn.get(old) === own) this.imsiByMsisdn.delete(old);
    const prev = this.imsiByMsisdn.get(msisdn);
    if (prev !== undefined && prev !== own) {
      const p = this.find(prev, digitsKey(prev));
      if (p >= 0 && this.msisdns[p] === msisdn) this.setMsisdn(p, undefined, NaN);
    }
    this.setMsisdn(no, msisdn, mk);
    this.imsiByMsisdn.set(msisdn, own);
  }

  imsiOf(msisdn: string): string | undefined {
    return this.imsiByMsisdn.get(msisdn);
  }

  identifiers(imsi: string): { msisdn?: string; imei?: string } | undefined {
    const no = this.find(imsi, digitsKey(imsi));
    if (no < 0) return undefined;
    const msisdn = this.msisdns[no];
    const imei = this.imeis[no];
    return { ...(msisdn ? { msisdn } : {}), ...(imei ? { imei } : {}) };
  }

  /** Cells the subscriber was on at or after `since`, with the last time on each. */
  cellsSince(imsi: string, since: number): [string, number][] {
    const no = this.find(imsi, digitsKey(imsi));
    if (no < 0) return [];
    const out: [string, number][] = [];
    const c0 = this.refs[2 * no + 1];
    if (c0 === undefined) return out;
    const t0 = this.num[STRIDE * no + F_CELL0_T] as number;
    if (t0 >= since) out.push([c0, t0]);
    const cells = this.cells[no];
    const cellT = this.cellTs[no];
    if (cells === undefined || cellT === undefined) return out;
    for (let i = 0; i < cells.length; i++) {
      const t = cellT[i] as number;
      if (t >= since) out.push([cells[i] as string, t]);
    }
    return out;
  }

  /**
   * Forget cells last seen before `before`, and whole subscribers (with their MSISDN/IMEI
   * links) last seen before `linkBefore`. Links outlive cell history: an attach that names
   * only the IMSI, hours after the one that carried the MSISDN, must still join a payment.
   */
  expire(before: number, linkBefore: number = before): void {
    const num = this.num;
    const refs = this.refs;
    for (let no = 0; no < this.msisdns.length; no++) {
      const imsi = refs[2 * no];
      if (imsi === undefined) continue;
      const b = STRIDE * no;
      const cells = this.cells[no];
      const cellT = this.cellTs[no];
      if ((num[b + F_LAST] as number) < linkBefore) {
        const k = num[b + F_KEY] as number;
        if (k !== k) this.otherImsis.delete(imsi);
        else this.remove(k);
        const msisdn = this.msisdns[no];
        if (msisdn && this.imsiByMsisdn.get(msisdn) === imsi) this.imsiByMsisdn.delete(msisdn);
        refs[2 * no] = undefined;
        refs[2 * no + 1] = undefined;
        this.msisdns[no] = undefined;
        this.imeis[no] = undefined;
        this.cells[no] = undefined;
        this.cellTs[no] = undefined;
        this.free.push(no);
        this.live--;
        continue;
      }
      if (refs[2 * no + 1] === undefined) continue;
      // The cells kept, in first-seen order: the first one kept becomes the first cell.
      let first = (num[b + F_CELL0_T] as number) >= before;
      if (!first) refs[2 * no + 1] = undefined;
      if (cells === undefined || cellT === undefined) continue;
      let k = 0;
      for (let i = 0; i < cells.length; i++) {
        const t = cellT[i] as number;
        if (t < before) continue;
        if (!first) {
          refs[2 * no + 1] = cells[i] as string;
          num[b + F_CELL0_T] = t;
          first = true;
          continue;
        }
        cells[k] = cells[i] as string;
        cellT[k++] = t;
      }
      if (k === 0) {
        this.cells[no] = undefined;
        this.cellTs[no] = undefined;
      } else {
        cells.length = k;
        cellT.length = k;
      }
    }
  }

  get size(): number {
    return this.live;
  }
}
