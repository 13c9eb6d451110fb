/**
 * The SeGW bridge's surface: what it needs (`SegwBridgeDeps`), what it offers (`SegwBridge`),
 * and which registry statuses it blocks. The bridge itself is in bridge.ts.
 */
import type { AuditEventInput } from '../audit-log/index.js';
import type { Logger } from '../core/logger.js';
import { REVOKING_STATUSES, type DeviceStatus } from '../registry/index.js';
import type { SessionEventInput } from './session.js';

/** Statuses whose live sessions are torn down: quarantine (suspended), lost, decommissioned. */
export const BLOCKING_STATUSES: readonly DeviceStatus[] = Object.keys(REVOKING_STATUSES) as DeviceStatus[];
export const isBlocking = (s: DeviceStatus | null | undefined): boolean => s !== null && s !== undefined && BLOCKING_STATUSES.includes(s);

/**
 * What femtoguard said of a batch it answered. A refused event is refused for good (it fails
 * the contract, is dated too far ahead, ...): sending it again would be refused again, so the
 * bridge logs it and drops it. Duplicates are not refusals: event ids make redelivery idempotent.
 */
export interface IngestResult {
  /** refused events, by their index in the batch (0-based), with femtoguard's reason */
  rejected: { index: number; reason: string }[];
}

export interface SegwBridgeDeps {
  /** charon's VICI unix socket */
  viciPath: string;
  /**
   * Hands session events to femtoguard (event store + bus in process, or POST /v1/events).
   * Throws only when the batch may succeed later (femtoguard unreachable, 5xx): it is then
   * kept and sent again with backoff. Events femtoguard refuses are returned, not thrown.
   */
  ingest(events: SessionEventInput[]): Promise<IngestResult | void>;
  /** the device's registry status, null if unknown; throws if it cannot be read */
  deviceStatus(serial: string): Promise<DeviceStatus | null>;
  /** where `segw.terminated` goes */
  audit(event: AuditEventInput): Promise<void>;
  log: Logger;
  now?: () => Date;
  /** reconnect backoff bounds, ms */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** per VICI request */
  requestTimeoutMs?: number;
  /** events kept for redelivery while femtoguard cannot take them */
  maxOutbox?: number;
  /** redelivery backoff bounds after a failed ingest, ms (default 1 s to 30 s) */
  ingestRetryMinMs?: number;
  ingestRetryMaxMs?: number;
  /** after a failed device-status lookup: how soon and how many times it is tried again (2 s, 3) */
  statusRetryMs?: number;
  statusRetries?: number;
  /** then, while the status stays unreadable and the SA up, how often it is tried (15 s) */
  statusRecheckMs?: number;
  /** how often every live SA's device status is checked again (the net under the change feed); 0 = never */
  sweepMs?: number;
  /**
   * Where the sessions reported up (and downs not yet delivered) are kept across restarts of the
   * bridge itself; read at `start`, rewritten as they change. Without it they live in memory only.
   */
  stateFile?: string;
  /** state file writes are coalesced over this many ms (250) */
  stateWriteDelayMs?: number;
}

export interface BlockResult {
  serial: string;
  /** IKE SAs terminated */
  terminated: { uniqueId: string; name: string; remoteHost: string }[];
  ocspFlushed: boolean;
  /** cached CRLs dropped too: the fallback when OCSP cannot answer must not be a pre-revocation CRL */
  crlFlushed: boolean;
  /** VICI was unreachable: the next (re)connect reconciles */
  deferred: boolean;
  error?: string;
}

export interface SegwBridge {
  /** starts connecting in the background; never throws (charon may come up later) */
  start(): void;
  /** resolves when connected and subscribed (the next time, if not now) */
  ready(): Promise<void>;
  readonly connected: boolean;
  /** tears down the device's live IKE SAs and drops cached OCSP responses */
  block(serial: string, status: DeviceStatus, reason?: string): Promise<BlockResult>;
  /** checks the registry status of every live SA's device now, blocking where needed */
  sweep(): Promise<void>;
  /** waits until queued events were handed to `ingest` (tests, shutdown) */
  drain(): Promise<void>;
  stop(): Promise<void>;
}
