/**
 * The fleet audit's vocabulary: severities, findings, the audit policy, the compact facts
 * kept per certificate, and the report (JSON schema version 1, documented in docs/audit.md).
 */
import type { KeyInfo } from '../pki/certificate.js';

/** Finding severities, as in FORMATS.md §3 alerts. */
export type Severity = 'low' | 'medium' | 'high' | 'critical';

/** Most severe first: the order of summaries and reports. */
export const SEVERITIES: readonly Severity[] = ['critical', 'high', 'medium', 'low'];

const RANK: Readonly<Record<Severity, number>> = { low: 1, medium: 2, high: 3, critical: 4 };

/** 1 (low) .. 4 (critical), so severities compare as numbers. */
export function severityRank(s: Severity): number {
  return RANK[s];
}

export function isSeverity(s: string): s is Severity {
  return Object.hasOwn(RANK, s);
}

/** One finding: a check that fired, with everything a person needs to act on it. */
export interface Finding {
  /** Stable check id (kebab-case), e.g. `certificate-shared`. */
  id: string;
  /** Stable id of this instance: the check id, or `id:subject` for per-subject checks. */
  key: string;
  severity: Severity;
  title: string;
  /** Device serials involved, sorted. */
  devices: string[];
  /** SHA-256 fingerprints (lowercase hex) of the certificates involved, sorted. */
  certificates: string[];
  why: string;
  fix: string;
  /** Optional one-line note per device (last seen, distance, address), keyed by serial. */
  deviceNotes?: Record<string, string>;
  /** The facts behind the finding (counts, thresholds, addresses). */
  evidence?: Record<string, unknown>;
}

/** A problem with the input: reported, skipped, and the audit goes on. */
export interface InputProblem {
  source: 'inventory' | 'certificates' | 'sessions';
  file: string;
  /** Line number (inventory CSV, session NDJSON) when the problem has one. */
  line?: number;
  message: string;
}

/** Thresholds; every one has a CLI flag. */
export interface AuditPolicy {
  /** Longest acceptable device certificate lifetime (notAfter - notBefore). */
  maxLifetimeDays: number;
  /** A device certificate expiring within this many days is "expiring soon". */
  expiringDays: number;
  /** A live certificate issued longer ago than this is flagged for its age. */
  maxAgeDays: number;
  /** An active device unseen for longer than this (with session history) is idle. */
  idleDays: number;
  /** A CA certificate expiring within this many days is flagged. */
  caExpiringDays: number;
  /** A session `up` without its `down` counts as open for at most this long. */
  sessionOpenHours: number;
}

export const DEFAULT_POLICY: Readonly<AuditPolicy> = Object.freeze({
  maxLifetimeDays: 90,
  expiringDays: 30,
  maxAgeDays: 365,
  idleDays: 90,
  caExpiringDays: 180,
  sessionOpenHours: 24,
});

/** What the audit keeps of one certificate: small, so 200,000 of them fit easily. */
export interface CertFacts {
  /** SHA-256 of the DER, lowercase hex (FORMATS.md §1). */
  fingerprint: string;
  /** File it was read from (`file#n` for the n-th certificate of a bundle, from 1). */
  source: string;
  serialHex: string;
  subject: string;
  issuer: string;
  /** Subject and issuer Name DER (base64): how issuers are matched to subjects. */
  subjectKey: string;
  issuerKey: string;
  /** SubjectPublicKeyInfo DER (base64): identical keys have identical SPKIs. */
  spkiKey: string;
  notBefore: number;
  notAfter: number;
  key: KeyInfo;
  signatureAlgorithm: string;
  /** basicConstraints: absent → `null`. */
  basicConstraints: { ca: boolean; pathLen?: number; critical: boolean } | null;
  /** KeyUsage bits (bit i = RFC 5280 §4.2.1.3 bit i); `null` when the extension is absent. */
  keyUsage: number | null;
  /** ExtKeyUsage OIDs; `null` when the extension is absent. */
  extKeyUsage: string[] | null;
  /** The device serial the certificate names: SAN `urn:femtoguard:device:`, else subject serialNumber, else CN. */
  claimedSerial: string | null;
  /** subject == issuer */
  selfIssued: boolean;
}

export interface InventorySummary {
  file: string;
  devices: number;
  rejectedRows: number;
}

export interface CertificateSummary {
  paths: string[];
  filesRead: number;
  certificates: number;
  duplicates: number;
  deviceCertificates: number;
  caCertificates: number;
  malformed: number;
  skippedFiles: number;
}

export interface SessionSummary {
  file: string;
  lines: number;
  events: number;
  /** Events the audit does not use (other known types), and duplicates by `id`. */
  ignored: number;
  duplicates: number;
  unknownTypes: Record<string, number>;
  malformed: number;
  firstTs: string | null;
  lastTs: string | null;
}

/** The report; `schemaVersion` changes only when a field is renamed or removed. */
export interface AuditReport {
  schemaVersion: 1;
  tool: 'femtoguard audit';
  /** The audit time (`--now`, default the clock), RFC 3339 UTC. */
  auditTime: string;
  policy: AuditPolicy;
  inputs: {
    inventory: InventorySummary;
    certificates: CertificateSummary;
    sessions: SessionSummary | null;
  };
  /** Ids of the checks that ran (session checks run only with a session history). */
  checks: string[];
  summary: {
    findings: number;
    bySeverity: Record<Severity, number>;
    devicesAffected: number;
    certificatesAffected: number;
  };
  findings: Finding[];
  problems: InputProblem[];
  /** Problems not listed in `problems` (at most 1,000 are listed per source). */
  problemsOmitted: number;
}
