/**
 * The fleet audit: read the inventory, the certificate dump and (optionally) the session
 * history, link devices to certificates, run every check, and assemble the report.
 */
import { statSync } from 'node:fs';
import { AppError } from '../core/errors.js';
import { ALL_CHECKS, runChecks } from './checks/index.js';
import { compareFindings } from './finding.js';
import { buildFleet } from './fleet.js';
import { readCertificates, readInventory } from './inputs.js';
import { readSessionHistory, type SessionHistory } from './sessions.js';
import { DEFAULT_POLICY, SEVERITIES, type AuditPolicy, type AuditReport, type InputProblem, type Severity } from './types.js';

/** A progress display for one phase; the CLI draws a bar on a terminal, tests pass nothing. */
export type ProgressFactory = (phase: 'inventory' | 'certificates' | 'sessions', total: number, unit: string) => { update(done: number): void; stop(): void };

export interface AuditOptions {
  /** Registry CSV (FORMATS.md §2). */
  inventory: string;
  /** Certificate files and directories. */
  certs: readonly string[];
  /** Session/report history (FORMATS.md §1 NDJSON). */
  sessions?: string;
  /** The audit time. */
  now: Date;
  policy?: Partial<AuditPolicy>;
  progress?: ProgressFactory;
}

/** At most this many problems are listed per input; the rest are counted. */
export const MAX_PROBLEMS_PER_SOURCE = 1000;

const noProgress: ProgressFactory = () => ({ update: () => undefined, stop: () => undefined });

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** Checks a policy: every threshold a positive finite number. @throws AppError invalid `audit.policy` */
export function resolvePolicy(p: Partial<AuditPolicy> | undefined): AuditPolicy {
  const policy = { ...DEFAULT_POLICY, ...p };
  for (const [k, v] of Object.entries(policy)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new AppError('invalid', 'audit.policy', `${k} must be a positive number, got ${String(v)}`);
  }
  return policy;
}

/**
 * Runs the audit.
 * @throws AppError invalid when the inventory cannot be read or has no usable header, or the session file cannot be opened
 */
export async function runAudit(o: AuditOptions): Promise<AuditReport> {
  const now = o.now.getTime();
  if (!Number.isFinite(now)) throw new AppError('invalid', 'audit.now', 'the audit time is not a valid date');
  const policy = resolvePolicy(o.policy);
  const progress = o.progress ?? noProgress;

  let bar = progress('inventory', fileSize(o.inventory), 'bytes');
  const inventory = await readInventory(o.inventory, (b) => bar.update(b));
  bar.stop();

  let certBar: ReturnType<ProgressFactory> | undefined;
  const dump = await readCertificates(o.certs, (done, total) => {
    certBar ??= progress('certificates', total, 'files');
    certBar.update(done);
  });
  certBar?.stop();

  let history: SessionHistory | null = null;
  if (o.sessions !== undefined) {
    bar = progress('sessions', fileSize(o.sessions), 'bytes');
    history = await readSessionHistory(o.sessions, inventory.devices, { openMs: policy.sessionOpenHours * 3_600_000, onBytes: (b) => bar.update(b) });
    bar.stop();
  }

  const fleet = buildFleet({ now, policy, devices: inventory.devices, certs: dump.certs, history });
  const { checks, findings } = runChecks(fleet);
  findings.sort(compareFindings);

  const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  const devicesAffected = new Set<string>();
  const certificatesAffected = new Set<string>();
  for (const f of findings) {
    bySeverity[f.severity] += 1;
    for (const d of f.devices) devicesAffected.add(d);
    for (const c of f.certificates) certificatesAffected.add(c);
  }

  const problems: InputProblem[] = [];
  let problemsOmitted = 0;
  for (const list of [inventory.problems, dump.problems, history?.problems ?? []]) {
    problems.push(...list.slice(0, MAX_PROBLEMS_PER_SOURCE));
    problemsOmitted += Math.max(0, list.length - MAX_PROBLEMS_PER_SOURCE);
  }

  return {
    schemaVersion: 1,
    tool: 'femtoguard audit',
    auditTime: new Date(now).toISOString(),
    policy,
    inputs: {
      inventory: { file: o.inventory, devices: inventory.devices.size, rejectedRows: inventory.rejectedRows },
      certificates: {
        paths: [...o.certs],
        filesRead: dump.filesRead,
        certificates: dump.certs.size,
        duplicates: dump.duplicates,
        deviceCertificates: fleet.deviceCerts.length,
        caCertificates: fleet.caCerts.length,
        malformed: dump.malformed,
        skippedFiles: dump.skippedFiles,
      },
      sessions: history?.summary ?? null,
    },
    checks,
    summary: { findings: findings.length, bySeverity, devicesAffected: devicesAffected.size, certificatesAffected: certificatesAffected.size },
    findings,
    problems,
    problemsOmitted,
  };
}

/** Whether any finding is at or above `threshold`. */
export function reaches(report: AuditReport, threshold: Severity): boolean {
  const rank = SEVERITIES.indexOf(threshold);
  return SEVERITIES.some((s, k) => k <= rank && report.summary.bySeverity[s] > 0);
}

/** Every check id, for docs and validation. */
export const CHECK_IDS: readonly string[] = ALL_CHECKS.map((c) => c.info.id);
