import type { GpsFix } from '../events/index.js';

/**
 * Every check a decision evaluates, in the order they are reported. The first failing
 * deny check is the one reason a refused device is told.
 */
export const CHECKS = [
  'endpoint-current',
  'cert-chain',
  'cert-expiry',
  'cert-revoked',
  'cert-serial-binding',
  'device-status',
  'source-prefix',
  'cells-allowed',
  'single-session',
  'gps-in-site',
  'neighbors-consistent',
] as const;
export type CheckCode = (typeof CHECKS)[number];

/**
 * Codes of a refusal made before or instead of the checks: the decision function threw
 * (fail closed), or the request could not be read at all.
 */
export type RefusalCode = 'internal-error' | 'malformed-report' | 'report-too-large';

export type Enforce = 'deny' | 'alert';

export interface Reason {
  code: CheckCode | RefusalCode;
  ok: boolean;
  /** what was compared, in words an operator reads in the audit log (never shown to the device) */
  detail: string;
  enforce: Enforce;
}

export type Verdict = 'admit' | 'deny';

export interface Decision {
  decision: Verdict;
  /**
   * The one code a refused device is told: the first failing deny check, or `stale-endpoint`
   * when the device used a gateway address whose grace period is over. Null when admitted.
   */
  reason: string | null;
  /** every check, passed or failed, in CHECKS order */
  reasons: Reason[];
  /** the identity the decision is about: the certificate's device, else the claimed serial */
  serial: string | null;
  /** SHA-256 (lowercase hex) of the certificate presented, when one was */
  certFingerprint: string | null;
  /** set when the endpoint is a retired gateway address past its grace period (ISO time it went stale) */
  staleSince: string | null;
  /**
   * The serial a certificate of femtoguard's issuing CA proved (the device its certificate
   * was issued to), null when none did: no certificate, a foreign or unrecorded one, the CA
   * locked, a failed decision. Only this identity is published to detection (a claimed serial
   * never is). Set by `decide`; not part of the stored record.
   */
  provenSerial?: string | null;
  /**
   * The serial the client claimed, when a certificate proved another one (the decision is
   * then recorded under the proven serial: `serial`). Stored, filterable (`serial=` matches
   * either), and in the audit event's details.
   */
  claimedSerial?: string | null;
}

/** How a session or check-in reached femtoguard. */
export type DecisionKind = 'checkin' | 'session-up' | 'session-down';

/**
 * What one decision is about. Either `clientChain` (DER, leaf first, as the TLS peer sent
 * it) or `certFingerprint` (an external gateway that already verified the chain).
 */
export interface DecisionInput {
  kind: DecisionKind;
  /** the serial the device claims (report body, IKE identity) */
  serial: string | null;
  clientChain?: readonly Buffer[] | undefined;
  certFingerprint?: string | undefined;
  /** the device's address as the connection shows it */
  sourceIp: string;
  cellIds?: readonly string[] | undefined;
  gps?: GpsFix | undefined;
  neighbors?: readonly string[] | undefined;
  /** `host:port` of the gateway address the device connected to */
  endpoint?: string | undefined;
  /** the connection arrived on femtoguard's main TLS listener (EST), not a pool address */
  mainListener?: boolean | undefined;
  now: Date;
}

/** A session reported by an external security gateway (strongSwan's VICI bridge, a vendor SeGW). */
export interface GatewaySessionInput {
  phase: 'up' | 'down';
  serial?: string | undefined;
  sourceIp: string;
  /** leaf first; DER */
  clientChain?: readonly Buffer[] | undefined;
  certFingerprint?: string | undefined;
  cellIds?: readonly string[] | undefined;
  /** the gateway address the device connected to (`host:port`) */
  endpoint?: string | undefined;
  /** pairs an `up` with its `down` */
  sessionId?: string | undefined;
  /**
   * event time as the gateway reported it; defaults to now. Only the events carry it: the
   * decision is made at the server's clock, and one further than `admission.maxClockSkewMs`
   * from it is refused.
   */
  at?: Date | undefined;
  /** who reported it (`token:<id>`, `segw:<name>`), for the audit log */
  actor?: string | undefined;
}

/** A check-in body (the `femto.report` fields of FORMATS.md §1). */
export interface CheckinReport {
  serial: string;
  cellIds?: string[] | undefined;
  gps?: GpsFix | undefined;
  neighbors?: string[] | undefined;
  swVersion?: string | undefined;
  configHash?: string | undefined;
}

/** The gateway addresses an admitted device should use. */
export interface GatewayAnnouncement {
  current: string | null;
  next: string | null;
  rotatesAt: string | null;
}

/** A decision with its id, as stored and returned. */
export interface RecordedDecision extends Decision {
  id: string;
  at: string;
  kind: DecisionKind;
  sourceIp: string;
  endpoint: string | null;
  /** microseconds the decision function took (wall clock: what the device waited) */
  durationUs: number;
  /** CPU microseconds of the process while it ran (excludes time the OS gave to others) */
  cpuUs: number;
}
