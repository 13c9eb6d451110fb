/**
 * The JSON report (schema version 1, documented in docs/audit.md) and its schema in zod,
 * so consumers and tests can check a report against the same definition the docs restate.
 */
import { z } from 'zod';
import type { AuditReport } from './types.js';

const severity = z.enum(['low', 'medium', 'high', 'critical']);
const count = z.number().int().nonnegative();
const fingerprint = z.string().regex(/^[0-9a-f]{64}$/);
const time = z.iso.datetime({ offset: true });

const finding = z.strictObject({
  id: z.string().regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/),
  key: z.string().min(1),
  severity,
  title: z.string().min(1),
  devices: z.array(z.string()),
  certificates: z.array(fingerprint),
  why: z.string().min(1),
  fix: z.string().min(1),
  deviceNotes: z.record(z.string(), z.string()).optional(),
  evidence: z.record(z.string(), z.unknown()).optional(),
});

const problem = z.strictObject({
  source: z.enum(['inventory', 'certificates', 'sessions']),
  file: z.string(),
  line: z.number().int().positive().optional(),
  message: z.string().min(1),
});

/** Schema version 1 of the audit report. New optional fields may appear; none is renamed or removed. */
export const auditReportSchema = z.strictObject({
  schemaVersion: z.literal(1),
  tool: z.literal('femtoguard audit'),
  auditTime: time,
  policy: z.strictObject({
    maxLifetimeDays: z.number().positive(),
    expiringDays: z.number().positive(),
    maxAgeDays: z.number().positive(),
    idleDays: z.number().positive(),
    caExpiringDays: z.number().positive(),
    sessionOpenHours: z.number().positive(),
  }),
  inputs: z.strictObject({
    inventory: z.strictObject({ file: z.string(), devices: count, rejectedRows: count }),
    certificates: z.strictObject({
      paths: z.array(z.string()),
      filesRead: count,
      certificates: count,
      duplicates: count,
      deviceCertificates: count,
      caCertificates: count,
      malformed: count,
      skippedFiles: count,
    }),
    sessions: z
      .strictObject({
        file: z.string(),
        lines: count,
        events: count,
        ignored: count,
        duplicates: count,
        unknownTypes: z.record(z.string(), count),
        malformed: count,
        firstTs: time.nullable(),
        lastTs: time.nullable(),
      })
      .nullable(),
  }),
  checks: z.array(z.string()),
  summary: z.strictObject({
    findings: count,
    bySeverity: z.strictObject({ critical: count, high: count, medium: count, low: count }),
    devicesAffected: count,
    certificatesAffected: count,
  }),
  findings: z.array(finding),
  problems: z.array(problem),
  problemsOmitted: count,
});

/** The report as the schema describes it. */
export type AuditReportJson = z.infer<typeof auditReportSchema>;

/** The report as JSON text (two-space indent, trailing newline). */
export function renderJson(report: AuditReport): string {
  // The assignment makes the compiler hold the report type and the schema to each other.
  const json: AuditReportJson = report;
  return JSON.stringify(json, null, 2) + '\n';
}
