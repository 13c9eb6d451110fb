/** What the detection engine (engine.ts) is given and what it counts. */
import type { FgEvent } from '../events/index.js';
import type { Alert, AlertRetention, Finding } from './alerts.js';
import type { DetectionConfig } from './config.js';
import type { EnginePartition } from './partition.js';
import type { RegistryView } from './state.js';

export interface EngineOptions {
  registry: RegistryView;
  config: DetectionConfig;
  /** called for every finding after folding: `isNew` tells a raise from a repeat; `severityBefore` is the alert's SEVERITY_RANK before this finding (-1 when new) */
  onAlert?: (alert: Alert, isNew: boolean, finding: Finding, severityBefore: number) => void;
  /**
   * Long-running engines (the live server): the alert book drops alerts idle for `idleMs` of
   * event time (checked hourly) and holds at most `max`. Default: every alert is kept (the book
   * is `femtoguard detect`'s output).
   */
  alertRetention?: AlertRetention;
  /** called after each event has been processed (live detection advances its cursor with it) */
  onProcessed?: (e: FgEvent) => void;
  /** the cell-number dictionary is swept no sooner than at this size (default 4096; tests make it small) */
  cellSweepMin?: number;
  /** device records kept for serials not in the registry, least recently seen evicted first (default 100,000) */
  unknownDeviceCap?: number;
  /**
   * `femtoguard detect` over files runs two engines on two threads over the same ordered
   * stream: one runs the rules of device events (sessions, reports, registry updates, idle
   * devices), the other those of subscriber events (attaches, IMS registrations, payments).
   * Default: one engine runs everything (the live server, stdin replay).
   *
   * What the split relies on (a rule added later must keep it): the only state one side reads
   * of the other's is the cell flags, which cross with their events' order numbers. A
   * subscriber-side rule must not read device records (`ctx.runtime`) or ask `ctx.raised` about
   * a device-side rule, and a rule that raises from `onTick` must be on one side only.
   */
  partition?: EnginePartition;
  /** remembers the cells flagged since the last `takeFlagChanges` (the live server keeps flags across restarts) */
  trackFlags?: boolean;
}

/**
 * Admission publishes an event for every refused check-in, under the serial the client claimed
 * (no certificate needed to be refused): records of serials not in the registry must be bounded.
 */
export const UNKNOWN_DEVICE_CAP = 100_000;

export interface EngineStats {
  events: number;
  byType: Record<string, number>;
  duplicates: number;
  late: number;
  /** older than the dedup window: dropped, since idempotency can no longer be guaranteed for them */
  tooOld: number;
  findings: number;
}
