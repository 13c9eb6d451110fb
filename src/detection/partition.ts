/**
 * The two sides of a partitioned engine (EngineOptions.partition): `femtoguard detect` over
 * files runs the rules of device events on one thread and those of subscriber events on
 * another (src/detection/replay-thread.ts); what crosses between them is defined here.
 */
import type { RuleId } from './config.js';

/** A cell flag raised on the device side, with the order number of the event that raised it. */
export interface FlagEvent {
  cellId: string;
  t: number;
  rule: RuleId;
  seq: number;
}

export type EnginePartition =
  | {
      side: 'device';
      /** every cell flag as it is raised (payment-exposure, on the subscriber side, reads them) */
      onFlag: (f: FlagEvent) => void;
    }
  | {
      side: 'subscriber';
      /**
       * The device side's flags raised by events before order number `seq`, each once, in order.
       * With `wait` (before a payment is judged, before this side flags a cell itself, before the
       * hourly expiry): all of them, waiting until the device side has got that far, so that
       * flags meet in the order of their events. Otherwise (`absorbFlags`, between batches):
       * those that have arrived, without waiting.
       */
      flagsBefore: (seq: number, wait: boolean) => readonly FlagEvent[];
    };

/** Rules that run on the subscriber side of a partitioned engine (every other rule runs on the device side). */
const SUBSCRIBER_SIDE = new Set<RuleId>(['unregistered-cell', 'subscriber-surge', 'ims-downgrade', 'payment-exposure']);
/** unregistered-cell has handlers on both sides: device events announce cells, attaches serve them. */
const BOTH_SIDES = new Set<RuleId>(['unregistered-cell']);

/** Does rule `id` run on `side`? */
export function runsOn(id: RuleId, side: 'device' | 'subscriber'): boolean {
  return BOTH_SIDES.has(id) || SUBSCRIBER_SIDE.has(id) === (side === 'subscriber');
}
