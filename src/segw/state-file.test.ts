import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger, type Logger } from '../core/logger.js';
import type { IkeSa } from './session.js';
import { createStateWriter, loadBridgeState, MAX_STATE_FILE_BYTES, type BridgeState } from './state-file.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fg-segw-statefile-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function capturingLogger(): { log: Logger; lines: { level: number; msg: string; err?: string }[] } {
  const lines: { level: number; msg: string; err?: string }[] = [];
  const log = createLogger({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l) as { level: number; msg: string }) });
  return { log, lines };
}

const until = async (cond: () => boolean, what: string, ms = 3_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

const sa = (uniqueId: string): IkeSa => ({ name: 'femto', uniqueId, state: 'ESTABLISHED', remoteId: `CN=KTS${uniqueId}`, remoteHost: '198.18.0.2', localHost: '198.18.0.1', localPort: '4500', initiatorSpi: `000000000000000${uniqueId}`, responderSpi: 'feedfacecafebeef', establishedSeconds: 3 });
const down = { type: 'femto.session' as const, id: 'segw:ike-9-x:down', ts: '2026-11-28T10:00:00.000Z', serial: 'KTS9', phase: 'down' as const, sourceIp: '198.18.0.9', sessionId: 'ike-9-x' };

describe('SeGW bridge state file', () => {
  it('ok/what the writer writes is what load reads; mode 0600, no temp file left', async () => {
    const file = join(dir, 'sub', 'state.json');
    const state: BridgeState = { sessions: [{ sessionId: 'ike-1-0000000000000001', sa: sa('1') }], downs: [down] };
    const w = createStateWriter(file, () => state, capturingLogger().log);
    w.changed();
    await w.close();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(dir, 'sub'))).toEqual(['state.json']);
    expect(loadBridgeState(file, capturingLogger().log)).toEqual(state);
  });

  it('ok/a burst of changes is one write, within the delay', async () => {
    const file = join(dir, 'state.json');
    let snapshots = 0;
    const w = createStateWriter(file, () => (snapshots++, { sessions: [], downs: [] }), capturingLogger().log, { delayMs: 30 });
    for (let i = 0; i < 100; i++) w.changed();
    expect(snapshots).toBe(0);
    await until(() => existsSync(file), 'the write');
    await new Promise((r) => setTimeout(r, 100));
    expect(snapshots).toBe(1);
    await w.close(); // nothing changed since: no second write
    expect(snapshots).toBe(1);
  });

  it('ok/a missing file is a first start: empty, no error', () => {
    const { log, lines } = capturingLogger();
    expect(loadBridgeState(join(dir, 'none.json'), log)).toEqual({ sessions: [], downs: [] });
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
  });

  it.each([
    ['not JSON', '{"version":1,"sessions":['],
    ['an unknown version', JSON.stringify({ version: 2, sessions: [], downs: [] })],
    ['a session without its SA', JSON.stringify({ version: 1, sessions: [{ sessionId: 'ike-1-x' }], downs: [] })],
    ['an SA whose unique id is not a number', JSON.stringify({ version: 1, sessions: [{ sessionId: 'ike-1-x', sa: { ...sa('1'), uniqueId: '1; rm' } }], downs: [] })],
    ['a down that is an up', JSON.stringify({ version: 1, sessions: [], downs: [{ ...down, phase: 'up' }] })],
    ['an array', '[]'],
  ])('fail/%s: logged as corrupt, treated as empty', (_what, body) => {
    const file = join(dir, 'state.json');
    writeFileSync(file, body);
    const { log, lines } = capturingLogger();
    expect(loadBridgeState(file, log)).toEqual({ sessions: [], downs: [] });
    const errors = lines.filter((l) => l.level >= 50);
    expect(errors.map((l) => l.msg)).toEqual(['segw: state file corrupt; starting with no known sessions']);
    expect(errors[0]?.err).not.toContain('rm'); // the reason names fields, not content
  });

  it('fail/a directory, a symbolic link or an oversized file is unreadable: logged, treated as empty', () => {
    const target = join(dir, 'real.json');
    writeFileSync(target, JSON.stringify({ version: 1, sessions: [{ sessionId: 'ike-1-x', sa: sa('1') }], downs: [] }));
    const link = join(dir, 'link.json');
    symlinkSync(target, link);
    const big = join(dir, 'big.json');
    writeFileSync(big, '');
    truncateSync(big, MAX_STATE_FILE_BYTES + 1);
    for (const file of [dir, link, big]) {
      const { log, lines } = capturingLogger();
      expect(loadBridgeState(file, log)).toEqual({ sessions: [], downs: [] });
      expect(lines.filter((l) => l.level >= 50).map((l) => l.msg)).toEqual(['segw: state file unreadable; starting with no known sessions']);
    }
  });

  it('fail/a write that fails is logged once, retried, and the writer recovers once it can write', async () => {
    const blocker = join(dir, 'blocker');
    writeFileSync(blocker, 'x'); // a file where the directory should be
    const file = join(blocker, 'state.json');
    const { log, lines } = capturingLogger();
    const w = createStateWriter(file, () => ({ sessions: [], downs: [down] }), log, { delayMs: 5, retryMs: 20 });
    w.changed();
    await new Promise((r) => setTimeout(r, 90)); // the first write and a few retries
    expect(lines.filter((l) => l.msg.includes('cannot write the state file'))).toHaveLength(1);
    rmSync(blocker);
    await until(() => lines.some((l) => l.msg === 'segw: state file written again'), 'a retry that succeeds');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ version: 1, downs: [down] });
    await w.close();
  });
});
