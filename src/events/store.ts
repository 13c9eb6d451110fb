import type { FgEvent } from './types.js';

/** An event as stored: its place in the log (`seq`) and its original JSON. */
export interface StoredEvent {
  seq: number;
  event: FgEvent;
}

/**
 * Port: the durable event log behind ingestion. `append` returns only once the events are
 * committed, so an acknowledged event survives the process being killed right after.
 * Idempotent on `id`: an id already in the log is counted as a duplicate and not stored again.
 */
export interface EventStore {
  append(events: readonly FgEvent[]): Promise<{ stored: StoredEvent[]; duplicates: number; /** positions in `events` of the duplicates, in order */ duplicateAt: number[] }>;
  /** Events with seq > `afterSeq`, in seq order. */
  readSince(afterSeq: number, limit: number): Promise<StoredEvent[]>;
  /** The first seq whose event time is at or after `t` (for warm-up replays). */
  firstSeqAtOrAfter(t: number): Promise<number>;
  lastSeq(): Promise<number>;
  /** Drops events older than `before` (epoch ms); returns how many. */
  prune(before: number): Promise<number>;
  count(): Promise<number>;
  /** A named consumer's position in the log (e.g. how far detection got). */
  getCursor(name: string): Promise<number>;
  setCursor(name: string, seq: number): Promise<void>;
}

/** Port: how accepted events reach the detection engine. In-process by default. */
export interface EventBus {
  publish(events: readonly StoredEvent[]): Promise<void>;
  subscribe(handler: (events: readonly StoredEvent[]) => Promise<void> | void): () => void;
  close(): Promise<void>;
}
