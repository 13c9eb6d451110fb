import { decode, DigitTable, encode } from './digit-table.js';
import { FlagSet } from './flags.js';
import { scoreExposure, type ExposureScore, type RiskPolicy } from './score.js';

/**
 * The in-memory side of the exposure index, for the payment risk API's latency: every
 * subscriber by MSISDN and IMSI with the time and cell of their latest observation, and, for
 * cells ever flagged (lapsed or not: a cell flagged again counts earlier visits within the
 * look-back, as detection does), the last time each subscriber was on them. Rebuilt from the store at
 * start; kept current from the event bus. A risk check is two table lookups and a walk over
 * the subscriber's few flagged cells: no I/O.
 *
 * Subscribers live in typed arrays (slot → IMSI, MSISDN and its link time, latest time and cell) and two
 * `DigitTable`s (IMSI → slot, MSISDN → slot): about 80 bytes a subscriber, none of it objects
 * the garbage collector has to walk. Exposures are one map entry each.
 */
export class HotIndex {
  readonly flags: FlagSet;
  private readonly slotByImsi = new DigitTable();
  private readonly slotByMsisdn = new DigitTable();
  private count = 0;
  /** identifiers as DigitTable encodes them; tag 0: none, or not encodable and kept in `odd` */
  private imsiVal = new Float64Array(1024);
  private imsiTag = new Uint8Array(1024);
  private msisdnVal = new Float64Array(1024);
  private msisdnTag = new Uint8Array(1024);
  /** when the slot was first seen with its number: a number belongs to its newest link */
  private msisdnSince = new Float64Array(1024);
  private readonly odd = new Map<string, string>();
  private lastSeen = new Float64Array(1024);
  private lastCell = new Int32Array(1024);
  private readonly cellIds: string[] = [];
  private readonly cellIndex = new Map<string, number>();
  /** slot → flagged cell → last time on it */
  private readonly exposures = new Map<number, Map<string, number>>();

  /** `flagRetentionMs`: detection's `rules['payment-exposure'].flagRetentionMs` (flags lapse as there). */
  constructor(flagRetentionMs: number) {
    this.flags = new FlagSet(flagRetentionMs);
  }

  get size(): number {
    return this.count;
  }

  /** Number of subscribers with at least one exposure to a flagged cell. */
  get exposedCount(): number {
    return this.exposures.size;
  }

  /**
   * One observation of a subscriber (attach or IMS registration), in any order. `linkSince`:
   * when the subscriber was first seen with `msisdn` (the rebuild passes the store's; live, the
   * observation's time). The subscriber's latest observation names its number (an older one
   * only fills a gap), and the number goes to it unless another IMSI's link to it is newer: a
   * number belongs to its newest link, whatever order subscribers are loaded in.
   */
  observe(imsi: string, t: number, cellId: string | null | undefined, msisdn: string | null | undefined, linkSince: number = t): void {
    const slot = this.slotOf(imsi);
    if (t >= (this.lastSeen[slot] as number)) {
      this.lastSeen[slot] = t;
      if (cellId) this.lastCell[slot] = this.internCell(cellId);
      if (msisdn) this.link(slot, msisdn, linkSince);
    } else if (msisdn && (this.msisdnOf(slot) === null || this.msisdnOf(slot) === msisdn)) this.link(slot, msisdn, linkSince);
    if (cellId && this.flags.has(cellId)) this.expose(slot, cellId, t);
  }

  /** Records that a subscriber was on a flagged cell (loading a newly flagged cell's history). */
  addExposure(imsi: string, cellId: string, lastOn: number): void {
    this.expose(this.slotOf(imsi), cellId, lastOn);
  }

  imsiOfMsisdn(msisdn: string): string | undefined {
    const s = this.slotByMsisdn.get(msisdn);
    return s === undefined ? undefined : this.imsiOf(s);
  }

  has(imsi: string): boolean {
    return this.slotByImsi.get(imsi) !== undefined;
  }

  /** The latest observation of a subscriber, or undefined when unknown. */
  lastObservation(imsi: string): { t: number; cellId: string | null; msisdn: string | null } | undefined {
    const s = this.slotByImsi.get(imsi);
    if (s === undefined) return undefined;
    const c = this.lastCell[s] as number;
    return { t: this.lastSeen[s] as number, cellId: c >= 0 ? (this.cellIds[c] ?? null) : null, msisdn: this.msisdnOf(s) };
  }

  /** Scores a subscriber at `at` with the shared scoring function (`futureSkewMs`: see scoreExposure). */
  score(imsi: string, at: number, maxAgeMs: number, policy: RiskPolicy, futureSkewMs = 0): ExposureScore {
    const s = this.slotByImsi.get(imsi);
    const ex = s === undefined ? undefined : this.exposures.get(s);
    return scoreExposure(ex ?? EMPTY, (c, t) => this.flags.at(c, t), at, maxAgeMs, policy, futureSkewMs);
  }

  /** Forgets exposures older than `before` (retention). Subscribers stay until the next rebuild. */
  expire(before: number): void {
    for (const [slot, m] of this.exposures) {
      for (const [c, t] of m) if (t < before) m.delete(c);
      if (m.size === 0) this.exposures.delete(slot);
    }
  }

  private expose(slot: number, cellId: string, t: number): void {
    let m = this.exposures.get(slot);
    if (!m) this.exposures.set(slot, (m = new Map()));
    const prev = m.get(cellId);
    if (prev === undefined || t > prev) m.set(cellId, t);
  }

  private imsiOf(slot: number): string {
    const tag = this.imsiTag[slot] as number;
    return tag ? decode(this.imsiVal[slot] as number, tag) : (this.odd.get(`i${slot}`) as string);
  }

  private msisdnOf(slot: number): string | null {
    const tag = this.msisdnTag[slot] as number;
    return tag ? decode(this.msisdnVal[slot] as number, tag) : (this.odd.get(`m${slot}`) ?? null);
  }

  /**
   * Links a number to a subscriber from `since`. The subscriber leaves its previous number; the
   * number's previous holder gives it up, unless that holder's link is newer (an old event of a
   * recycled number's former owner arriving late): then the subscriber is left without a number,
   * as the store leaves it.
   */
  private link(slot: number, msisdn: string, since: number): void {
    const old = this.msisdnOf(slot);
    if (old === msisdn) {
      if (since < (this.msisdnSince[slot] as number)) this.msisdnSince[slot] = since;
      return;
    }
    if (old !== null && this.slotByMsisdn.get(old) === slot) this.slotByMsisdn.delete(old);
    const holder = this.slotByMsisdn.get(msisdn);
    if (holder !== undefined && holder !== slot && (this.msisdnSince[holder] as number) > since) {
      this.setMsisdn(slot, null, -Infinity);
      return;
    }
    if (holder !== undefined && holder !== slot) this.setMsisdn(holder, null, -Infinity);
    this.setMsisdn(slot, msisdn, since);
    this.slotByMsisdn.set(msisdn, slot);
  }

  private setMsisdn(slot: number, msisdn: string | null, since: number): void {
    const k = msisdn === null ? null : encode(msisdn);
    this.msisdnVal[slot] = k?.value ?? 0;
    this.msisdnTag[slot] = k?.tag ?? 0;
    this.msisdnSince[slot] = since;
    if (msisdn !== null && k === null) this.odd.set(`m${slot}`, msisdn);
    else this.odd.delete(`m${slot}`);
  }

  private slotOf(imsi: string): number {
    let s = this.slotByImsi.get(imsi);
    if (s !== undefined) return s;
    s = this.count++;
    if (s >= this.lastSeen.length) this.growSlots();
    const k = encode(imsi);
    this.imsiVal[s] = k?.value ?? 0;
    this.imsiTag[s] = k?.tag ?? 0;
    if (k === null) this.odd.set(`i${s}`, imsi);
    this.msisdnTag[s] = 0;
    this.msisdnSince[s] = -Infinity;
    this.lastSeen[s] = -Infinity;
    this.lastCell[s] = -1;
    this.slotByImsi.set(imsi, s);
    return s;
  }

  private growSlots(): void {
    const n = this.lastSeen.length * 2;
    const f64 = (a: Float64Array): Float64Array<ArrayBuffer> => {
      const b = new Float64Array(n);
      b.set(a);
      return b;
    };
    const u8 = (a: Uint8Array): Uint8Array<ArrayBuffer> => {
      const b = new Uint8Array(n);
      b.set(a);
      return b;
    };
    this.imsiVal = f64(this.imsiVal);
    this.imsiTag = u8(this.imsiTag);
    this.msisdnVal = f64(this.msisdnVal);
    this.msisdnTag = u8(this.msisdnTag);
    this.msisdnSince = f64(this.msisdnSince);
    this.lastSeen = f64(this.lastSeen);
    const cell = new Int32Array(n);
    cell.set(this.lastCell);
    this.lastCell = cell;
  }

  private internCell(cellId: string): number {
    let i = this.cellIndex.get(cellId);
    if (i === undefined) {
      i = this.cellIds.length;
      this.cellIds.push(cellId);
      this.cellIndex.set(cellId, i);
    }
    return i;
  }
}

const EMPTY: readonly (readonly [string, number])[] = [];
