import type { Alert } from './alerts.js';
import type { RuleId, Severity } from './config.js';

export type AlertStatus = 'open' | 'acknowledged' | 'resolved';

export interface StoredAlert extends Alert {
  status: AlertStatus;
  statusBy: string | null;
  statusNote: string | null;
  updatedAt: string;
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

/** Port: alerts as the live engine folds them. */
export interface AlertStore {
  /** Inserts or updates (count, lastSeen, severity, summary, evidence) by id; keeps status. */
  upsert(alert: Alert, at: string): Promise<void>;
  get(id: string): Promise<StoredAlert | null>;
  list(filter: AlertFilter): Promise<StoredAlert[]>;
  setStatus(id: string, status: AlertStatus, by: string, note: string | null, at: string): Promise<StoredAlert | null>;
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
