import type { FemtoReportEvent, FemtoSessionEvent, ImsRegisterEvent, PaymentAuthEvent, RegistryUpdateEvent, UeAttachEvent } from '../events/index.js';
import type { Finding } from './alerts.js';
import type { RuleId, RulesConfig } from './config.js';
import type { CellFlags, DeviceRuntime, DeviceView, RegistryView, SubscriberIndex } from './state.js';

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
  /** the time of the first event of the stream (baseline for idleness) */
  readonly startT: number;
  raise(f: Finding): void;
  /** has this rule already raised for this subject? (to skip repeated work) */
  raised(rule: RuleId, subject: { serial?: string; cellId?: string; txId?: string }): boolean;
}

/**
 * One detection rule (one file per rule in rules/). Handlers run in event-time order, before
 * the engine updates its shared state with the same event.
 */
export interface Rule {
  readonly id: RuleId;
  onSession?(e: FemtoSessionEvent, ctx: RuleContext): void;
  onReport?(e: FemtoReportEvent, ctx: RuleContext): void;
  onAttach?(e: UeAttachEvent, ctx: RuleContext): void;
  onIms?(e: ImsRegisterEvent, ctx: RuleContext): void;
  onPayment?(e: PaymentAuthEvent, ctx: RuleContext): void;
  onRegistryUpdate?(e: RegistryUpdateEvent, before: DeviceView | undefined, after: DeviceView, ctx: RuleContext): void;
  /**
   * called as event time advances (at most once per minute of event time) and at the end of
   * input with `final` set: a rule that throttles its own checks must not skip that last one
   */
  onTick?(t: number, ctx: RuleContext, final?: boolean): void;
}
