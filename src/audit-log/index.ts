/**
 * The audit log: every security decision (enrollment allowed or refused, a status change,
 * a revocation, a token created, a key reuse refused) is one event. Append-only.
 */
export type AuditOutcome = 'success' | 'denied' | 'failure';

export interface AuditEventInput {
  /** dotted verb, e.g. `est.enroll`, `device.status_changed`, `pki.key_reuse_refused` */
  action: string;
  /** who acted: `token:<id>`, `cli`, `device:<serial>`, `system` */
  actor: string;
  /** what it acted on: a device serial, a certificate serial, a token id */
  subject?: string | undefined;
  outcome: AuditOutcome;
  /** safe facts only: never keys, tokens, passphrases or full subscriber identifiers */
  details?: Record<string, unknown> | undefined;
  at?: Date;
}

export interface AuditEvent extends Required<Omit<AuditEventInput, 'at' | 'details' | 'subject'>> {
  id: number;
  at: string;
  subject: string | null;
  details: Record<string, unknown> | null;
}

export interface AuditFilter {
  action?: string | undefined;
  subject?: string | undefined;
  outcome?: AuditOutcome | undefined;
  /** only events with id greater than this, oldest first (a follower reading forward from its cursor) */
  afterId?: number | undefined;
  /** only events with id less than this, newest first (paging back from the newest) */
  beforeId?: number | undefined;
  limit?: number | undefined;
}

/** Port: where audit events go. The one thing every domain may write to. */
export interface AuditSink {
  record(event: AuditEventInput): Promise<void>;
}

export interface AuditStore extends AuditSink {
  list(filter: AuditFilter): Promise<AuditEvent[]>;
}
