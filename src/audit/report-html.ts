/**
 * The HTML report: one self-contained file (inline CSS and script, no external asset, a
 * Content-Security-Policy that forbids fetching any) that a person can open offline.
 * Summary by severity, then each finding with why and how to fix, and its devices and
 * certificates in pages of {@link PAGE_SIZE}. The first page of each list is in the HTML
 * itself, so the report reads without JavaScript; the script adds paging and a filter
 * over the lists embedded as JSON.
 */
import { SEVERITIES, type AuditReport, type Finding } from './types.js';

export const PAGE_SIZE = 100;

/** Escapes text for HTML element content and quoted attribute values. */
export function htmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** JSON safe inside a <script> element: no `</script>`, no `<!--`, no line separators that break old parsers. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const CSS = `
:root{--crit:#8b0000;--high:#c2410c;--med:#a16207;--low:#2563eb;--fg:#111;--muted:#555;--line:#ddd}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);max-width:72rem;margin:2rem auto;padding:0 1rem}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid var(--line);padding-bottom:.2rem;margin-top:2.5rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid var(--line);padding:.25rem .6rem;text-align:left;vertical-align:top}
th{background:#f5f5f5}code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em;word-break:break-all}
.badge{display:inline-block;color:#fff;border-radius:.25rem;padding:0 .45rem;font-size:.8em;font-weight:600;text-transform:uppercase;vertical-align:middle}
.sev-critical .badge,.badge.sev-critical{background:var(--crit)}.sev-high .badge,.badge.sev-high{background:var(--high)}
.sev-medium .badge,.badge.sev-medium{background:var(--med)}.sev-low .badge,.badge.sev-low{background:var(--low)}
article.finding{border-left:6px solid var(--line);padding:.2rem 0 .6rem 1rem;margin:1.5rem 0}
article.sev-critical{border-color:var(--crit)}article.sev-high{border-color:var(--high)}article.sev-medium{border-color:var(--med)}article.sev-low{border-color:var(--low)}
.muted{color:var(--muted)}.pager{display:flex;gap:.5rem;align-items:center;margin:.3rem 0}.pager button{font:inherit}
.list input{font:inherit;padding:.15rem .4rem;margin:.3rem 0}.nojs-more{color:var(--muted)}
@media print{.pager,.list input{display:none}}
`;

/** Paging and filtering over the lists embedded in #audit-data; plain DOM, no library. */
const SCRIPT = `
(function(){
  var data = JSON.parse(document.getElementById('audit-data').textContent);
  var PAGE = ${PAGE_SIZE};
  function cell(tr, text, mono){ var td = document.createElement('td'); td.textContent = text; if (mono) td.className = 'mono'; tr.appendChild(td); }
  document.querySelectorAll('.list').forEach(function(box){
    var f = data.findings[Number(box.getAttribute('data-finding'))];
    var kind = box.getAttribute('data-kind');
    var all = kind === 'devices' ? f.devices : f.certificates;
    var notes = kind === 'devices' ? (f.deviceNotes || {}) : {};
    var items = all, page = 0;
    var tbody = box.querySelector('tbody'), info = box.querySelector('.pageinfo');
    var prev = box.querySelector('[data-act=prev]'), next = box.querySelector('[data-act=next]');
    var more = box.querySelector('.nojs-more'); if (more) more.remove();
    box.querySelector('.pager').hidden = false;
    var filter = box.querySelector('input'); filter.hidden = all.length <= PAGE;
    function draw(){
      var pages = Math.max(1, Math.ceil(items.length / PAGE));
      if (page >= pages) page = pages - 1;
      tbody.textContent = '';
      items.slice(page * PAGE, page * PAGE + PAGE).forEach(function(x){
        var tr = document.createElement('tr'); cell(tr, x, true);
        if (kind === 'devices') cell(tr, notes[x] || '', false);
        tbody.appendChild(tr);
      });
      info.textContent = items.length === 0 ? 'none' : (page * PAGE + 1) + '\\u2013' + Math.min(items.length, page * PAGE + PAGE) + ' of ' + items.length + (items.length !== all.length ? ' (filtered from ' + all.length + ')' : '');
      prev.disabled = page === 0; next.disabled = page >= pages - 1;
    }
    prev.addEventListener('click', function(){ page--; draw(); });
    next.addEventListener('click', function(){ page++; draw(); });
    filter.addEventListener('input', function(){
      var q = filter.value.toLowerCase(); page = 0;
      items = q ? all.filter(function(x){ return x.toLowerCase().indexOf(q) >= 0 || String(notes[x] || '').toLowerCase().indexOf(q) >= 0; }) : all;
      draw();
    });
    draw();
  });
})();
`;

function listBlock(f: Finding, index: number, kind: 'devices' | 'certificates'): string {
  const items = kind === 'devices' ? f.devices : f.certificates;
  if (items.length === 0) return '';
  const rows = items
    .slice(0, PAGE_SIZE)
    .map((x) => `<tr><td class="mono">${htmlEscape(x)}</td>${kind === 'devices' ? `<td>${htmlEscape(f.deviceNotes?.[x] ?? '')}</td>` : ''}</tr>`)
    .join('');
  const head = kind === 'devices' ? '<tr><th>serial</th><th>note</th></tr>' : '<tr><th>SHA-256 fingerprint</th></tr>';
  const more = items.length > PAGE_SIZE ? `<p class="nojs-more">… and ${items.length - PAGE_SIZE} more: enable JavaScript to page through them, or see the JSON report.</p>` : '';
  return (
    `<h4>${kind === 'devices' ? 'Devices' : 'Certificates'} (${items.length})</h4>` +
    `<div class="list" data-finding="${index}" data-kind="${kind}" data-count="${items.length}">` +
    `<input type="search" placeholder="filter" aria-label="filter ${kind}" hidden>` +
    `<table><thead>${head}</thead><tbody>${rows}</tbody></table>${more}` +
    `<div class="pager" hidden><button type="button" data-act="prev">&lsaquo; previous</button><span class="pageinfo"></span><button type="button" data-act="next">next &rsaquo;</button></div>` +
    `</div>`
  );
}

function findingArticle(f: Finding, k: number): string {
  const evidence = f.evidence === undefined ? '' : `<details><summary>Evidence</summary><pre class="mono">${htmlEscape(JSON.stringify(f.evidence, null, 2))}</pre></details>`;
  return (
    `<article class="finding sev-${f.severity}" id="f-${k + 1}" data-id="${htmlEscape(f.id)}" data-key="${htmlEscape(f.key)}" data-severity="${f.severity}" data-devices="${f.devices.length}" data-certificates="${f.certificates.length}">` +
    `<h3><span class="badge">${f.severity}</span> ${htmlEscape(f.title)}</h3>` +
    `<p class="muted">check <code>${htmlEscape(f.id)}</code> · ${f.devices.length} device(s) · ${f.certificates.length} certificate(s)</p>` +
    `<h4>Why it matters</h4><p class="why">${htmlEscape(f.why)}</p>` +
    `<h4>How to fix it</h4><p class="fix">${htmlEscape(f.fix)}</p>` +
    evidence +
    listBlock(f, k, 'devices') +
    listBlock(f, k, 'certificates') +
    `</article>`
  );
}

function inputsParagraph(r: AuditReport): string {
  const { inventory, certificates: c, sessions: s } = r.inputs;
  return (
    `<p class="muted">Audit time <time>${htmlEscape(r.auditTime)}</time>. ` +
    `Inventory <code>${htmlEscape(inventory.file)}</code>: ${inventory.devices} devices${inventory.rejectedRows > 0 ? ` (${inventory.rejectedRows} rows rejected)` : ''}. ` +
    `Certificates: ${c.certificates} from ${c.filesRead} files (${c.deviceCertificates} device, ${c.caCertificates} CA, ${c.malformed} malformed). ` +
    (s === null ? 'No session history.' : `Session history <code>${htmlEscape(s.file)}</code>: ${s.events} events (${s.malformed} malformed lines).`) +
    `</p>`
  );
}

export function renderHtml(report: AuditReport): string {
  const { summary } = report;
  const summaryRows = SEVERITIES.map((s) => `<tr class="sev-${s}" data-severity="${s}"><td><span class="badge">${s}</span></td><td class="count">${summary.bySeverity[s]}</td></tr>`).join('');
  const toc = report.findings
    .map((f, k) => `<li class="sev-${f.severity}"><a href="#f-${k + 1}"><span class="badge">${f.severity}</span> ${htmlEscape(f.title)}</a></li>`)
    .join('');
  const problems =
    report.problems.length === 0
      ? ''
      : `<section id="problems"><h2>Input problems</h2><p>Reported and skipped; the audit went on without them.</p>` +
        `<table><thead><tr><th>source</th><th>file</th><th>line</th><th>problem</th></tr></thead><tbody>` +
        report.problems.map((p) => `<tr><td>${p.source}</td><td class="mono">${htmlEscape(p.file)}</td><td>${p.line ?? ''}</td><td>${htmlEscape(p.message)}</td></tr>`).join('') +
        `</tbody></table>${report.problemsOmitted > 0 ? `<p>… and ${report.problemsOmitted} more.</p>` : ''}</section>`;
  const lists = { findings: report.findings.map((f) => ({ devices: f.devices, certificates: f.certificates, deviceNotes: f.deviceNotes ?? {} })) };
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // Nothing may be fetched: the report must open offline and leak nothing when opened.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">`,
    `<title>femtoguard fleet audit ${htmlEscape(report.auditTime)}</title>`,
    `<style>${CSS}</style></head><body>`,
    `<header><h1>femtoguard fleet audit</h1>${inputsParagraph(report)}</header>`,
    `<section id="summary"><h2>Summary</h2><table class="summary"><thead><tr><th>severity</th><th>findings</th></tr></thead><tbody>${summaryRows}</tbody></table>`,
    `<p>${summary.findings} findings; ${summary.devicesAffected} devices and ${summary.certificatesAffected} certificates affected.</p>`,
    report.findings.length > 0 ? `<ol class="toc">${toc}</ol>` : '<p>No findings.</p>',
    '</section>',
    `<section id="findings"><h2>Findings</h2>${report.findings.map(findingArticle).join('\n')}</section>`,
    problems,
    `<footer class="muted"><p>Checks run: ${report.checks.map((c) => `<code>${htmlEscape(c)}</code>`).join(', ')}. Report schema version ${report.schemaVersion}.</p></footer>`,
    `<script type="application/json" id="audit-data">${scriptJson(lists)}</script>`,
    `<script>${SCRIPT}</script>`,
    '</body></html>',
    '',
  ].join('\n');
}
