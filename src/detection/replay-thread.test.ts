import { execFileSync } from 'node:child_process';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AppError } from '../core/errors.js';
import { detectionConfigSchema } from './config.js';
import { replay } from './replay.js';
import { replayFilesOnThread } from './replay-thread.js';

const SAMPLE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'samples', 'kt-small');
const config = detectionConfigSchema.parse({});

describe('replayFilesOnThread', () => {
  it('ok/the same alerts and summary as the in-process replay of the same files, with progress', async () => {
    const registryPath = join(SAMPLE, 'registry.csv');
    const eventsPath = join(SAMPLE, 'events.ndjson');
    const progress: number[] = [];
    const threaded = await replayFilesOnThread({ registryPath, eventsPath, config, onProgress: (bytes) => progress.push(bytes) });
    const local = await replay({ registry: createReadStream(registryPath), events: createReadStream(eventsPath), config });
    expect(threaded.alerts.length).toBeGreaterThan(0);
    expect(threaded.alerts).toEqual(local.alerts);
    expect(threaded.summary).toEqual(local.summary);
    expect(progress.length).toBeGreaterThan(0);
  }, 60_000);

  it('fail/a second row of a serial in the registry is refused with its line number, the first one is kept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fg-replay-dup-'));
    const registryPath = join(dir, 'registry.csv');
    writeFileSync(registryPath, ['serial,status', 'A1,active', 'B1,active', 'A1,lost'].join('\n'));
    const eventsPath = join(dir, 'events.ndjson');
    writeFileSync(eventsPath, JSON.stringify({ type: 'femto.session', serial: 'A1', phase: 'up', sourceIp: '198.18.0.1', ts: '2025-08-01T00:00:00Z', id: 'e1' }) + '\n');
    const r = await replayFilesOnThread({ registryPath, eventsPath, config });
    expect(r.summary.registry).toMatchObject({ devices: 2, rejected: [{ line: 4, error: 'serial A1 is already on line 2 (serials are unique)' }] });
    // A1 is the active unit of line 2: no inactive-device alert as the lost row would give.
    expect(r.alerts.filter((a) => a.rule === 'inactive-device')).toEqual([]);
  }, 60_000);

  it('ok/a registry that can be read only once (a named pipe, as `--registry <(…)` gives) is read once for both engine workers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fg-replay-thread-'));
    const fifo = join(dir, 'registry.fifo');
    execFileSync('mkfifo', [fifo]);
    const writer = createWriteStream(fifo);
    writer.end(readFileSync(join(SAMPLE, 'registry.csv')));
    const eventsPath = join(SAMPLE, 'events.ndjson');
    const r = await replayFilesOnThread({ registryPath: fifo, eventsPath, config });
    const local = await replay({ registry: createReadStream(join(SAMPLE, 'registry.csv')), events: createReadStream(eventsPath), config });
    expect(r.summary.registry.devices).toBe(125);
    expect(r.alerts).toEqual(local.alerts);
  }, 60_000);

  it('fail/an events path the worker cannot read rejects the promise (the process lives)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fg-replay-thread-'));
    await expect(replayFilesOnThread({ registryPath: join(SAMPLE, 'registry.csv'), eventsPath: dir, config })).rejects.toThrow(/EISDIR|illegal operation on a directory/);
  }, 60_000);

  it('ok/a stream whose last event falls just after an hourly expiry boundary finishes (the final pass waits for nothing)', async () => {
    // The last event is past the hour the expiry runs at, before the next minute tick: the
    // final tick once ran the expiry, whose subscriber side waited for a device batch that
    // never came.
    const dir = mkdtempSync(join(tmpdir(), 'fg-replay-thread-'));
    const registryPath = join(dir, 'registry.csv');
    const eventsPath = join(dir, 'events.ndjson');
    writeFileSync(registryPath, 'serial,status\nKTF000000,active\n');
    const at = ['2025-08-05T00:00:00.000Z', '2025-08-05T00:59:30.000Z', '2025-08-05T01:00:10.000Z'];
    writeFileSync(eventsPath, at.map((ts, i) => JSON.stringify({ type: 'femto.report', serial: 'KTF000000', ts, id: `a${i}` })).join('\n') + '\n');
    const r = await replayFilesOnThread({ registryPath, eventsPath, config });
    expect(r.summary.engine.events).toBe(3);
  }, 20_000);

  it('fail/a registry without a header the replay can use rejects with the same AppError as in process (the CLI exits 2)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fg-replay-thread-'));
    const registryPath = join(dir, 'registry.csv');
    writeFileSync(registryPath, 'foo,bar\n1,2\n');
    const err = await replayFilesOnThread({ registryPath, eventsPath: join(SAMPLE, 'events.ndjson'), config }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ kind: 'invalid', code: 'registry.csv_header' });
  }, 60_000);
});
