/**
 * The audit log: every security decision (enrollment allowed or refused, a status change,
 * a revocation, a token created, a key reuse refused) is one event. Append-only, and
 * hash-chained (chain.ts), so a change to a stored event shows.
 */
import type { ChainReport, VerifyOptions } from './chain.js';

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
  /** its link in the log's hash chain (chain.ts): SHA-256 hex of the event and the one before it */
  hash: string | null;
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
  /** Walks the whole log and checks its hash chain (chain.ts), and that it still holds the anchor when given. */
  verify(opts?: VerifyOptions): Promise<ChainReport>;
  /** how many events the log holds (for a progress bar) */
  count(): Promise<number>;
}

export { CHAIN_GENESIS, ChainVerifier, chainHash, verifyChain, wellFormed } from './chain.js';
export type { ChainAnchor, ChainBreak, ChainedRow, ChainReport, VerifyOptions } from './chain.js';
