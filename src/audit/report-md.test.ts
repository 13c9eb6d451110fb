import { describe, expect, it } from 'vitest';
import { mdEscape, renderMarkdown } from './report-md.js';
import { DEFAULT_POLICY, type AuditReport, type Finding } from './types.js';

const base: AuditReport = {
  schemaVersion: 1, tool: 'femtoguard audit', auditTime: '2025-08-05T00:00:00.000Z', policy: { ...DEFAULT_POLICY },
  inputs: {
    inventory: { file: 'inv.csv', devices: 2, rejectedRows: 1 },
    certificates: { paths: ['certs'], filesRead: 3, certificates: 2, duplicates: 0, deviceCertificates: 2, caCertificates: 0, malformed: 1, skippedFiles: 0 },
    sessions: null,
  },
  checks: ['certificate-shared'],
  summary: { findings: 1, bySeverity: { critical: 1, high: 0, medium: 0, low: 0 }, devicesAffected: 3, certificatesAffected: 1 },
  findings: [],
  problems: [{ source: 'inventory', file: 'inv.csv', line: 3, message: 'status "x|y" is not one of …' }],
  problemsOmitted: 4,
};
const finding: Finding = {
  id: 'certificate-shared', key: 'certificate-shared:ab', severity: 'critical', title: 'Certificate *ab* | shared', devices: ['A', 'B', 'C'],
  certificates: ['ab'.repeat(32)], why: 'because', fix: 'do it', deviceNotes: { B: 'named in the certificate' }, evidence: { listedBy: 2 },
};

describe('Markdown report', () => {
  it('ok/summary, findings with why and fix, lists cut at maxItems, problems with the omitted count', () => {
    const md = renderMarkdown({ ...base, findings: [finding] }, { maxItems: 2 });
    expect(md).toContain('| critical | 1 |');
    expect(md).toContain('### 1. CRITICAL: Certificate \\*ab\\* \\| shared');
    expect(md).toContain('**Why it matters.** because');
    expect(md).toContain('- `B`: named in the certificate');
    expect(md).toContain('- … and 1 more (see the JSON or HTML report)');
    expect(md).toContain('| inventory | inv.csv | 3 | status "x\\|y" is not one of … |');
    expect(md).toContain('… and 4 more.');
    expect(md).toContain('"listedBy": 2');
  });

  it('ok/no findings says so', () => {
    expect(renderMarkdown({ ...base, summary: { ...base.summary, findings: 0 } })).toContain('No findings.');
  });

  it('fail/markup and table syntax in text are escaped', () => {
    expect(mdEscape('<script>|`x`\n# h')).toBe('\\<script\\>\\|\\`x\\` \\# h');
  });
});
