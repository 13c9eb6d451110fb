import { EventDecoder, recordTime, recordType, SubscriberDecoder, validateEvent, type FgEvent } from '../events/index.js';
import type { Engine } from './engine.js';
import { SCANNED, type OrderedBatch } from './replay-reader.js';

/**
 * Rows per stride of warmDevices: the records touched for one stride stay in the CPU's caches
 * until their reports are decoded a stride later (a whole batch's, touched at its start, did
 * not), and each call touches enough records that their loads overlap.
 */
const WARM_AHEAD = 16;

/**
 * The engine's half: decodes each ordered batch and hands the events to the engine in that
 * order (`processOrdered`: the reader has deduplicated and ordered them already). With a
 * `side`, the engine is one of two partitioned engines (EngineOptions.partition): events of
 * the other side only move its clock (`advanceOrdered`), and are not decoded. The subscriber
 * side decodes with SubscriberDecoder: its attaches and registrations read their strings from
 * the batch only when the engine asks for them, so each is released once processed (the batch
 * is handed back after `consume`).
 */
export class ReplayFeed {
  private readonly decoder: EventDecoder | null;
  private readonly subscriberDecoder: SubscriberDecoder | null;
  /** what the last batch's warmDevices returned (see consume) */
  warmSink = 0;

  constructor(
    private readonly engine: Engine,
    private readonly side?: 'device' | 'subscriber',
  ) {
    // Reports' serials are looked up in the engine's device records from their bytes.
    this.decoder = side === 'subscriber' ? null : new EventDecoder({ devices: engine.deviceRecords });
    this.subscriberDecoder = side === 'subscriber' ? new SubscriberDecoder() : null;
  }

  consume(b: OrderedBatch): void {
    const buf = Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength);
    const side = this.side;
    const rows = b.rows;
    // The device records of a report are touched (EventDecoder.warmDevices) one to two strides
    // of WARM_AHEAD rows before it is decoded: as the stride before begins.
    const warm = this.decoder;
    let sink = warm === null ? 0 : warm.warmDevices(b.rec, 0, Math.min(rows, WARM_AHEAD));
    for (let i = 0; i < rows; i++) {
      if (warm !== null && i % WARM_AHEAD === 0) sink ^= warm.warmDevices(b.rec, i + WARM_AHEAD, Math.min(rows, i + 2 * WARM_AHEAD));
      const seq = b.base + i;
      if (b.kinds[i] === SCANNED) {
        if (side !== undefined) {
          const ty = recordType(b.rec, i);
          // 1 and 2 (report, session) are device events; 3 to 5 subscriber events
          if ((ty <= 2) !== (side === 'device')) {
            this.engine.advanceOrdered(recordTime(b.rec, i), seq);
            continue;
          }
        }
        const sd = this.subscriberDecoder;
        if (sd !== null) {
          const e = sd.decode(buf, b.rec, i);
          this.engine.processOrdered(e, seq);
          if (e.type !== 'payment.auth') e.release();
        } else {
          const d = this.decoder as EventDecoder;
          const e = d.decodeForEngine(buf, b.rec, i);
          this.engine.processOrdered(e, seq);
          d.release(e);
        }
        continue;
      }
      const e = reparse(buf, b.spans[2 * i] as number, b.spans[2 * i + 1] as number);
      const mine = side === undefined || e.type === 'registry.update' || (e.type === 'femto.report' || e.type === 'femto.session') === (side === 'device');
      if (mine) this.engine.processOrdered(e, seq);
      else this.engine.advanceOrdered(e.t, seq);
    }
    // Kept, so that the touching loads are not dropped as unused.
    this.warmSink = sink;
  }
}

/** A line the reader validated already, parsed again on this side (lines the scanner left: rare). */
function reparse(buf: Buffer, start: number, end: number): FgEvent {
  const v = validateEvent(JSON.parse(buf.toString('utf8', start, end)));
  if (!v.ok) throw new Error('an event the reader accepted failed validation on the engine side');
  return v.event;
}
