import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DeviceInput } from '../registry/index.js';
import { parseEventTime } from './event-time.js';
import { distanceM, readSessionHistory } from './sessions.js';

const dir = mkdtempSync(join(tmpdir(), 'fg-audit-sessions-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let k = 0;
function file(text: string): string {
  const p = join(dir, `e${++k}.ndjson`);
  writeFileSync(p, text);
  return p;
}
const device = (serial: string, o: Partial<DeviceInput> = {}): DeviceInput => ({
  serial, status: 'active', cellIds: [], siteLat: null, siteLon: null, siteRadiusM: 300, ipPrefixes: [], expectedNeighbors: [], certFingerprints: [], owner: null, ...o,
});
const HOUR = 3_600_000;
const read = (text: string, devices: DeviceInput[] = []): ReturnType<typeof readSessionHistory> =>
  readSessionHistory(file(text), new Map(devices.map((d) => [d.serial, d])), { openMs: 24 * HOUR });
const ev = (o: Record<string, unknown>): string => JSON.stringify({ type: 'femto.session', phase: 'up', sourceIp: '10.0.0.1', ...o });

describe('event time (FORMATS.md §1)', () => {
  it('ok/RFC 3339 with Z or an offset, fractions, and integer epoch milliseconds', () => {
    expect(parseEventTime('2025-08-05T02:14:09Z')).toBe(Date.parse('2025-08-05T02:14:09Z'));
    expect(parseEventTime('2025-08-05T11:14:09.123+09:00')).toBe(Date.parse('2025-08-05T02:14:09.123Z'));
    expect(parseEventTime(1754360049000)).toBe(1754360049000);
  });
  it('fail/no offset, impossible dates and times, fractional epoch, other types', () => {
    for (const bad of ['2025-08-05T02:14:09', '2025-02-30T00:00:00Z', '2025-08-05T24:00:00Z', '2025-08-05T00:00:00+25:00', 'yesterday', 1.5, -1, null, {}]) {
      expect(parseEventTime(bad), String(bad)).toBeNull();
    }
  });
});

describe('session history reader', () => {
  it('ok/CRLF lines, blank lines, a last line without newline, and lines split across read chunks', async () => {
    // 200 KiB of reports: several 64 KiB stream chunks, with a multi-byte serial on every line.
    const lines = Array.from({ length: 2000 }, (_, i) => JSON.stringify({ type: 'femto.report', ts: 1_700_000_000_000 + i, serial: `Ü${i % 7}`, swVersion: 'x'.repeat(60) }));
    const h = await read(lines.join('\r\n') + '\r\n\r\n' + ev({ ts: 1_700_000_100_000, serial: 'LAST' }));
    expect(h.problems).toEqual([]);
    expect(h.summary).toMatchObject({ events: 2001, lines: 2002 });
    expect([...h.usage.keys()].sort()).toEqual(['LAST', 'Ü0', 'Ü1', 'Ü2', 'Ü3', 'Ü4', 'Ü5', 'Ü6']);
  });

  it('fail/bad lines are reported by number with the reason and skipped', async () => {
    const h = await read([
      ev({ ts: '2025-08-01T00:00:00Z', serial: 'A' }),
      '[1,2]',
      ev({ ts: '2025-08-01T00:00:00Z', serial: 'A', sourceIp: '300.1.1.1' }),
      ev({ ts: '2025-08-01T00:00:00Z', serial: 'A', certFingerprint: 'abc' }),
      JSON.stringify({ type: 'femto.report', ts: '2025-08-01T00:00:00Z', serial: 'A', gps: { lat: 91, lon: 0 } }),
      JSON.stringify({ type: 'femto.report', ts: '2025-08-01T00:00:00Z', serial: 'A', id: 7 }),
      JSON.stringify({ ts: '2025-08-01T00:00:00Z', serial: 'A' }),
    ].join('\n'));
    expect(h.problems.map((p) => [p.line, p.message])).toEqual([
      [2, 'not a JSON object'],
      [3, 'femto.session: "sourceIp" must be an IPv4 or IPv6 address'],
      [4, 'femto.session: "certFingerprint" must be a SHA-256 fingerprint (64 hex digits)'],
      [5, 'femto.report: "gps" must be { "lat": -90..90, "lon": -180..180 }'],
      [6, '"id" must be a non-empty string'],
      [7, 'missing "type"'],
    ]);
    expect(h.summary.events).toBe(1);
  });

  it('fail/a line over 1 MiB is reported by number and skipped, in linear time; the lines around it are read', async () => {
    // 24 MiB without a newline: concatenating carry + chunk per chunk took seconds and hundreds of MB.
    const huge = `{"type":"femto.report","ts":0,"serial":"${'x'.repeat(24 * 1024 * 1024)}"}`;
    const text = [ev({ ts: 1, serial: 'A' }), huge, ev({ ts: 2, serial: 'B', sourceIp: '10.0.0.2' }), '', ''].join('\n');
    const t0 = performance.now();
    const h = await read(text);
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(h.problems.map((p) => [p.line, p.message])).toEqual([[2, 'line longer than 1048576 bytes']]);
    expect(h.summary).toMatchObject({ lines: 4, events: 2, malformed: 1 });
    expect([...h.usage.keys()]).toEqual(['A', 'B']);
    // the same at the end of a file without a final newline
    const last = await read(`${ev({ ts: 1, serial: 'A' })}\n${huge}`);
    expect(last.problems.map((p) => [p.line, p.message])).toEqual([[2, 'line longer than 1048576 bytes']]);
    expect(last.summary).toMatchObject({ lines: 2, events: 1 });
  });

  it('ok/prefix and GPS judgements use the inventory; unregistered serials are still tracked', async () => {
    const d = device('A', { ipPrefixes: ['175.198.0.0/16', '2001:db8::/32'], siteLat: 37.5665, siteLon: 126.978, siteRadiusM: 300 });
    const h = await read([
      ev({ ts: 1, serial: 'A', sourceIp: '175.198.3.4' }),
      ev({ ts: 2, serial: 'A', sourceIp: '::ffff:175.198.3.4' }), // dual-stack socket form: inside
      ev({ ts: 3, serial: 'A', sourceIp: '2001:db8::7' }),
      ev({ ts: 4, serial: 'A', sourceIp: '203.0.113.1' }),
      JSON.stringify({ type: 'femto.report', ts: 5, serial: 'A', sourceIp: '203.0.113.1', gps: { lat: 37.5665, lon: 126.982 } }), // ~350 m
      ev({ ts: 6, serial: 'B', sourceIp: '203.0.113.2' }),
    ].join('\n'), [d]);
    const a = h.usage.get('A');
    expect(a?.outsidePrefix).toEqual(new Map([['203.0.113.1', 2]]));
    expect(a?.drift?.maxM).toBeGreaterThan(340);
    expect(a?.drift?.maxM).toBeLessThan(360);
    expect(h.usage.get('B')?.connects).toBe(1);
  });

  it('ok/Seoul to Busan is about 325 km', () => {
    expect(Math.round(distanceM(37.5665, 126.978, 35.1796, 129.0756) / 1000)).toBe(325);
  });
});

describe('session overlap sweep', () => {
  const fpA = 'a'.repeat(64);
  const fpB = 'b'.repeat(64);
  it('fail/two certificates up at once are recorded, with both fingerprints', async () => {
    const h = await read([ev({ ts: 0, serial: 'S', certFingerprint: fpA, sessionId: '1' }), ev({ ts: HOUR, serial: 'S', certFingerprint: fpB, sessionId: '2' })].join('\n'));
    expect(h.usage.get('S')?.overlap?.certs).toEqual(new Set([fpA, fpB]));
    expect(h.usage.get('S')?.overlap?.ips.size).toBe(0);
    expect(h.presenters.get(fpA)).toEqual(['S']);
  });
  it('ok/a down by session id, or by address when there is none, closes the session', async () => {
    for (const down of [{ sessionId: '1' }, {}]) {
      const h = await read([
        ev({ ts: 0, serial: 'S', ...down }),
        ev({ ts: 10, serial: 'S', phase: 'down', ...down }),
        ev({ ts: 20, serial: 'S', sourceIp: '10.9.9.9' }),
      ].join('\n'));
      expect(h.usage.get('S')?.overlap, JSON.stringify(down)).toBeUndefined();
    }
  });
  it('ok/a re-up of the same session replaces it; an up older than the open limit is forgotten', async () => {
    const same = await read([ev({ ts: 0, serial: 'S', sessionId: 'x' }), ev({ ts: 10, serial: 'S', sessionId: 'x', sourceIp: '10.0.0.2' })].join('\n'));
    expect(same.usage.get('S')?.overlap).toBeUndefined();
    const stale = await read([ev({ ts: 0, serial: 'S' }), ev({ ts: 25 * HOUR, serial: 'S', sourceIp: '10.0.0.2' })].join('\n'));
    expect(stale.usage.get('S')?.overlap).toBeUndefined();
    const fresh = await read([ev({ ts: 0, serial: 'S' }), ev({ ts: 23 * HOUR, serial: 'S', sourceIp: '10.0.0.2' })].join('\n'));
    expect(fresh.usage.get('S')?.overlap?.ips).toEqual(new Set(['10.0.0.1', '10.0.0.2']));
  });
  it('ok/input order does not matter: the down arriving before its up still closes it', async () => {
    const h = await read([
      ev({ ts: 20, serial: 'S', sourceIp: '10.0.0.2' }),
      ev({ ts: 10, serial: 'S', phase: 'down' }),
      ev({ ts: 0, serial: 'S' }),
    ].join('\n'));
    expect(h.usage.get('S')?.overlap).toBeUndefined();
  });

  describe('reports keep an open session alive (a lost down)', () => {
    const rep = (h: number, ip: string): string => JSON.stringify({ type: 'femto.report', ts: h * HOUR, serial: 'S', sourceIp: ip });
    const hourly = (from: number, to: number, ip: string): string[] => Array.from({ length: to - from + 1 }, (_, i) => rep(from + i, ip));

    it('fail/the sample clone: up without down, hourly reports from its address, a second up elsewhere 72 h later', async () => {
      const lines = [ev({ ts: 0, serial: 'S' }), ...hourly(1, 80, '10.0.0.1'), ev({ ts: 72 * HOUR, serial: 'S', sourceIp: '10.9.9.9' })];
      const h = await read(lines.join('\n'));
      expect(h.usage.get('S')?.overlap).toMatchObject({ at: 72 * HOUR, ips: new Set(['10.0.0.1', '10.9.9.9']) });
      // the same shuffled: input order does not matter
      const shuffled = await read([...lines.filter((_, i) => i % 2 === 1), ...lines.filter((_, i) => i % 2 === 0).reverse()].join('\n'));
      expect(shuffled.usage.get('S')?.overlap).toEqual(h.usage.get('S')?.overlap);
    });

    it('ok/the session ends the open limit after its last report; a gap in the reports longer than that ends it too', async () => {
      const stopped = await read([ev({ ts: 0, serial: 'S' }), ...hourly(1, 10, '10.0.0.1'), ev({ ts: 35 * HOUR, serial: 'S', sourceIp: '10.9.9.9' })].join('\n'));
      expect(stopped.usage.get('S')?.overlap).toBeUndefined();
      const gap = await read([ev({ ts: 0, serial: 'S' }), ...hourly(1, 10, '10.0.0.1'), ...hourly(40, 70, '10.0.0.1'), ev({ ts: 60 * HOUR, serial: 'S', sourceIp: '10.9.9.9' })].join('\n'));
      expect(gap.usage.get('S')?.overlap).toBeUndefined();
      const within = await read([ev({ ts: 0, serial: 'S' }), ...hourly(1, 10, '10.0.0.1'), ev({ ts: 33 * HOUR, serial: 'S', sourceIp: '10.9.9.9' })].join('\n'));
      expect(within.usage.get('S')?.overlap?.ips).toEqual(new Set(['10.0.0.1', '10.9.9.9']));
    });

    it('ok/reports from another address do not keep it alive, nor do reports after its down reopen it', async () => {
      const elsewhere = await read([ev({ ts: 0, serial: 'S' }), ...hourly(1, 40, '10.0.0.3'), ev({ ts: 30 * HOUR, serial: 'S', sourceIp: '10.9.9.9' })].join('\n'));
      expect(elsewhere.usage.get('S')?.overlap).toBeUndefined();
      const closed = await read([ev({ ts: 0, serial: 'S' }), ev({ ts: HOUR, serial: 'S', phase: 'down' }), ...hourly(2, 40, '10.0.0.1'), ev({ ts: 20 * HOUR, serial: 'S', sourceIp: '10.9.9.9' })].join('\n'));
      expect(closed.usage.get('S')?.overlap).toBeUndefined();
    });

    it('ok/reports already running when the session comes up keep it alive from the start', async () => {
      const h = await read([...hourly(0, 50, '10.0.0.1'), ev({ ts: 20 * HOUR, serial: 'S' }), ev({ ts: 48 * HOUR, serial: 'S', sourceIp: '10.9.9.9' })].join('\n'));
      expect(h.usage.get('S')?.overlap?.ips).toEqual(new Set(['10.0.0.1', '10.9.9.9']));
    });
  });
});
