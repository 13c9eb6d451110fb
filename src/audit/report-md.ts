/**
 * The Markdown report: summary by severity, then each finding with why it matters, how to
 * fix it, and its devices and certificates (lists cut at `maxItems`; the JSON report has
 * them all).
 */
import { SEVERITIES, type AuditReport, type Finding } from './types.js';

/** Escapes text for Markdown paragraphs and table cells. */
export function mdEscape(s: string): string {
  return s.replace(/[\\`*_[\]<>|#]/g, (c) => `\\${c}`).replace(/\r?\n/g, ' ');
}

function list(items: readonly string[], max: number, show: (s: string) => string): string[] {
  const out = items.slice(0, max).map((s) => `- ${show(s)}`);
  if (items.length > max) out.push(`- … and ${items.length - max} more (see the JSON or HTML report)`);
  return out;
}

function findingSection(f: Finding, n: number, max: number): string[] {
  const out = [
    `### ${n}. ${f.severity.toUpperCase()}: ${mdEscape(f.title)}`,
    '',
    `Check \`${f.id}\` · ${f.devices.length} device(s) · ${f.certificates.length} certificate(s)`,
    '',
    `**Why it matters.** ${mdEscape(f.why)}`,
    '',
    `**How to fix it.** ${mdEscape(f.fix)}`,
    '',
  ];
  if (f.devices.length > 0) {
    out.push(`**Devices (${f.devices.length})**`, '');
    out.push(...list(f.devices, max, (d) => `\`${d.replace(/`/g, "'")}\`${f.deviceNotes?.[d] !== undefined ? `: ${mdEscape(f.deviceNotes[d])}` : ''}`), '');
  }
  if (f.certificates.length > 0) {
    out.push(`**Certificates (${f.certificates.length})**`, '');
    out.push(...list(f.certificates, max, (c) => `\`${c}\``), '');
  }
  if (f.evidence !== undefined) {
    const text = JSON.stringify(f.evidence, null, 2);
    out.push('<details><summary>Evidence</summary>', '', '```json', text.length > 20_000 ? `${text.slice(0, 20_000)}\n…` : text, '```', '', '</details>', '');
  }
  return out;
}

export function renderMarkdown(report: AuditReport, options: { maxItems?: number } = {}): string {
  const max = options.maxItems ?? 100;
  const { inputs, summary } = report;
  const s = inputs.sessions;
  const out = [
    '# femtoguard fleet audit',
    '',
    `Audit time ${report.auditTime}. Inventory \`${mdEscape(inputs.inventory.file)}\`: ${inputs.inventory.devices} devices` +
      `${inputs.inventory.rejectedRows > 0 ? ` (${inputs.inventory.rejectedRows} rows rejected)` : ''}. ` +
      `Certificates: ${inputs.certificates.certificates} from ${inputs.certificates.filesRead} files (${inputs.certificates.caCertificates} CA, ${inputs.certificates.malformed} malformed). ` +
      (s === null ? 'No session history.' : `Session history: ${s.events} events${s.firstTs !== null ? ` from ${s.firstTs} to ${s.lastTs ?? ''}` : ''} (${s.malformed} malformed lines).`),
    '',
    '## Summary',
    '',
    '| severity | findings |',
    '|---|---|',
    ...SEVERITIES.map((sev) => `| ${sev} | ${summary.bySeverity[sev]} |`),
    '',
    `${summary.findings} findings; ${summary.devicesAffected} devices and ${summary.certificatesAffected} certificates affected.`,
    '',
  ];
  if (report.findings.length > 0) {
    out.push('| # | severity | check | title | devices |', '|---|---|---|---|---|');
    report.findings.forEach((f, k) => out.push(`| ${k + 1} | ${f.severity} | \`${f.id}\` | ${mdEscape(f.title)} | ${f.devices.length} |`));
    out.push('', '## Findings', '');
    report.findings.forEach((f, k) => out.push(...findingSection(f, k + 1, max)));
  } else {
    out.push('No findings.', '');
  }
  if (report.problems.length > 0) {
    out.push('## Input problems', '', 'Reported and skipped; the audit went on without them.', '', '| source | file | line | problem |', '|---|---|---|---|');
    for (const p of report.problems) out.push(`| ${p.source} | ${mdEscape(p.file)} | ${p.line ?? ''} | ${mdEscape(p.message)} |`);
    if (report.problemsOmitted > 0) out.push('', `… and ${report.problemsOmitted} more.`);
    out.push('');
  }
  out.push(`Checks run: ${report.checks.map((c) => `\`${c}\``).join(', ')}.`, '');
  return out.join('\n');
}
