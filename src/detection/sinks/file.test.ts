import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Alert } from '../alerts.js';
import { fileSink } from './file.js';

const alert: Alert = {
  id: 'al_1',
  ts: '2026-01-01T00:00:00.000Z',
  rule: 'payment-exposure',
  severity: 'high',
  txId: 'tx1',
  msisdn: '+821012345678',
  summary: 'payment by an exposed subscriber',
  evidence: { imsi: '450081234567890' },
  count: 1,
  firstSeen: '2026-01-01T00:00:00.000Z',
  lastSeen: '2026-01-01T00:00:00.000Z',
};
const modeOf = (p: string): number => statSync(p).mode & 0o777;
const dir = (): string => mkdtempSync(join(tmpdir(), 'fg-file-sink-'));

describe('fileSink: the live alerts file is its owner\'s only', () => {
  it('ok/a new file is created 0600', async () => {
    const path = join(dir(), 'alerts.ndjson');
    const sink = fileSink(path);
    sink.deliver(alert, true, false);
    await sink.close?.();
    expect(modeOf(path)).toBe(0o600);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ msisdn: '+821012345678' });
  });

  it('fail/an existing world-readable file is made 0600 before any alert is appended, and keeps its lines', async () => {
    const path = join(dir(), 'alerts.ndjson');
    writeFileSync(path, '{"earlier":true}\n');
    chmodSync(path, 0o644);
    const sink = fileSink(path);
    expect(modeOf(path)).toBe(0o600);
    sink.deliver(alert, true, false);
    await sink.close?.();
    expect(modeOf(path)).toBe(0o600);
    expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(2);
  });

  it('fail/a path in a missing directory is refused at once, naming the path', () => {
    const path = join(dir(), 'no-such-dir', 'alerts.ndjson');
    expect(() => fileSink(path)).toThrow(expect.objectContaining({ code: 'alerts.file_unwritable', message: expect.stringContaining(path) }));
  });

  it('ok/a FIFO is written as it is: its mode is not the sink\'s to change', async () => {
    const fifo = join(dir(), 'alerts.fifo');
    expect(spawnSync('mkfifo', ['-m', '0644', fifo]).status).toBe(0);
    // The reader first: opening a FIFO for writing waits for one.
    const reader = spawn('cat', [fifo]);
    let got = '';
    reader.stdout.on('data', (b: Buffer) => (got += b.toString('utf8')));
    const sink = fileSink(fifo);
    sink.deliver(alert, true, false);
    await sink.close?.();
    await once(reader, 'close');
    expect(JSON.parse(got)).toMatchObject({ id: 'al_1' });
    expect(modeOf(fifo)).toBe(0o644);
  });
});
