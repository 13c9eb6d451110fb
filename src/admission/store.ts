/** Ports owned by admission: decision records and the gateway rotation state. */
import type { RecordedDecision, Verdict } from './types.js';

/** A decision as handed to the store, with who it is attributed to in the audit log. */
export interface DecisionWrite {
  decision: RecordedDecision;
  /** `device:<serial>`, `token:<id>` (a gateway reporting), `anonymous` */
  actor: string;
}

export interface DecisionFilter {
  serial?: string | undefined;
  decision?: Verdict | undefined;
  /** only decisions at or after this ISO time */
  since?: string | undefined;
  limit?: number | undefined;
}

/**
 * Port: where decision records live. Every decision is also an audit event
 * (`admission.admit` / `admission.deny`, subject = the serial); an adapter writes the record
 * and its audit event together, so the two can never disagree.
 */
export interface DecisionStore {
  /** Stores a batch atomically (one commit for many check-ins: the hot path batches). */
  record(writes: readonly DecisionWrite[]): Promise<void>;
  get(id: string): Promise<RecordedDecision | null>;
  /** newest first */
  list(filter: DecisionFilter): Promise<RecordedDecision[]>;
}

/**
 * One epoch of gateway address rotation: from `startedAt`, devices use `current` and have
 * been told `next`, which becomes current at `rotatesAt` (or when an operator forces it).
 */
export interface RotationEpoch {
  seq: number;
  current: string;
  next: string;
  /** the pool this epoch was cut from (so the CLI can rotate without the server's config) */
  pool: string[];
  startedAt: string;
  rotatesAt: string;
  actor: string;
  reason: string;
}

/** Port: the rotation state, shared by the server and the CLI through the database. */
export interface GatewayRotationStore {
  latest(): Promise<RotationEpoch | null>;
  /** the last `limit` epochs, oldest first */
  recent(limit: number): Promise<RotationEpoch[]>;
  /**
   * Appends the epoch after `prevSeq` (0 for the first). Compare-and-set: returns null when
   * another writer (the CLI, another node) appended first, so two rotations never both win.
   */
  append(epoch: Omit<RotationEpoch, 'seq'>, prevSeq: number): Promise<RotationEpoch | null>;
}
