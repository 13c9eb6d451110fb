import { createReadStream, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { prng } from '../sim/prng.js';
import { generate } from '../sim/generate.js';
import { detectionConfigSchema } from './config.js';
import { replay, type ReplaySummary } from './replay.js';
import { replayFilesOnThread } from './replay-thread.js';

const config = detectionConfigSchema.parse({});
const dir = mkdtempSync(join(tmpdir(), 'fg-replay-fast-'));
const registryPath = join(dir, 'registry.csv');
const eventsPath = join(dir, 'events.ndjson');
const perturbedPath = join(dir, 'perturbed.ndjson');

/** The summary without the scanner's own count (the reference path scans nothing). */
const comparable = (s: ReplaySummary): unknown => ({ ...s, events: { ...s.events, scanned: undefined } });

beforeAll(() => {
  // A fleet with every scenario (rogues, clones, surges, downgrades, fraud) and malformed lines.
  generate({ dir, devices: 300, events: 60_000, seed: 11, malformed: true });
  // The same stream made hard for a reader: lines displaced (some beyond the 10-minute limit),
  // duplicated, CRLF ends, blank lines, an unknown type, a registry.update, escapes and
  // non-ASCII characters the scanner leaves to JSON.parse, a line over the 1 MiB limit, and
  // lines the scanner takes but validation would not (it must not).
  const rand = prng(5);
  const lines = readFileSync(eventsPath, 'utf8').split('\n').filter((l) => l.length > 0);
  for (let i = 0; i < lines.length; i++) {
    if (rand() < 0.05) {
      const j = Math.min(lines.length - 1, Math.max(0, i + Math.round((rand() - 0.5) * 4000)));
      [lines[i], lines[j]] = [lines[j] as string, lines[i] as string];
    }
  }
  const out: string[] = [];
  for (const [i, l] of lines.entries()) {
    const r = rand();
    if (r < 0.01) out.push(l, l);
    else if (r < 0.02) out.push(l + '\r');
    else if (r < 0.025) out.push('', '  \t', l);
    else if (r < 0.03) out.push(l.replace('"serial":"', '"serial":"\\u0046'));
    else if (r < 0.032) out.push(l.replace(/"id":"([^"]*)"/, '"id":"$1-é"'));
    else if (r < 0.034) out.push(l.replace('"imsi":"', '"imsi":"x'));
    else if (r < 0.036) out.push(l.replace(/}$/, ',"extra":{"a":[1,2]}}'));
    else out.push(l);
    if (i === 1000) out.push('{"type":"femto.firmware","ts":1754276400000,"serial":"X"}', '{"type":"registry.update","ts":"2025-08-04T03:00:00Z","serial":"FGS0000001","status":"lost"}');
    if (i === 2000) out.push(`{"type":"femto.report","serial":"${'A'.repeat(1100 * 1024)}","ts":1}`);
  }
  writeFileSync(perturbedPath, out.join('\n'));
}, 120_000);

describe('replay with the byte scanner', () => {
  for (const [name, path] of [
    ['a generated stream', eventsPath],
    ['the same stream perturbed', perturbedPath],
  ] as const) {
    it(`ok/${name}: the same alerts and summary as every line through JSON.parse, in process and on two threads`, async () => {
      const open = (p: string) => createReadStream(p, { highWaterMark: 64 * 1024 });
      const reference = await replay({ registry: open(registryPath), events: open(path), config, fastScan: false });
      const scanned = await replay({ registry: open(registryPath), events: open(path), config });
      const threaded = await replayFilesOnThread({ registryPath, eventsPath: path, config });
      expect(reference.alerts.length).toBeGreaterThan(5);
      expect(reference.summary.events.scanned).toBe(0);
      // The scanner did read (nearly) every line: the comparison is not between two JSON.parse runs.
      expect(scanned.summary.events.scanned).toBeGreaterThan(0.9 * scanned.summary.events.lines);
      expect(scanned.alerts).toEqual(reference.alerts);
      expect(comparable(scanned.summary)).toEqual(comparable(reference.summary));
      expect(threaded.alerts).toEqual(reference.alerts);
      expect(threaded.summary).toEqual(scanned.summary);
    }, 120_000);
  }

  it('ok/the perturbed stream really holds what it is meant to test', async () => {
    const r = await replay({ registry: createReadStream(registryPath), events: createReadStream(perturbedPath), config });
    const e = r.summary.events;
    expect(e.duplicates).toBeGreaterThan(100);
    expect(e.late).toBeGreaterThan(100);
    expect(e.unknownTypes['femto.firmware']).toBe(1);
    expect(e.rejected.some((x) => /line longer than/.test(x.error))).toBe(true);
    expect(e.rejected.some((x) => /imsi must be digits/.test(x.error))).toBe(true);
  }, 120_000);
});
