/**
 * The fleet audit: finds shared, long-lived, weak and orphaned credentials and misused
 * devices in an existing fleet, from its inventory (registry CSV), a certificate dump and,
 * optionally, its session/report history. Independent of the server; shares the registry
 * and PKI parsing code.
 */
import { writeFileSync } from 'node:fs';
import { extname } from 'node:path';
import { AppError } from '../core/errors.js';
import { renderHtml } from './report-html.js';
import { renderJson } from './report-json.js';
import { renderMarkdown } from './report-md.js';
import type { AuditReport } from './types.js';

export { runAudit, reaches, resolvePolicy, CHECK_IDS, MAX_PROBLEMS_PER_SOURCE } from './audit.js';
export type { AuditOptions, ProgressFactory } from './audit.js';
export { CHECK_CATALOG } from './checks/index.js';
export type { CheckInfo } from './finding.js';
export { renderJson, auditReportSchema } from './report-json.js';
export { renderMarkdown } from './report-md.js';
export { renderHtml, PAGE_SIZE } from './report-html.js';
export { renderSummary } from './report-text.js';
export { parseEventTime } from './event-time.js';
export { SEVERITIES, DEFAULT_POLICY, severityRank, isSeverity } from './types.js';
export type { AuditPolicy, AuditReport, Finding, InputProblem, Severity } from './types.js';

export type ReportFormat = 'json' | 'html' | 'md';

/**
 * The report format a file name asks for: `.json`, `.html`/`.htm`, `.md`/`.markdown`.
 * @throws AppError invalid `audit.report_format` for any other extension
 */
export function reportFormatOf(file: string): ReportFormat {
  const ext = extname(file).toLowerCase();
  if (ext === '.json') return 'json';
  if (ext === '.html' || ext === '.htm') return 'html';
  if (ext === '.md' || ext === '.markdown') return 'md';
  throw new AppError('invalid', 'audit.report_format', `cannot tell the report format from ${JSON.stringify(file)}: use .json, .html or .md`);
}

export function renderReport(report: AuditReport, format: ReportFormat): string {
  return format === 'json' ? renderJson(report) : format === 'html' ? renderHtml(report) : renderMarkdown(report);
}

/** Writes the report in the format its file name asks for. */
export function writeReport(report: AuditReport, file: string): void {
  const text = renderReport(report, reportFormatOf(file));
  try {
    writeFileSync(file, text);
  } catch (e) {
    throw new AppError('unavailable', 'audit.report_unwritable', `cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}
