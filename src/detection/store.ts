import type { Alert } from './alerts.js';
import type { RuleId, Severity } from './config.js';
import type { CellFlagRecord } from './cell-flags.js';

export type AlertStatus = 'open' | 'acknowledged' | 'resolved';

export interface StoredAlert extends Alert {
  status: AlertStatus;
  statusBy: string | null;
  statusNote: string | null;
  updatedAt: string;
  /** when its automatic responses ran (null: not yet; live detection runs them until recorded) */
  respondedAt: string | null;
}

export interface AlertFilter {
  rule?: RuleId | undefined;
  /** this severity or higher */
  minSeverity?: Severity | undefined;
  status?: AlertStatus | undefined;
  serial?: string | undefined;
  cellId?: string | undefined;
  /** first event time at or after (RFC 3339) */
  since?: string | undefined;
  limit?: number | undefined;
  /** keyset cursor: alerts ordered by (ts desc, id) after this id */
  before?: string | undefined;
}

/** What `AlertStore.upsert` made of one finding. */
export interface UpsertedAlert {
  /** the stored alert after the finding was added (stored count, firstSeen, severity, status) */
  alert: StoredAlert;
  /** the store had no alert with this id before */
  isNew: boolean;
  /** rank (`SEVERITY_RANK`) of the stored severity before the finding, -1 when new */
  severityBefore: number;
  /** the stored alert was resolved: the finding reopened it (status open, its responses due again) */
  reopened: boolean;
}

/** Port: alerts as the live engine folds them. */
export interface AlertStore {
  /**
   * Adds one finding of `alert` (the live engine calls it once per fold), atomically. A new id
   * is stored with count 1. Otherwise the store folds by itself, whatever the engine's alert
   * book still holds (it starts empty after a restart and drops idle alerts): count + 1,
   * firstSeen the earlier, lastSeen the later; severity, summary and evidence replaced only
   * when `alert.severity` ranks strictly higher than the stored one (as `AlertBook.fold`);
   * ts and subject kept; status kept, except that a resolved alert is reopened (status open,
   * statusBy `system:detection`, respondedAt cleared: a new incident); updatedAt = `at`. The count is never reset: an event
   * processed again after a crash between this write and the cursor save counts its finding
   * twice (at-least-once).
   *
   * Returns what the store made of the finding, read in the same atomic step as the write: the
   * stored alert after it, whether the store had no row for the id before (`isNew`), and the
   * stored severity's rank before (`SEVERITY_RANK`, -1 when new). Live detection tells sinks
   * and responses what the store says, not what its engine's book says, so that a restart or
   * a dropped idle alert changes nothing outside the process.
   */
  upsert(alert: Alert, at: string): Promise<UpsertedAlert>;
  get(id: string): Promise<StoredAlert | null>;
  list(filter: AlertFilter): Promise<StoredAlert[]>;
  setStatus(id: string, status: AlertStatus, by: string, note: string | null, at: string): Promise<StoredAlert | null>;
  /** Records that the alert's automatic responses ran (`respondedAt`); false when there is no such alert. */
  markResponded(id: string, at: string): Promise<boolean>;
}

export interface PaymentHold {
  txId: string;
  msisdn: string;
  alertId: string;
  status: 'held' | 'released';
  heldAt: string;
  releasedAt: string | null;
  releasedBy: string | null;
  reason: string | null;
}

/** Port: payments held by the payment-exposure response. */
export interface PaymentHoldStore {
  /** Holds a payment; false when it is already held or released (a released payment stays released). */
  hold(h: { txId: string; msisdn: string; alertId: string; at: string }): Promise<boolean>;
  release(txId: string, by: string, reason: string, at: string): Promise<PaymentHold | null>;
  get(txId: string): Promise<PaymentHold | null>;
  list(status?: 'held' | 'released', limit?: number): Promise<PaymentHold[]>;
}

/**
 * Port: the engine's cell flags, kept across restarts. payment-exposure judges a payment
 * against flags up to `flagRetentionMs` old (7 days by default), far more than the recent
 * events a restart replays: without them a payment after a restart would be judged against
 * a rogue cell's flag as if it had never been raised.
 */
export interface CellFlagStore {
  /** every flag kept */
  load(): Promise<CellFlagRecord[]>;
  /** Writes these flags (each replacing its cell's) and forgets those whose latest flag is before `forgetBefore`, in one atomic step. */
  save(flags: readonly CellFlagRecord[], forgetBefore: number): Promise<void>;
}
