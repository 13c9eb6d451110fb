/**
 * `femtoguard detect` on the shared kt-small sample, as an outside script would call it,
 * checked against the sample's ground truth (expected.json).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, ROOT } from '../helpers/run.js';

const SAMPLE = join(ROOT, '..', 'shared', 'samples', 'kt-small');
const SEV = { low: 0, medium: 1, high: 2, critical: 3 } as const;

interface Alert {
  id: string;
  ts: string;
  rule: string;
  severity: keyof typeof SEV;
  serial?: string;
  cellId?: string;
  txId?: string;
  msisdn?: string;
  summary: string;
  evidence: Record<string, unknown>;
  count: number;
  lastSeen: string;
}
interface Expected {
  rogues: { name: string; serials: string[]; cellIds: string[]; start: string }[];
  fraudTx: string[];
  benignSerials: string[];
  benignCellIds: string[];
}

const work = mkdtempSync(join(tmpdir(), 'fg-detect-'));
const expected = JSON.parse(readFileSync(join(SAMPLE, 'expected.json'), 'utf8')) as Expected;
let alerts: Alert[];
let stderr: string;

const readAlerts = (p: string): Alert[] => readFileSync(p, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Alert);

beforeAll(async () => {
  const out = join(work, 'alerts.ndjson');
  const r = await cli(['detect', '--registry', join(SAMPLE, 'registry.csv'), '--events', join(SAMPLE, 'events.ndjson'), '--alerts', out], process.env);
  expect(r.status, r.stderr).toBe(0);
  stderr = r.stderr;
  alerts = readAlerts(out);
});

describe('femtoguard detect on kt-small', () => {
  it('ok/reports malformed lines with their numbers, counts the unknown type, keeps going', () => {
    expect(stderr).toMatch(/events line 8304: ue\.attach: bad timestamp/);
    expect(stderr).toMatch(/events line 8680: not valid JSON/);
    expect(stderr).toMatch(/unknown type radio\.weird: 1/);
    expect(stderr).toMatch(/21391 accepted/);
  });

  it('ok/every alert line follows the alert contract (FORMATS.md §3)', () => {
    expect(alerts.length).toBeGreaterThan(0);
    for (const a of alerts) {
      expect(typeof a.id).toBe('string');
      expect(a.ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
      expect(Object.keys(SEV)).toContain(a.severity);
      expect(a.summary.length).toBeGreaterThan(20);
      expect(typeof a.evidence).toBe('object');
      expect(a.count).toBeGreaterThanOrEqual(1);
    }
    // Folded: one alert per rule and subject.
    const keys = alerts.map((a) => `${a.rule}|${a.txId ?? a.cellId ?? ''}|${a.serial ?? ''}`);
    expect(new Set(alerts.map((a) => a.id)).size).toBe(alerts.length);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('ok/every rogue is found within 15 minutes of its first event, at high or critical', () => {
    for (const r of expected.rogues) {
      const hits = alerts.filter((a) => SEV[a.severity] >= SEV.high && ((a.serial && r.serials.includes(a.serial)) || (a.cellId && r.cellIds.includes(a.cellId))));
      expect(hits.length, r.name).toBeGreaterThan(0);
      const first = Math.min(...hits.map((a) => Date.parse(a.ts)));
      expect(first - Date.parse(r.start), r.name).toBeLessThanOrEqual(15 * 60_000);
    }
  });

  it('ok/flags exactly the fraudulent payments', () => {
    const flagged = alerts.filter((a) => a.rule === 'payment-exposure').map((a) => a.txId);
    expect(flagged.sort()).toEqual([...expected.fraudTx].sort());
    for (const a of alerts.filter((x) => x.rule === 'payment-exposure')) {
      expect(a.msisdn).toMatch(/^\+\d+$/);
      expect(a.cellId).toBeTruthy();
    }
  });

  it('fail/nothing of medium or higher on benign entities', () => {
    const benignS = new Set(expected.benignSerials);
    const benignC = new Set(expected.benignCellIds);
    const bad = alerts.filter((a) => SEV[a.severity] >= SEV.medium && a.rule !== 'payment-exposure' && ((a.serial && benignS.has(a.serial)) || (a.cellId && benignC.has(a.cellId))));
    expect(bad.map((a) => `${a.rule} ${a.serial ?? a.cellId}`)).toEqual([]);
  });

  it('ok/the announced relocation (registry.update) raises nothing', () => {
    expect(alerts.filter((a) => a.serial === 'KTF000078')).toEqual([]);
  });

  it('ok/arrival up to 10 minutes out of order, from stdin, gives the same alerts', async () => {
    const lines = readFileSync(join(SAMPLE, 'events.ndjson'), 'utf8').split('\n');
    // Deterministic shuffle inside blocks of 40 lines (far less than 10 minutes of events here).
    let seed = 42;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const shuffled: string[] = [];
    for (let i = 0; i < lines.length; i += 40) {
      const block = lines.slice(i, i + 40);
      for (let j = block.length - 1; j > 0; j--) {
        const k = Math.floor(rnd() * (j + 1));
        [block[j], block[k]] = [block[k] as string, block[j] as string];
      }
      shuffled.push(...block);
    }
    const input = shuffled.join('\n');
    const out = join(work, 'alerts-shuffled.ndjson');
    const r = await cli(['detect', '--registry', join(SAMPLE, 'registry.csv'), '--events', '-', '--alerts', out], process.env, input);
    expect(r.status, r.stderr).toBe(0);
    const again = readAlerts(out);
    const norm = (xs: Alert[]): string[] => xs.map((a) => `${a.id} ${a.count} ${a.ts} ${a.lastSeen}`).sort();
    expect(norm(again)).toEqual(norm(alerts));
  });

  it('ok/the same event id twice does not double-count', async () => {
    const text = readFileSync(join(SAMPLE, 'events.ndjson'), 'utf8');
    const doubled = join(work, 'doubled.ndjson');
    const lines = text.split('\n');
    // A batch re-sent soon after (inside the dedup window) and the first lines again days later
    // (older than the window: dropped, since their ids may have been forgotten).
    writeFileSync(doubled, [...lines.slice(0, 5300), ...lines.slice(5000, 5200), ...lines.slice(5300), ...lines.slice(0, 3000)].join('\n') + '\n');
    const out = join(work, 'alerts-doubled.ndjson');
    const r = await cli(['detect', '--registry', join(SAMPLE, 'registry.csv'), '--events', doubled, '--alerts', out], process.env);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/, 200 duplicates, 0 late, 3000 too old/);
    const norm = (xs: Alert[]): string[] => xs.map((a) => `${a.id} ${a.count}`).sort();
    expect(norm(readAlerts(out))).toEqual(norm(alerts));
  });

  it('fail/missing files and bad config are clear errors with a non-zero exit', async () => {
    const r = await cli(['detect', '--registry', join(work, 'nope.csv'), '--events', join(SAMPLE, 'events.ndjson'), '--alerts', join(work, 'x.ndjson')], process.env);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/cannot read registry .*nope\.csv/);
    const cfg = join(work, 'bad.json');
    writeFileSync(cfg, JSON.stringify({ rules: { 'subscriber-surge': { homeCellMax: 'many' } } }));
    const c = await cli(['detect', '--registry', join(SAMPLE, 'registry.csv'), '--events', join(SAMPLE, 'events.ndjson'), '--alerts', join(work, 'y.ndjson'), '--config', cfg], process.env);
    expect(c.status).toBe(2);
    expect(c.stderr).toMatch(/homeCellMax/);
  });

  it('fail/registry and events both from stdin is a usage error (exit 2), not a replay of no events', async () => {
    const r = await cli(['detect', '--registry', '-', '--events', '-', '--alerts', join(work, 'z.ndjson')], process.env, readFileSync(join(SAMPLE, 'registry.csv'), 'utf8'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/error \[cli\.usage\]: --registry and --events cannot both be -/);
    expect(r.stderr).not.toMatch(/^events:/m);
  });

  it('fail/a directory as registry, events or alerts is a clear error naming it (exit 2)', async () => {
    const events = join(SAMPLE, 'events.ndjson');
    const reg = await cli(['detect', '--registry', `${work}/`, '--events', events, '--alerts', join(work, 'd1.ndjson')], process.env);
    expect(reg.status).toBe(2);
    expect(reg.stderr).toContain(`cannot read registry ${work}/: it is a directory, not a file`);
    expect(reg.stderr).not.toMatch(/EISDIR/);
    // Also on the in-process (stdin) path.
    const ev = await cli(['detect', '--registry', '-', '--events', work, '--alerts', join(work, 'd2.ndjson')], process.env, 'serial\n');
    expect(ev.status).toBe(2);
    expect(ev.stderr).toContain(`cannot read events ${work}: it is a directory, not a file`);
    const out = await cli(['detect', '--registry', join(SAMPLE, 'registry.csv'), '--events', events, '--alerts', work], process.env);
    expect(out.status).toBe(2);
    expect(out.stderr).toContain(`cannot write alerts ${work}: it is a directory, not a file`);
  });

  it('fail/an alerts file that cannot be created fails before the replay, naming the path (exit 2)', async () => {
    const missing = join(work, 'no-such-dir', 'a.ndjson');
    const r = await cli(['detect', '--registry', join(SAMPLE, 'registry.csv'), '--events', join(SAMPLE, 'events.ndjson'), '--alerts', missing], process.env);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`error [cli.file_unwritable]: cannot write alerts ${missing}: directory ${join(work, 'no-such-dir')} does not exist`);
    // No summary: nothing was replayed.
    expect(r.stderr).not.toMatch(/^registry: /m);
    // A failed run leaves an earlier alerts file as it was.
    const earlier = join(work, 'earlier.ndjson');
    writeFileSync(earlier, '{"kept":true}\n');
    const bad = await cli(['detect', '--registry', join(work, 'nope.csv'), '--events', join(SAMPLE, 'events.ndjson'), '--alerts', earlier], process.env);
    expect(bad.status).toBe(2);
    expect(readFileSync(earlier, 'utf8')).toBe('{"kept":true}\n');
  });

  it('fail/command-line usage errors (missing option, unknown option) exit 2 as documented', async () => {
    const noAlerts = await cli(['detect', '--registry', join(SAMPLE, 'registry.csv'), '--events', join(SAMPLE, 'events.ndjson')], process.env);
    expect(noAlerts.status).toBe(2);
    expect(noAlerts.stderr).toMatch(/required option '--alerts <file>' not specified/);
    const unknown = await cli(['detect', '--registry', 'r.csv', '--events', 'e.ndjson', '--alerts', '-', '--bogus'], process.env);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option '--bogus'/);
    const help = await cli(['detect', '--help'], process.env);
    expect(help.status).toBe(0);
  });
});
