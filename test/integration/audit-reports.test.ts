/**
 * The audit's outputs through the real CLI: the JSON report against its documented schema,
 * the self-contained HTML report (structure, no external asset, paging of thousands of
 * devices, escaping), the Markdown report, the terminal summary, --json, --fail-on and the
 * exit codes.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditReportSchema, type AuditReport } from '../../src/audit/index.js';
import { AuditFleet, runAuditCli } from '../helpers/audit-fleet.js';
import { requireTool } from '../helpers/run.js';

let f: AuditFleet;
let inv: string;
let report: AuditReport;
const out = (name: string): string => join(f.dir, name);

beforeAll(async () => {
  requireTool('openssl', 'openssl');
  f = new AuditFleet(mkdtempSync(join(tmpdir(), 'fg-audit-reports-')));
  const shared = await f.cert({ subject: '/CN=femtocell', profile: 'bare', issuer: 'self', from: '2021-01-01T00:00:00Z', until: '2031-01-01T00:00:00Z', file: 'factory.pem' });
  // A CA whose name is markup, to prove every format escapes it.
  await f.cert({ subject: '/CN=<img src=x onerror=alert(1)>', profile: 'issuing-loose', issuer: 'self', from: '2024-01-01T00:00:00Z', until: '2030-01-01T00:00:00Z', file: 'evil-ca.pem' });
  f.write('broken.pem', 'not a certificate');
  const rows = Array.from({ length: 2500 }, (_, i) => ({ serial: `KTF${String(i).padStart(6, '0')}`, status: i === 42 ? ('lost' as const) : ('active' as const), certs: [shared.fingerprint] }));
  inv = f.inventory(rows);
  const r = await runAuditCli(f.dir, ['--inventory', inv, '--certs', f.certsDir, '--out', out('r.json')]);
  expect(r.status, r.stderr).toBe(3);
  report = JSON.parse(readFileSync(out('r.json'), 'utf8')) as AuditReport;
});
afterAll(() => rmSync(f.dir, { recursive: true, force: true }));

describe('audit report: JSON', () => {
  it('ok/the report validates against the documented schema, version 1', () => {
    const parsed = auditReportSchema.safeParse(report);
    expect(parsed.success, JSON.stringify(parsed.error?.issues.slice(0, 5))).toBe(true);
    expect(Object.keys(report)).toEqual(['schemaVersion', 'tool', 'auditTime', 'policy', 'inputs', 'checks', 'summary', 'findings', 'problems', 'problemsOmitted']);
    expect(report).toMatchObject({ schemaVersion: 1, tool: 'femtoguard audit', auditTime: '2025-08-05T00:00:00.000Z' });
  });

  it('ok/every finding carries id, severity, title, devices, certificates, why and fix; most severe first; summary adds up', () => {
    const rank = { critical: 4, high: 3, medium: 2, low: 1 } as const;
    for (const x of report.findings) {
      expect(Object.keys(x).slice(0, 8)).toEqual(['id', 'key', 'severity', 'title', 'devices', 'certificates', 'why', 'fix']);
      expect(x.why.length).toBeGreaterThan(40);
      expect(x.fix.length).toBeGreaterThan(20);
      expect([...x.devices].sort()).toEqual(x.devices);
    }
    const ranks = report.findings.map((x) => rank[x.severity]);
    expect(ranks).toEqual([...ranks].sort((a, b) => b - a));
    expect(new Set(report.findings.map((x) => x.key)).size).toBe(report.findings.length);
    for (const s of ['critical', 'high', 'medium', 'low'] as const) expect(report.summary.bySeverity[s]).toBe(report.findings.filter((x) => x.severity === s).length);
    expect(report.summary.devicesAffected).toBe(2500);
  });

  it('ok/--json prints the same report on stdout', async () => {
    const r = await runAuditCli(f.dir, ['--inventory', inv, '--certs', f.certsDir, '--json', '--out', out('again.json')]);
    expect(JSON.parse(r.stdout)).toEqual(report);
    expect(r.stdout).not.toContain('femtoguard audit at');
  });

  it('fail/a schema that differs is caught: the validator is not a rubber stamp', () => {
    const bad = structuredClone(report) as unknown as { findings: { severity: string }[]; schemaVersion: number };
    (bad.findings[0] as { severity: string }).severity = 'urgent';
    expect(auditReportSchema.safeParse(bad).success).toBe(false);
    expect(auditReportSchema.safeParse({ ...report, schemaVersion: 2 }).success).toBe(false);
  });
});

describe('audit report: HTML', () => {
  let html: string;
  beforeAll(async () => {
    const r = await runAuditCli(f.dir, ['--inventory', inv, '--certs', f.certsDir, '--out', out('r.html')]);
    expect(r.status, r.stderr).toBe(3);
    expect(r.stdout).toContain(`report written to ${out('r.html')}`);
    html = readFileSync(out('r.html'), 'utf8');
  });

  it('ok/self-contained: no external stylesheet, script, image or font, and a policy that forbids fetching any', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"`);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/<(?:script|img|iframe|object|embed)\b[^>]*\bsrc\s*=/i);
    expect(html).not.toMatch(/url\(/i);
    expect(html).not.toMatch(/(?:href|src)\s*=\s*["']?(?:https?:)?\/\//i);
  });

  it('ok/summary by severity, then one article per finding in report order', () => {
    for (const s of ['critical', 'high', 'medium', 'low'] as const) {
      expect(html).toMatch(new RegExp(`<tr class="sev-${s}" data-severity="${s}"><td><span class="badge">${s}</span></td><td class="count">${report.summary.bySeverity[s]}</td></tr>`));
    }
    const articles = [...html.matchAll(/<article class="finding sev-(\w+)" id="f-(\d+)" data-id="([^"]+)"[^>]*data-devices="(\d+)"/g)];
    expect(articles.map((m) => [m[1], m[3], Number(m[4])])).toEqual(report.findings.map((x) => [x.severity, x.id, x.devices.length]));
    expect(html.indexOf('id="summary"')).toBeLessThan(html.indexOf('id="findings"'));
    expect(html).toContain('<h4>Why it matters</h4>');
    expect(html).toContain('<h4>How to fix it</h4>');
  });

  it('ok/thousands of devices are paged: the first 100 in the page, all 2500 in the embedded data, and a script that compiles', () => {
    const k = report.findings.findIndex((x) => x.id === 'certificate-shared');
    const article = html.slice(html.indexOf(`id="f-${k + 1}"`), html.indexOf('</article>', html.indexOf(`id="f-${k + 1}"`)));
    const list = article.slice(article.indexOf('data-kind="devices"'));
    const tbody = list.slice(list.indexOf('<tbody>'), list.indexOf('</tbody>'));
    expect(tbody.match(/<tr>/g)).toHaveLength(100);
    expect(tbody).toContain('<td class="mono">KTF000099</td>');
    expect(tbody).not.toContain('KTF000100');
    expect(list).toContain('… and 2400 more: enable JavaScript to page through them');
    expect(list).toContain('data-act="next"');
    const data = JSON.parse(/<script type="application\/json" id="audit-data">([^<]*)<\/script>/.exec(html)?.[1] ?? 'null') as { findings: { devices: string[] }[] };
    expect(data.findings[k]?.devices).toHaveLength(2500);
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1] as string);
    expect(scripts).toHaveLength(1);
    expect(() => new Script(scripts[0] as string)).not.toThrow();
  });

  it('fail/markup in certificate names is escaped in the page', () => {
    // (nameToString also escapes RFC 4514 specials with a backslash: `\<img src\=x ...`.)
    expect(html).not.toContain('<img');
    expect(html).toMatch(/<h3><span class="badge">\w+<\/span> CA &quot;CN=\\&lt;img src\\=x onerror\\=alert\(1\)\\&gt;&quot;/);
    expect(html).toMatch(/<section id="problems">[\s\S]*broken\.pem[\s\S]*neither a PEM file nor a DER certificate/);
  });
});

describe('audit report: Markdown and the terminal', () => {
  it('ok/summary table, findings with why and fix, long device lists cut with a pointer, markup escaped', async () => {
    const r = await runAuditCli(f.dir, ['--inventory', inv, '--certs', f.certsDir, '--out', out('r.md')]);
    expect(r.status).toBe(3);
    const md = readFileSync(out('r.md'), 'utf8');
    expect(md.startsWith('# femtoguard fleet audit\n')).toBe(true);
    expect(md).toContain(`| critical | ${report.summary.bySeverity.critical} |`);
    expect(md).toMatch(/### 1\. CRITICAL: /);
    expect(md).toContain('**Why it matters.**');
    expect(md).toContain('**How to fix it.**');
    expect(md).toContain('- `KTF000000`');
    expect(md).toContain('- … and 2400 more (see the JSON or HTML report)');
    const prose = md.replace(/```[\s\S]*?```/g, ''); // inside code fences markup is inert text
    expect(prose).toContain('\\<img');
    expect(prose).not.toMatch(/(^|[^\\])<img/m);
    expect(md).toMatch(/## Input problems[\s\S]*broken\.pem/);
  });

  it('ok/the terminal summary always comes, with counts by severity and the top findings', async () => {
    const r = await runAuditCli(f.dir, ['--inventory', inv, '--certs', f.certsDir]);
    expect(r.stdout).toMatch(/^femtoguard audit at 2025-08-05T00:00:00.000Z\n/);
    expect(r.stdout).toMatch(/inventory\s+2500 devices/);
    expect(r.stdout).toMatch(new RegExp(`findings: ${report.summary.bySeverity.critical} critical, ${report.summary.bySeverity.high} high`));
    expect(r.stdout).toMatch(/CRITICAL\s+certificate-shared/);
  });
});

describe('audit: --fail-on and exit codes', () => {
  let clean: string;
  beforeAll(() => {
    clean = f.inventory([{ serial: 'LONELY1', status: 'active' }], 'clean.csv'); // one medium finding, no input problem
  });
  const audit = (args: string[]): ReturnType<typeof runAuditCli> => runAuditCli(f.dir, ['--inventory', clean, ...args]);

  it('ok/exit 0 when no finding reaches --fail-on, or without --fail-on', async () => {
    expect((await audit(['--fail-on', 'high'])).status).toBe(0);
    expect((await audit([])).status).toBe(0);
  });

  it('fail/exit 4 when a finding reaches --fail-on (at or above)', async () => {
    for (const sev of ['medium', 'low']) {
      const r = await audit(['--fail-on', sev]);
      expect(r.status, sev).toBe(4);
      expect(r.stderr).toContain(`--fail-on ${sev}`);
    }
  });

  it('fail/exit 4 beats exit 3: a gate that fails on findings fails even when inputs had problems', async () => {
    expect((await runAuditCli(f.dir, ['--inventory', inv, '--certs', f.certsDir, '--fail-on', 'critical'])).status).toBe(4);
  });

  it('fail/usage errors exit 2 and write no report', async () => {
    const cases: [string[], RegExp][] = [
      [['--fail-on', 'severe'], /--fail-on must be low, medium, high or critical/],
      [['--now', 'yesterday'], /--now must be an RFC 3339 time/],
      [['--now', '2025-08-05T00:00:00'], /--now must be an RFC 3339 time with an offset/],
      [['--out', out('r.pdf')], /cannot tell the report format .*\.json, \.html or \.md/],
      [['--idle-days', '-3'], /--idle-days must be a positive number/],
    ];
    for (const [args, says] of cases) {
      const r = await audit(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(says);
    }
    expect(existsSync(out('r.pdf'))).toBe(false);
    const r = await runAuditCli(f.dir, ['--certs', f.certsDir]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--inventory FILE is required/);
  });
});
