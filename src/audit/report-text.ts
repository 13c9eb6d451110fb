/** The short terminal summary the `audit` command always prints. */
import { plural } from './finding.js';
import { SEVERITIES, type AuditReport } from './types.js';

export function renderSummary(report: AuditReport, options: { maxLines?: number; out?: string } = {}): string {
  const max = options.maxLines ?? 20;
  const { inventory, certificates: c, sessions: s } = report.inputs;
  const by = report.summary.bySeverity;
  const lines = [
    `femtoguard audit at ${report.auditTime}`,
    `  inventory     ${inventory.devices} devices${inventory.rejectedRows > 0 ? `, ${inventory.rejectedRows} rows rejected` : ''}`,
    `  certificates  ${c.certificates} from ${c.filesRead} files (${c.deviceCertificates} device, ${c.caCertificates} CA${c.malformed > 0 ? `, ${c.malformed} malformed` : ''})`,
    `  sessions      ${s === null ? 'none given (usage checks skipped)' : `${s.events} events${s.malformed > 0 ? `, ${s.malformed} malformed lines` : ''}`}`,
    `findings: ${SEVERITIES.map((sev) => `${by[sev]} ${sev}`).join(', ')} (${plural(report.summary.devicesAffected, 'device')}, ${plural(report.summary.certificatesAffected, 'certificate')} affected)`,
  ];
  const width = Math.max(0, ...report.findings.slice(0, max).map((f) => f.id.length));
  for (const f of report.findings.slice(0, max)) lines.push(`  ${f.severity.toUpperCase().padEnd(8)} ${f.id.padEnd(width)}  ${f.title}`);
  if (report.findings.length > max) lines.push(`  … and ${report.findings.length - max} more`);
  const nProblems = report.problems.length + report.problemsOmitted;
  if (nProblems > 0) {
    lines.push(`input problems: ${nProblems} (skipped; the audit went on)`);
    for (const p of report.problems.slice(0, 5)) lines.push(`  ${p.file}${p.line !== undefined ? `:${p.line}` : ''}: ${p.message}`);
    if (nProblems > 5) lines.push(`  … and ${nProblems - 5} more in the report`);
  }
  if (options.out !== undefined) lines.push(`report written to ${options.out}`);
  return lines.join('\n') + '\n';
}
