import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_PROBLEMS_PER_SOURCE, reaches, runAudit } from './audit.js';
import { reportFormatOf } from './index.js';
import { auditReportSchema } from './report-json.js';

const dir = mkdtempSync(join(tmpdir(), 'fg-audit-run-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const now = new Date('2025-08-05T00:00:00Z');

describe('runAudit', () => {
  it('ok/inventory alone: certificate checks run on an empty dump, session checks are skipped; progress is reported per phase', async () => {
    const inv = join(dir, 'inv.csv');
    writeFileSync(inv, 'serial,status\nA,active\nB,provisioned\n');
    const phases: string[] = [];
    const r = await runAudit({ inventory: inv, certs: [], now, progress: (phase) => (phases.push(phase), { update: () => undefined, stop: () => undefined }) });
    expect(auditReportSchema.safeParse(r).success).toBe(true);
    expect(r.findings.map((f) => `${f.severity} ${f.id} ${f.devices.join(',')}`)).toEqual(['medium device-without-certificate A']);
    expect(r.checks).not.toContain('idle-device');
    expect(phases).toEqual(['inventory', 'certificates']);
    expect(reaches(r, 'medium')).toBe(true);
    expect(reaches(r, 'high')).toBe(false);
  });

  it('fail/thousands of bad lines: the first 1,000 are listed, the rest counted', async () => {
    const inv = join(dir, 'inv2.csv');
    writeFileSync(inv, 'serial,status\nA,active\n');
    const events = join(dir, 'bad.ndjson');
    writeFileSync(events, 'not json\n'.repeat(1500));
    const r = await runAudit({ inventory: inv, certs: [], sessions: events, now });
    expect(r.problems).toHaveLength(MAX_PROBLEMS_PER_SOURCE);
    expect(r.problems[999]).toMatchObject({ source: 'sessions', line: 1000 });
    expect(r.problemsOmitted).toBe(500);
    expect(r.inputs.sessions).toMatchObject({ malformed: 1500, events: 0 });
  });

  it('fail/a bad policy or time is refused before any work', async () => {
    await expect(runAudit({ inventory: 'x', certs: [], now, policy: { idleDays: 0 } })).rejects.toMatchObject({ code: 'audit.policy' });
    await expect(runAudit({ inventory: 'x', certs: [], now: new Date(Number.NaN) })).rejects.toMatchObject({ code: 'audit.now' });
  });

  it('ok/report format by extension; anything else refused', () => {
    expect(['a.json', 'b.HTML', 'c.htm', 'd.md', 'e.markdown'].map(reportFormatOf)).toEqual(['json', 'html', 'html', 'md', 'md']);
    expect(() => reportFormatOf('r.pdf')).toThrow(/\.json, \.html or \.md/);
  });
});

describe('docs/audit.md', () => {
  const doc = readFileSync(new URL('../../docs/audit.md', import.meta.url), 'utf8');
  it('ok/documents every check id, every CLI flag and every top-level and finding field of the JSON schema', async () => {
    const { CHECK_CATALOG } = await import('./index.js');
    for (const c of CHECK_CATALOG) expect(doc, c.id).toContain(`| \`${c.id}\` |`);
    for (const flag of ['--inventory', '--certs', '--sessions', '--now', '--out', '--json', '--fail-on', '--max-lifetime-days', '--expiring-days', '--max-age-days', '--idle-days', '--ca-expiring-days', '--session-open-hours']) {
      expect(doc, flag).toContain(`\`${flag}`);
    }
    for (const field of [...Object.keys(auditReportSchema.shape), ...Object.keys(auditReportSchema.shape.findings.element.shape)]) {
      expect(doc, field).toMatch(new RegExp(`\\| \`(inputs\\.)?${field}`));
    }
  });
});
