/**
 * Decoding of scanned subscriber events (ue.attach, ims.register, payment.auth: fast-scan.ts's
 * records) for the subscriber side of `femtoguard detect`, which reads few of their strings.
 * EventDecoder (fast-decode.ts) makes every string of an attach: `ts`, `id`, IMSI, IMEI and
 * MSISDN, five fresh strings per event, of which the subscriber side reads the identifiers only
 * as numbers (the subscriber index and subscriber-surge key digit identifiers by `digitsKey`),
 * the strings only for a subscriber or an identifier it has not seen, and `id` only in an
 * alert's evidence. Here an attach or a registration is an object whose identifiers' keys are
 * computed from the bytes and whose strings are made when first read (and kept). The cell id is
 * interned, as in EventDecoder. Payments (few) are decoded whole.
 *
 * Such an event reads its batch's bytes: it is valid only until its caller hands the batch
 * back (replay-thread.ts reuses batches once both workers acknowledged them), so the caller
 * calls `release` once the event is processed, and a string read after that throws instead of
 * reading another event's bytes. Nothing of the engine keeps an event (rules keep strings and
 * numbers); the strings read are ordinary strings and live on. So the decoder reuses a released
 * event's object for the next event of its type (an object per attach and registration was most
 * of the subscriber side's young garbage): a released event reads as released until then.
 */
import {
  D_AMOUNT,
  D_T,
  D_TS,
  F_CELL_ID,
  F_CURRENCY,
  F_ID,
  F_IMEI,
  F_IMSI,
  F_IPSEC,
  F_MERCHANT,
  F_METHOD,
  F_MSISDN,
  F_TS,
  F_TX_ID,
  REC_F64,
  REC_I32,
  T_ATTACH,
  T_IMS,
  T_PAYMENT,
  type EventRecords,
} from './fast-scan.js';
import { latin1 } from './fast-scan-values.js';
import { StringCache } from './intern-caches.js';
import type { ImsRegisterEvent, PaymentAuthEvent, UeAttachEvent } from './types.js';

/**
 * A digit string of at most 15 digits as a number, `10^length + value` (so `"007"` and `"7"`
 * differ), negated when the digits follow one `+`; NaN for anything else. Never 0. (The
 * subscriber index's key for identifiers: up to 15 digits fit a double exactly.)
 */
export function digitsKey(s: string): number {
  const n = s.length;
  let i = 0;
  let sign = 1;
  if (n > 0 && s.charCodeAt(0) === 43 /* + */) {
    if (n === 1) return NaN;
    sign = -1;
    i = 1;
  }
  if (n - i > 15) return NaN;
  let v = 0;
  let p = 1;
  for (; i < n; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
    p *= 10;
  }
  return sign * (p + v);
}

/** digitsKey of the text buf[s, e) (bytes of printable ASCII: each byte is one character). */
export function digitsKeyOf(buf: Uint8Array, s: number, e: number): number {
  let i = s;
  let sign = 1;
  if (e > s && buf[s] === 43 /* + */) {
    if (e - s === 1) return NaN;
    sign = -1;
    i++;
  }
  if (e - i > 15) return NaN;
  let v = 0;
  let p = 1;
  for (; i < e; i++) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
    p *= 10;
  }
  return sign * (p + v);
}

/**
 * The digitsKey of an event's subscriber identifiers, computed by the decoder from the bytes
 * (0 for an identifier the event does not carry, NaN for one that is not digits). Events
 * decoded otherwise (validateEvent, EventDecoder) carry none: their reader computes the keys.
 */
export interface SubscriberKeys {
  readonly imsiKey: number;
  readonly msisdnKey: number;
  readonly imeiKey: number;
}

const READ_AFTER_RELEASE = 'a scanned subscriber event was read after its batch was handed back (SubscriberDecoder: the engine must not keep events)';

/** What the two event classes share: the batch the strings are read from, until `release`. */
abstract class Scanned {
  t = 0;
  imsiKey = 0;
  msisdnKey = 0;
  /** the record's presence mask (fast-scan.ts) */
  protected mask = 0;
  /** `ts` when the line wrote a number */
  protected tsNumber = 0;
  protected buf: Uint8Array | null = null;
  protected i32: Int32Array | null = null;
  /** the record's first slot in i32 */
  protected b = 0;
  private tsText: string | undefined = undefined;
  private idText: string | undefined = undefined;
  private imsiText: string | undefined = undefined;
  private msisdnText: string | undefined = undefined;

  protected bind(buf: Uint8Array, i32: Int32Array, b: number, f64: Float64Array, fb: number): void {
    // A reused object (SubscriberDecoder) forgets the strings of its last event.
    this.tsText = undefined;
    this.idText = undefined;
    this.imsiText = undefined;
    this.msisdnText = undefined;
    this.buf = buf;
    this.i32 = i32;
    this.b = b;
    const mask = i32[b + 1]!;
    this.mask = mask;
    this.t = f64[fb + D_T]!;
    this.tsNumber = f64[fb + D_TS]!;
    this.imsiKey = this.keyOf(F_IMSI);
    this.msisdnKey = (mask & (1 << F_MSISDN)) === 0 ? 0 : this.keyOf(F_MSISDN);
  }

  /** Lets the batch go: the strings not read by now can no longer be. */
  release(): void {
    this.buf = null;
    this.i32 = null;
  }

  /** released: the decoder may reuse the object for its next event of this type */
  get released(): boolean {
    return this.buf === null;
  }

  get ts(): string | number {
    if (this.tsText !== undefined) return this.tsText;
    const i32 = this.i32;
    if (i32 === null) throw new Error(READ_AFTER_RELEASE);
    return i32[this.b + 2 + 3 * F_TS + 2] === 1 ? (this.tsText = this.text(F_TS)) : this.tsNumber;
  }

  get id(): string | undefined {
    return (this.mask & (1 << F_ID)) === 0 ? undefined : (this.idText ??= this.text(F_ID));
  }

  get imsi(): string {
    return (this.imsiText ??= this.text(F_IMSI));
  }

  get msisdn(): string | undefined {
    return (this.mask & (1 << F_MSISDN)) === 0 ? undefined : (this.msisdnText ??= this.text(F_MSISDN));
  }

  protected text(f: number): string {
    const buf = this.buf;
    const i32 = this.i32;
    if (buf === null || i32 === null) throw new Error(READ_AFTER_RELEASE);
    const p = this.b + 2 + 3 * f;
    return latin1(buf, i32[p]!, i32[p]! + i32[p + 1]!);
  }

  protected keyOf(f: number): number {
    const i32 = this.i32!;
    const p = this.b + 2 + 3 * f;
    return digitsKeyOf(this.buf!, i32[p]!, i32[p]! + i32[p + 1]!);
  }
}

/** A scanned ue.attach (see the module's doc: valid until `release`). */
export class ScannedAttach extends Scanned implements UeAttachEvent, SubscriberKeys {
  readonly type = 'ue.attach' as const;
  cellId = '';
  imeiKey = 0;
  private imeiText: string | undefined = undefined;

  get imei(): string | undefined {
    return (this.mask & (1 << F_IMEI)) === 0 ? undefined : (this.imeiText ??= this.text(F_IMEI));
  }

  /** @internal (SubscriberDecoder): the event of the record at `b`, in `e` when given (a released attach) */
  static of(buf: Uint8Array, i32: Int32Array, b: number, f64: Float64Array, fb: number, cellId: string, e: ScannedAttach = new ScannedAttach()): ScannedAttach {
    e.imeiText = undefined;
    e.bind(buf, i32, b, f64, fb);
    e.cellId = cellId;
    e.imeiKey = (e.mask & (1 << F_IMEI)) === 0 ? 0 : e.keyOf(F_IMEI);
    return e;
  }
}

/** A scanned ims.register (see the module's doc: valid until `release`). */
export class ScannedIms extends Scanned implements ImsRegisterEvent, SubscriberKeys {
  readonly type = 'ims.register' as const;
  ipsec = false;
  cellId: string | undefined = undefined;
  readonly imeiKey = 0;

  /** @internal (SubscriberDecoder): the event of the record at `b`, in `e` when given (a released registration) */
  static of(buf: Uint8Array, i32: Int32Array, b: number, f64: Float64Array, fb: number, cellId: string | undefined, e: ScannedIms = new ScannedIms()): ScannedIms {
    e.bind(buf, i32, b, f64, fb);
    e.ipsec = i32[b + 2 + 3 * F_IPSEC] === 1;
    e.cellId = cellId;
    return e;
  }
}

/** Slots of the cell id cache (a power of two; as EventDecoder's default). */
const CELL_SLOTS = 1 << 16;

/**
 * Decodes scanned subscriber events (see the module's doc). One instance per stream; holds a
 * bounded direct-mapped cache of cell id strings (CELL_SLOTS strings of at most 256 characters).
 */
export class SubscriberDecoder {
  private readonly cells = new StringCache(CELL_SLOTS);
  /** the last attach and registration handed out: reused once released (see the module's doc) */
  private attach: ScannedAttach | undefined = undefined;
  private ims: ScannedIms | undefined = undefined;

  /** the event of record `row`: what validateEvent(JSON.parse(line)).event gives, as read through its properties */
  decode(buf: Uint8Array, rec: EventRecords, row: number): ScannedAttach | ScannedIms | PaymentAuthEvent {
    const i32 = rec.i32;
    const b = row * REC_I32;
    const fb = row * REC_F64;
    switch (i32[b]) {
      case T_ATTACH: {
        const last = this.attach;
        const cellId = this.cell(buf, i32, b);
        return (this.attach = last !== undefined && last.released ? ScannedAttach.of(buf, i32, b, rec.f64, fb, cellId, last) : ScannedAttach.of(buf, i32, b, rec.f64, fb, cellId));
      }
      case T_IMS: {
        const last = this.ims;
        const cellId = (i32[b + 1]! & (1 << F_CELL_ID)) === 0 ? undefined : this.cell(buf, i32, b);
        return (this.ims = last !== undefined && last.released ? ScannedIms.of(buf, i32, b, rec.f64, fb, cellId, last) : ScannedIms.of(buf, i32, b, rec.f64, fb, cellId));
      }
      case T_PAYMENT:
        return payment(buf, i32, b, rec.f64, fb);
      default:
        throw new Error(`SubscriberDecoder.decode: row ${row} holds no scanned subscriber event`);
    }
  }

  /** The record's cellId, interned. */
  private cell(buf: Uint8Array, i32: Int32Array, b: number): string {
    const p = b + 2 + 3 * F_CELL_ID;
    return this.cells.get(buf, i32[p]!, i32[p + 1]!, i32[p + 2]!);
  }
}

/** A payment, whole (as EventDecoder makes it: same keys in the same order). */
function payment(buf: Uint8Array, i32: Int32Array, b: number, f64: Float64Array, fb: number): PaymentAuthEvent {
  const mask = i32[b + 1]!;
  const pts = b + 2 + 3 * F_TS;
  return {
    type: 'payment.auth',
    ts: i32[pts + 2] === 1 ? text(buf, i32, b, F_TS) : f64[fb + D_TS]!,
    id: (mask & (1 << F_ID)) === 0 ? undefined : text(buf, i32, b, F_ID),
    t: f64[fb + D_T]!,
    txId: text(buf, i32, b, F_TX_ID),
    msisdn: text(buf, i32, b, F_MSISDN),
    amountMinor: f64[fb + D_AMOUNT]!,
    currency: text(buf, i32, b, F_CURRENCY),
    method: (mask & (1 << F_METHOD)) === 0 ? undefined : text(buf, i32, b, F_METHOD),
    merchant: (mask & (1 << F_MERCHANT)) === 0 ? undefined : text(buf, i32, b, F_MERCHANT),
  };
}

function text(buf: Uint8Array, i32: Int32Array, b: number, f: number): string {
  const p = b + 2 + 3 * f;
  return latin1(buf, i32[p]!, i32[p]! + i32[p + 1]!);
}
