/**
 * One engine, two feeds: the live server, fed the kt-small sample out of order by up to nine
 * minutes in several POST /v1/events bodies (curl), with its default live settings, stores
 * exactly the alerts `femtoguard detect` writes for the same events sorted (FORMATS.md: "out
 * of order arrival of up to 10 minutes must give the same result as sorted input"). Responses
 * are a dry run here: a quarantine changes the registry the live engine reads, which an
 * offline replay has no way to do.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, requireTool, run } from '../helpers/run.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { eventually, expected, ingestWithCurl, paymentTime, rebased, SAMPLE } from '../helpers/subscribers-sample.js';

let t: TestServer;

interface AlertLike {
  rule: string;
  severity: string;
  serial?: string | null;
  cellId?: string | null;
  txId?: string | null;
  count: number;
  firstSeen: string;
  lastSeen: string;
}
const key = (a: AlertLike): string => JSON.stringify([a.rule, a.severity, a.serial ?? null, a.cellId ?? null, a.txId ?? null, a.count, a.firstSeen, a.lastSeen]);

/** A deterministic shuffle that moves each line at most `maxMs` of event time (a seeded LCG). */
function shuffleWithin(lines: string[], maxMs: number): string[] {
  let seed = 7;
  const rnd = (): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648);
  const keyed = lines.map((l) => {
    let t = NaN;
    try {
      const ts = (JSON.parse(l) as { ts?: unknown }).ts;
      t = typeof ts === 'number' ? ts : Date.parse(String(ts));
    } catch {
      // the sample's broken lines go anywhere
    }
    return { l, k: (Number.isNaN(t) ? 0 : t) + rnd() * maxMs };
  });
  return keyed.sort((a, b) => a.k - b.k).map((x) => x.l);
}

beforeAll(async () => {
  requireTool('curl', 'curl');
  t = await startTestServer({ detection: { dryRun: true } });
  expect((await cli(['device', 'import', join(SAMPLE, 'registry.csv')], t.env)).status).not.toBe(1);
  await t.srv.live.syncRegistry();
});
afterAll(async () => t?.stop());

describe('live detection and femtoguard detect agree', () => {
  it('ok/kt-small shuffled within 9 minutes, posted in 8 bodies, gives exactly the alerts of detect on the sorted events', async () => {
    const now = Date.now();
    const sorted = rebased(now - 60_000 - paymentTime(expected.fraudTx.at(-1) as string), now);
    const lines = sorted.split('\n').filter((l) => l.trim() !== '');
    const shuffled = shuffleWithin(lines, 9 * 60_000);
    expect(shuffled).not.toEqual(lines);
    const ingest = (await t.srv.base.tokens.create('ingest', 'test')).token;
    const per = Math.ceil(shuffled.length / 8);
    let accepted = 0;
    for (let i = 0; i < shuffled.length; i += per) accepted += (await ingestWithCurl(t.http, ingest, shuffled.slice(i, i + per).join('\n') + '\n')).accepted;
    expect(accepted).toBeGreaterThan(15_000);

    const file = join(t.work, 'sorted.ndjson');
    writeFileSync(file, sorted);
    const out = join(t.work, 'offline.ndjson');
    const d = await cli(['detect', '--registry', join(SAMPLE, 'registry.csv'), '--events', file, '--alerts', out], t.env);
    expect(d.status, d.stderr).toBe(0);
    const { readFileSync } = await import('node:fs');
    const offline = readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AlertLike);
    expect(offline.length).toBeGreaterThan(10);

    let live: AlertLike[] = [];
    await eventually(async () => {
      const r = await run('curl', ['-sS', '-H', `Authorization: Bearer ${t.adminToken}`, `${t.http}/v1/alerts?limit=1000`]);
      live = (JSON.parse(r.stdout) as { items: AlertLike[] }).items;
      return live.length >= offline.length && t.srv.live.stats().processed >= accepted;
    }, 60_000, 'live detection to process every event');
    expect(live.map(key).sort()).toEqual(offline.map(key).sort());
  });
});
