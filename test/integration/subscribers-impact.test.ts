/**
 * Breach impact analysis on the kt-small sample, checked against its ground truth
 * (expected.json `exposedImsis`, `fraudTx`): offline with `femtoguard impact --events`
 * (cells from `femtoguard detect`'s alerts, or named), and against a running server's
 * exposure index through `GET /v1/impact` (curl) and the CLI on the same data directory.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { sqliteStores } from '../../src/adapters/sqlite/index.js';
import { validateEvent, type FgEvent } from '../../src/events/index.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, requireTool, run } from '../helpers/run.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { eventually, expected, ingestWithCurl, rebased, SAMPLE } from '../helpers/subscribers-sample.js';

const HEADER = 'imsi,imei,msisdn,cell_ids,first_seen,last_seen,attach_count,ims_without_ipsec,payments_at_risk';
const work = mkdtempSync(join(tmpdir(), 'fg-impact-'));
const EVENTS = join(SAMPLE, 'events.ndjson');
const ROGUE_CELLS = expected.rogues.find((r) => r.name === 'kt-rogue')?.cellIds ?? [];
const ALL_EXPOSED = [...new Set(Object.values(expected.exposedImsis).flat())].sort();

type Row = Record<string, string>;
function parseCsv(text: string): { header: string; rows: Row[] } {
  const [header = '', ...lines] = text.trimEnd().split('\n');
  const cols = header.split(',');
  return { header, rows: lines.filter(Boolean).map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i], v])) as Row) };
}
/** IMSIs per cell, from SUBSCRIBERS.csv rows. */
function perCell(rows: Row[]): Record<string, string[]> {
  const out: Record<string, Set<string>> = {};
  for (const r of rows) for (const c of (r.cell_ids ?? '').split(';')) (out[c] ??= new Set()).add(r.imsi ?? '');
  return Object.fromEntries(Object.entries(out).map(([c, s]) => [c, [...s].sort()]));
}
const sorted = (o: Record<string, string[]>): Record<string, string[]> => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, [...v].sort()]));

describe('femtoguard impact on a data directory whose exposure index is behind its event log', () => {
  it('fail/refuses, naming how far behind, instead of answering an incomplete list; ok/with --index-behind-ok answers with a warning', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fg-impact-behind-'));
    // Events stored (as the server acknowledges them) but never indexed: no server ran.
    const s = sqliteStores(join(dir, 'femtoguard.db'));
    const events = [1, 2, 3].map((n): FgEvent => {
      const v = validateEvent({ type: 'ue.attach', cellId: ROGUE_CELLS[0], imsi: `45008000000000${n}`, ts: Date.now() - 60_000, id: `b${n}` });
      if (!v.ok) throw new Error('bad test event');
      return v.event;
    });
    await s.events.append(events);
    s.close();
    const env = { ...process.env, FEMTOGUARD_DATA_DIR: dir };
    const out = join(dir, 'subs.csv');
    const r = await cli(['impact', '--cells', ROGUE_CELLS.join(','), '--out', out, '--index-wait', '0'], env);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/the exposure index is 3 events behind the event log/);
    const ok = await cli(['impact', '--cells', ROGUE_CELLS.join(','), '--out', out, '--index-wait', '0', '--index-behind-ok'], env);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/warning: the exposure index is 3 events behind/);
  });
});

describe('femtoguard impact --events (offline)', () => {
  let alertsFile: string;
  beforeAll(async () => {
    alertsFile = join(work, 'alerts.ndjson');
    const d = await cli(['detect', '--registry', join(SAMPLE, 'registry.csv'), '--events', EVENTS, '--alerts', alertsFile], process.env);
    expect(d.status, d.stderr).toBe(0);
  });

  it('ok/--alerts from femtoguard detect: the exposed IMSIs of every rogue cell equal expected.json exactly', async () => {
    const out = join(work, 'from-alerts.csv');
    const r = await cli(['impact', '--events', EVENTS, '--alerts', alertsFile, '--out', out], process.env);
    expect(r.status, r.stderr).toBe(0);
    const { header, rows } = parseCsv(readFileSync(out, 'utf8'));
    expect(header).toBe(HEADER);
    const got = perCell(rows);
    for (const [cell, imsis] of Object.entries(expected.exposedImsis)) expect(got[cell], cell).toEqual([...imsis].sort());
    // Beyond the rogue: the clone's cell (a legitimate cell id, so its own users too), nothing else.
    expect(Object.keys(got).filter((c) => !(c in expected.exposedImsis))).toEqual(['45008-200000028']);
    expect(r.stderr).toMatch(/45008-200000122: 0 subscribers/);
  });

  it('ok/--cells = the rogue cells of expected.json: exactly the 171 exposed subscribers, per cell and in all', async () => {
    const out = join(work, 'subs.csv');
    const pay = join(work, 'pay.csv');
    const notifCsv = join(work, 'notify.csv');
    const summary = join(work, 'summary.json');
    const r = await cli(['impact', '--events', EVENTS, '--cells', ROGUE_CELLS.join(','), '--out', out, '--payments', pay, '--notification', notifCsv, '--summary', summary], process.env);
    expect(r.status, r.stderr).toBe(0);
    const { rows } = parseCsv(readFileSync(out, 'utf8'));
    expect(rows.map((x) => x.imsi).sort()).toEqual(ALL_EXPOSED);
    expect(perCell(rows)).toEqual(sorted(expected.exposedImsis));
    // Identifiers as the events linked them (a few victims' events never named their MSISDN).
    expect(rows.filter((x) => x.msisdn).length).toBeGreaterThan(150);
    for (const x of rows) {
      expect(x.msisdn).toMatch(/^(\+8210\d{8})?$/);
      expect(x.imei).toMatch(/^(\d{14,16})?$/);
      expect(Number(x.attach_count)).toBeGreaterThanOrEqual(1);
      expect(Date.parse(x.first_seen ?? '')).toBeLessThanOrEqual(Date.parse(x.last_seen ?? ''));
    }
    // PAYMENTS.csv: the payments at risk are exactly the fraudulent ones.
    const payments = parseCsv(readFileSync(pay, 'utf8')).rows;
    expect(payments.filter((p) => p.at_risk === 'true').map((p) => p.tx_id).sort()).toEqual([...expected.fraudTx].sort());
    for (const p of payments) expect(Number(p.seconds_since_exposure)).toBeGreaterThanOrEqual(0);
    expect(rows.reduce((n, x) => n + Number(x.payments_at_risk), 0)).toBe(expected.fraudTx.length);
    // The regulator's summary and customer care's list.
    const s = JSON.parse(readFileSync(summary, 'utf8')) as { subscribers: number; perCell: { cellId: string; subscribers: number }[]; perDay: { day: string }[]; payments: { atRisk: number; amountAtRisk: Record<string, number> } };
    expect(s.subscribers).toBe(171);
    expect(s.perCell.filter((c) => c.subscribers > 0).map((c) => [c.cellId, c.subscribers]).sort()).toEqual(Object.entries(expected.exposedImsis).map(([c, v]) => [c, v.length]).sort());
    expect(s.payments.atRisk).toBe(4);
    expect(s.payments.amountAtRisk.KRW).toBe(payments.filter((p) => p.at_risk === 'true').reduce((n, p) => n + Number(p.amount_minor), 0));
    expect(s.perDay.length).toBeGreaterThanOrEqual(2);
    const notif = parseCsv(readFileSync(notifCsv, 'utf8')).rows;
    expect(notif).toHaveLength(171);
    expect(notif.filter((n) => n.priority === 'urgent').map((n) => n.imsi)).toEqual(rows.filter((x) => x.payments_at_risk !== '0').map((x) => x.imsi));
  });

  it('ok/a window: --from/--to keep only attaches inside [from, to)', async () => {
    const out = join(work, 'night.csv');
    const r = await cli(['impact', '--events', EVENTS, '--cells', ROGUE_CELLS.join(','), '--from', '2025-08-03', '--to', '2025-08-04', '--out', out], process.env);
    expect(r.status, r.stderr).toBe(0);
    const rows = parseCsv(readFileSync(out, 'utf8')).rows;
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.length).toBeLessThan(171);
    for (const x of rows) expect(x.first_seen?.slice(0, 10)).toBe('2025-08-03');
  });

  it('ok/--mask masks the identifiers, JSON notification export', async () => {
    const out = join(work, 'masked.csv');
    const notif = join(work, 'notify.json');
    const r = await cli(['impact', '--events', EVENTS, '--cells', ROGUE_CELLS.join(','), '--out', out, '--notification', notif, '--mask'], process.env);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).not.toMatch(/45008\d{10}|\+8210\d{8}/);
    const items = (JSON.parse(readFileSync(notif, 'utf8')) as { items: { imsi: string; priority: string }[] }).items;
    expect(items).toHaveLength(171);
    expect(items[0]?.priority).toBe('urgent');
  });

  it('fail/no cells, unreadable files, a reversed window: exit 2 with a message', async () => {
    const cases: [string[], RegExp][] = [
      [['impact', '--events', EVENTS, '--out', join(work, 'x.csv')], /--cells ID,ID or --alerts/],
      [['impact', '--events', join(work, 'missing.ndjson'), '--cells', 'C', '--out', join(work, 'x.csv')], /cannot read events/],
      [['impact', '--events', work, '--cells', 'C', '--out', join(work, 'x.csv')], /cannot read events .*: it is a directory, not a file/],
      [['impact', '--events', EVENTS, '--alerts', work, '--out', join(work, 'x.csv')], /cannot read alerts .*: it is a directory, not a file/],
      [['impact', '--events', EVENTS, '--cells', 'C', '--from', '2025-08-04', '--to', '2025-08-03', '--out', join(work, 'x.csv')], /--to must be after --from/],
      [['impact', '--events', EVENTS, '--cells', 'C', '--from', 'yesterday', '--out', join(work, 'x.csv')], /--from must be YYYY-MM-DD/],
    ];
    for (const [args, msg] of cases) {
      const r = await cli(args, process.env);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(msg);
    }
  });
});

describe('GET /v1/impact and femtoguard impact against the server index', () => {
  let t: TestServer;
  const tok: Record<string, string> = {};
  const get = async (path: string, token: string): Promise<{ status: number; type: string; body: string }> => {
    const r = await run('curl', ['-sS', '-o', '-', '-w', '\n%{http_code} %{content_type}', '-H', `Authorization: Bearer ${token}`, `${t.http}${path}`]);
    const i = r.stdout.lastIndexOf('\n');
    const [code = '0', type = ''] = r.stdout.slice(i + 1).split(' ');
    return { status: Number(code), type, body: r.stdout.slice(0, i) };
  };
  const rogue = `cells=${ROGUE_CELLS.join(',')}`;

  beforeAll(async () => {
    requireTool('curl', 'curl');
    t = await startTestServer({ live: { maxOutOfOrderMs: 0, quietFlushMs: 100, registryPollMs: 200 } });
    expect((await cli(['device', 'import', join(SAMPLE, 'registry.csv')], t.env)).status).not.toBe(1);
    await t.srv.live.syncRegistry();
    for (const role of ['operator', 'viewer', 'ingest', 'payment'] as const) tok[role] = (await t.srv.base.tokens.create(role, 'test')).token;
    tok.admin = t.adminToken;
    // The sample as if it ended an hour ago (inside the 400-day retention).
    const last = Date.parse('2025-08-04T23:59:59Z');
    await ingestWithCurl(t.http, tok.ingest as string, rebased(Date.now() - 3_600_000 - last));
    await eventually(async () => {
      const r = await get(`/v1/impact?${rogue}&view=summary`, tok.admin as string);
      return r.status === 200 && (JSON.parse(r.body) as { subscribers: number }).subscribers === 171;
    }, 30_000, 'the exposure index to hold the sample');
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('ok/admin CSV: the header, every exposed subscriber per rogue cell exactly, identifiers in full', async () => {
    const r = await get(`/v1/impact?${rogue}&format=csv`, tok.admin as string);
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^text\/csv/);
    const { header, rows } = parseCsv(r.body);
    expect(header).toBe(HEADER);
    expect(perCell(rows)).toEqual(sorted(expected.exposedImsis));
    expect(rows.filter((x) => /^\+8210\d{8}$/.test(x.msisdn ?? '')).length).toBeGreaterThan(150);
  });

  it('ok/the CLI on the same data directory gives the same CSV as the API', async () => {
    const out = join(work, 'store.csv');
    const r = await cli(['impact', '--cells', ROGUE_CELLS.join(','), '--out', out], t.env);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe((await get(`/v1/impact?${rogue}&format=csv`, tok.admin as string)).body);
  });

  it('ok/operator and viewer get the analysis with IMSI, MSISDN and IMEI masked', async () => {
    for (const role of ['operator', 'viewer']) {
      const r = await get(`/v1/impact?${rogue}&format=csv`, tok[role] as string);
      expect(r.status).toBe(200);
      expect(parseCsv(r.body).rows).toHaveLength(171);
      expect(r.body, role).not.toMatch(/45008\d{10}|\+8210\d{8}|\b35\d{13}\b/);
      const j = await get(`/v1/impact?${rogue}&view=payments`, tok[role] as string);
      expect(j.body).not.toMatch(/45008\d{10}|\+8210\d{8}/);
    }
  });

  it('ok/payments at risk, the notification export and the summary', async () => {
    const pay = JSON.parse((await get(`/v1/impact?${rogue}&view=payments`, tok.admin as string)).body) as { items: { txId: string; atRisk: boolean }[] };
    expect(pay.items.filter((p) => p.atRisk).map((p) => p.txId).sort()).toEqual([...expected.fraudTx].sort());
    const notif = await get(`/v1/impact?${rogue}&view=notification&format=csv`, tok.admin as string);
    expect(notif.body.split('\n')[0]).toBe('msisdn,imsi,imei,first_exposed,last_exposed,cell_ids,payments_at_risk,amount_at_risk,priority');
    const s = JSON.parse((await get(`/v1/impact?${rogue}&view=summary`, tok.admin as string)).body) as { subscribers: number; payments: { atRisk: number } };
    expect(s).toMatchObject({ subscribers: 171, payments: { atRisk: 4 } });
  });

  it('ok/flagged=true analyses every cell detection flagged: the rogue cells among them', async () => {
    const r = JSON.parse((await get('/v1/impact?flagged=true&view=summary', tok.admin as string)).body) as { cells: string[]; perCell: { cellId: string; subscribers: number }[] };
    for (const c of Object.keys(expected.exposedImsis)) expect(r.perCell.find((x) => x.cellId === c)?.subscribers, c).toBe(expected.exposedImsis[c]?.length);
  });

  it('ok/every export is audited, with whether identifiers were in full', async () => {
    const r = JSON.parse((await get('/v1/audit?action=subscribers.impact_export&limit=1000', tok.admin as string)).body) as { items: { details: { identifiers: string } }[] };
    const kinds = new Set(r.items.map((i) => i.details.identifiers));
    expect(kinds).toEqual(new Set(['full', 'masked']));
  });

  it('fail/the payment gateway may not run impact analyses: 403 problem+json', async () => {
    const r = await get(`/v1/impact?${rogue}`, tok.payment as string);
    expect(r.status).toBe(403);
    expect(r.type).toMatch(/problem\+json/);
  });

  it('ok/window bounds in epoch ms from 0 and RFC 3339 outside the years events carry: the whole sample', async () => {
    for (const q of [`from=0`, `from=0&to=${8.64e15}`, 'from=1969-12-31T00:00:00Z&to=2150-01-01T00:00:00%2B09:00']) {
      const r = await get(`/v1/impact?${rogue}&view=summary&${q}`, tok.admin as string);
      expect(r.status, q).toBe(200);
      expect((JSON.parse(r.body) as { subscribers: number }).subscribers, q).toBe(171);
    }
  });

  it('fail/bad requests: no cells, a summary as CSV, a bad time, a reversed window', async () => {
    for (const q of ['', 'cells=', `${rogue}&view=summary&format=csv`, `${rogue}&from=yesterday`, `${rogue}&from=-1`, `${rogue}&to=1.5`, `${rogue}&from=2025-08-04&to=2025-08-03`, `${rogue}&format=xml`]) {
      const r = await get(`/v1/impact?${q}`, tok.admin as string);
      expect(r.status, q).toBe(400);
    }
    const bad = await get(`/v1/impact?${rogue}&to=-1`, tok.admin as string);
    expect(bad.body).toMatch(/to must be YYYY-MM-DD, RFC 3339 with an offset, or non-negative integer epoch milliseconds/);
  });
});
