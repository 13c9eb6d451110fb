/**
 * The HTML report's escaping and its paging script. The script runs here against a small
 * stand-in for the few DOM calls it makes, so paging and filtering are tested without a
 * browser.
 */
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { PAGE_SIZE, htmlEscape, renderHtml } from './report-html.js';
import { DEFAULT_POLICY, type AuditReport, type Finding } from './types.js';

function report(findings: Finding[]): AuditReport {
  return {
    schemaVersion: 1, tool: 'femtoguard audit', auditTime: '2025-08-05T00:00:00.000Z', policy: { ...DEFAULT_POLICY },
    inputs: {
      inventory: { file: 'inv.csv', devices: 3, rejectedRows: 0 },
      certificates: { paths: [], filesRead: 0, certificates: 0, duplicates: 0, deviceCertificates: 0, caCertificates: 0, malformed: 0, skippedFiles: 0 },
      sessions: null,
    },
    checks: ['idle-device'],
    summary: { findings: findings.length, bySeverity: { critical: 0, high: 0, medium: findings.length, low: 0 }, devicesAffected: 0, certificatesAffected: 0 },
    findings, problems: [], problemsOmitted: 0,
  };
}

const finding = (devices: string[], notes: Record<string, string> = {}): Finding => ({
  id: 'idle-device', key: 'idle-device:medium', severity: 'medium', title: 'idle <devices>', devices, certificates: [], why: 'why & because', fix: 'fix "it"', deviceNotes: notes,
});

/** Just enough DOM for the report script: elements with text, children, attributes and listeners. */
class El {
  children: El[] = [];
  hidden = false;
  disabled = false;
  value = '';
  className = '';
  removed = false;
  private text = '';
  private readonly listeners = new Map<string, () => void>();
  constructor(readonly attrs: Record<string, string> = {}, private readonly parts: Record<string, El> = {}) {}
  get textContent(): string {
    return this.children.length > 0 ? this.children.map((c) => c.textContent).join('|') : this.text;
  }
  set textContent(v: string) {
    this.text = v;
    this.children = [];
  }
  getAttribute(name: string): string | null {
    return this.attrs[name] ?? null;
  }
  querySelector(sel: string): El | null {
    return this.parts[sel] ?? null;
  }
  appendChild(c: El): void {
    this.children.push(c);
  }
  remove(): void {
    this.removed = true;
  }
  addEventListener(type: string, fn: () => void): void {
    this.listeners.set(type, fn);
  }
  fire(type: string): void {
    this.listeners.get(type)?.();
  }
}

function runScript(html: string): El[] {
  const data = /<script type="application\/json" id="audit-data">([^<]*)<\/script>/.exec(html)?.[1] as string;
  const script = /<script>([\s\S]*?)<\/script>/.exec(html)?.[1] as string;
  const boxes = [...html.matchAll(/<div class="list" data-finding="(\d+)" data-kind="(\w+)"/g)].map(
    (m) =>
      new El({ 'data-finding': m[1] as string, 'data-kind': m[2] as string }, {
        tbody: new El(), '.pageinfo': new El(), '[data-act=prev]': new El(), '[data-act=next]': new El(), '.nojs-more': new El(), '.pager': new El(), input: new El(),
      }),
  );
  const document = {
    getElementById: (id: string) => (id === 'audit-data' ? { textContent: data } : null),
    querySelectorAll: (sel: string) => (sel === '.list' ? boxes : []),
    createElement: () => new El(),
  };
  runInNewContext(script, { document });
  return boxes;
}

describe('HTML report', () => {
  it('fail/markup in titles, texts and notes is escaped; "</script>" cannot end the embedded data', () => {
    const html = renderHtml(report([finding(['A</script><script>alert(1)</script>'], { 'A</script><script>alert(1)</script>': '<b>x</b>' })]));
    expect(html).toContain('idle &lt;devices&gt;');
    expect(html).toContain('why &amp; because');
    expect(html).toContain('fix &quot;it&quot;');
    expect(html).toContain('&lt;b&gt;x&lt;/b&gt;');
    expect(html.match(/<\/script>/g)).toHaveLength(2); // the data block's and the script's own
    expect(html).toContain('A\\u003c/script>');
    expect(htmlEscape(`<a href='x'>&</a>`)).toBe('&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;');
  });

  it('ok/no findings still makes a complete page', () => {
    const html = renderHtml(report([]));
    expect(html).toContain('<p>No findings.</p>');
    expect(html.trimEnd().endsWith('</html>')).toBe(true);
  });

  it('ok/the script pages through thousands of devices and filters them', () => {
    const devices = Array.from({ length: 2345 }, (_, i) => `D${String(i).padStart(5, '0')}`);
    const html = renderHtml(report([finding(devices, { D00150: 'last seen 2025-01-01' })]));
    const [box] = runScript(html);
    if (box === undefined) throw new Error('no device list');
    const tbody = box.querySelector('tbody') as El;
    const info = box.querySelector('.pageinfo') as El;
    const next = box.querySelector('[data-act=next]') as El;
    const prev = box.querySelector('[data-act=prev]') as El;
    expect(box.querySelector('.nojs-more')?.removed).toBe(true);
    expect(tbody.children).toHaveLength(PAGE_SIZE);
    expect(info.textContent).toBe('1\u2013100 of 2345');
    expect(prev.disabled).toBe(true);
    next.fire('click');
    expect(tbody.children[0]?.textContent).toBe('D00100|');
    expect(tbody.children[50]?.textContent).toBe('D00150|last seen 2025-01-01');
    for (let k = 0; k < 30; k++) if (!next.disabled) next.fire('click');
    expect(info.textContent).toBe('2301\u20132345 of 2345');
    expect(tbody.children).toHaveLength(45);
    const filter = box.querySelector('input') as El;
    expect(filter.hidden).toBe(false);
    filter.value = 'd0012';
    filter.fire('input');
    expect(info.textContent).toBe('1\u201310 of 10 (filtered from 2345)');
    filter.value = 'last seen';
    filter.fire('input');
    expect(tbody.children.map((c) => c.textContent)).toEqual(['D00150|last seen 2025-01-01']);
  });
});
