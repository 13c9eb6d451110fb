import type { FemtoReportEvent, FemtoSessionEvent, ImsRegisterEvent, PaymentAuthEvent, RegistryUpdateEvent, UeAttachEvent } from '../events/index.js';
import type { Finding } from './alerts.js';
import type { RuleId, RulesConfig } from './config.js';
import type { CellFlags } from './cell-flags.js';
import type { CellState } from './cell-records.js';
import type { DeviceRuntime, DeviceView, RegistryView, SubscriberIndex } from './state.js';

/** What a rule may read and do. Rules keep their own windows; shared state is the engine's. */
export interface RuleContext {
  readonly cfg: RulesConfig;
  readonly registry: RegistryView;
  readonly subscribers: SubscriberIndex;
  readonly flags: CellFlags;
  /**
   * runtime state of a device the engine has seen: its sessions and addresses as before this
   * event; its lastSeen and announced cells already include this event
   */
  runtime(serial: string): DeviceRuntime | undefined;
  /**
   * Cell ids interned as small integers, shared by the rules: a neighbour scan is compared as
   * numbers in a few contiguous arrays, not as strings spread over the heap. The engine frees
   * numbers nothing holds (the ids come from devices: an unbounded set), and it knows only the
   * holders on DeviceRuntime (`moving`, `loc`): a rule that keeps numbers anywhere
   * else must be marked by the engine's `markHeldCellNos`, or a freed number may name another cell.
   */
  cellNo(cellId: string): number;
  cellName(no: number): string;
  /**
   * In onReport: the report's `neighbors` as cell numbers, in order (`neighborIds[i]` is
   * `cellNo(e.neighbors[i])`, for i below `neighborCount`). Interned once per report by
   * the engine; the array is reused, valid only during the handler.
   */
  readonly neighborIds: Int32Array;
  /**
   * In onReport: how many neighbours the report names (`e.neighbors.length`, 0 when it has
   * none). Read this, not `e.neighbors`: a replayed report makes that array from the line's
   * bytes when asked (EventDecoder.decodeForEngine), so only for a finding's evidence.
   */
  readonly neighborCount: number;
  /**
   * In onReport: the report's GPS fix as numbers, [1, lat, lon, accuracyM (0 when the fix gives
   * none)], or 0 first when the report has no fix. Read this, not `e.gps`: a replayed report
   * makes that object only when asked (EventDecoder.decodeForEngine), so only for evidence. The
   * array is reused, valid only during the handler.
   */
  readonly gpsFix: Float64Array;
  /** the time of the first event of the stream (baseline for idleness) */
  readonly startT: number;
  raise(f: Finding): void;
  /** has this rule already raised for this subject? (to skip repeated work) */
  raised(rule: RuleId, subject: { serial?: string; cellId?: string; txId?: string }): boolean;
}

/**
 * One detection rule (one file per rule in rules/). Handlers run in event-time order, before
 * the engine updates its shared state with the same event.
 *
 * The engine looks each event's entity up once and hands its record to every handler: for a
 * session or report the device's runtime record (`dev.reg` is its registry entry, undefined
 * for an unregistered serial; rules keep their per-device state on it), for an attach or an
 * IMS registration with a cell the cell's record. A rule must not look the same entity up in
 * a map of its own: that lookup per rule per event was most of the engine's time.
 */
export interface Rule {
  readonly id: RuleId;
  onSession?(e: FemtoSessionEvent, ctx: RuleContext, dev: DeviceRuntime): void;
  onReport?(e: FemtoReportEvent, ctx: RuleContext, dev: DeviceRuntime): void;
  onAttach?(e: UeAttachEvent, ctx: RuleContext, cell: CellState): void;
  onIms?(e: ImsRegisterEvent, ctx: RuleContext, cell: CellState | undefined): void;
  onPayment?(e: PaymentAuthEvent, ctx: RuleContext): void;
  onRegistryUpdate?(e: RegistryUpdateEvent, before: DeviceView | undefined, after: DeviceView, ctx: RuleContext): void;
  /**
   * called as event time advances (at most once per minute of event time) and at the end of
   * input with `final` set: a rule that throttles its own checks must not skip that last one
   */
  onTick?(t: number, ctx: RuleContext, final?: boolean): void;
}
