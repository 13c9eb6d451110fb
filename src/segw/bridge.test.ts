import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditEventInput } from '../audit-log/index.js';
import { createLogger, silentLogger, type Logger } from '../core/logger.js';
import type { Device, DeviceStatus } from '../registry/index.js';
import { createSegwBridge, type SegwBridge, type SegwBridgeDeps } from './bridge.js';
import type { SessionEventInput } from './session.js';
import { FakeVici, type FakeSa } from './test-kit.js';
import { watchRegistry } from './watch.js';

let fake: FakeVici;
let bridge: SegwBridge | undefined;
let ingested: SessionEventInput[];
let audits: AuditEventInput[];
let statuses: Map<string, DeviceStatus>;
let ingestFails: number;

const until = async (cond: () => boolean, what: string, ms = 3_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

/** A logger whose lines the test can read. */
function capturingLogger(): { log: Logger; lines: { level: number; msg: string; [k: string]: unknown }[] } {
  const lines: { level: number; msg: string }[] = [];
  const log = createLogger({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l) as { level: number; msg: string }) });
  return { log, lines };
}

const femto = (uniqueid: string, serial: string, host = '198.18.0.2'): FakeSa => ({ name: 'femto', uniqueid, remoteId: `CN=${serial}, serialNumber=${serial}`, remoteHost: host });

function startBridge(over: Partial<SegwBridgeDeps> = {}): SegwBridge {
  bridge = createSegwBridge({
    viciPath: fake.path,
    log: silentLogger(),
    reconnectMinMs: 20,
    reconnectMaxMs: 100,
    requestTimeoutMs: 2_000,
    ingestRetryMinMs: 50,
    async ingest(events) {
      if (ingestFails > 0) {
        ingestFails--;
        throw new Error('femtoguard unavailable');
      }
      ingested.push(...events);
    },
    deviceStatus: async (serial) => statuses.get(serial) ?? null,
    audit: async (e) => void audits.push(e),
    ...over,
  });
  bridge.start();
  return bridge;
}

beforeEach(async () => {
  fake = await FakeVici.start();
  ingested = [];
  audits = [];
  statuses = new Map();
  ingestFails = 0;
});
afterEach(async () => {
  await bridge?.stop();
  bridge = undefined;
  await fake.close();
});

describe('SeGW bridge: sessions in', () => {
  it('ok/an IKE SA up and down become femto.session events paired by session id', async () => {
    statuses.set('KTF1', 'active');
    const b = startBridge();
    await b.ready();
    fake.certs.push({ subject: 'CN=KTF1, serialNumber=KTF1', flag: 'NONE', data: Buffer.from('der-of-ktf1') });
    fake.up(femto('5', 'KTF1'));
    await until(() => ingested.length === 1, 'up event');
    fake.down('5');
    await until(() => ingested.length === 2, 'down event');
    const [up, down] = ingested;
    expect(up).toMatchObject({ type: 'femto.session', serial: 'KTF1', phase: 'up', sourceIp: '198.18.0.2', endpoint: '198.18.0.1:4500' });
    expect(up?.certFingerprint).toBe(createHash('sha256').update('der-of-ktf1').digest('hex'));
    expect(down).toMatchObject({ phase: 'down', serial: 'KTF1', sessionId: up?.sessionId });
    expect(audits).toEqual([]);
  });

  it('ok/a rekeyed SA keeps its session: the down after a rekey pairs with the first up', async () => {
    const b = startBridge();
    await b.ready();
    fake.up(femto('1', 'KTF2'));
    await until(() => ingested.length === 1, 'up');
    const body = (id: string, spi: string): Record<string, string> => ({ uniqueid: id, 'remote-host': '198.18.0.2', 'remote-id': 'CN=KTF2', 'initiator-spi': spi, state: 'ESTABLISHED' });
    fake.emit('ike-rekey', { femto: { old: body('1', '0000000000000001'), new: body('2', 'abababababababab') } });
    fake.sas.delete('1');
    fake.sas.set('2', { ...femto('2', 'KTF2'), initiatorSpi: 'abababababababab' });
    fake.down('2');
    await until(() => ingested.length === 2, 'down');
    expect(ingested[1]?.sessionId).toBe(ingested[0]?.sessionId);
  });

  it('ok/SAs already up when the bridge connects are reported; a reconnect reports them again with the same ids', async () => {
    fake.sas.set('9', femto('9', 'KTF3'));
    const b = startBridge();
    await b.ready();
    await b.drain();
    expect(ingested.map((e) => e.id)).toHaveLength(1);
    const firstId = ingested[0]?.id;
    fake.dropClients(); // charon restarted, as the bridge sees it
    await until(() => ingested.length === 2, 'reconcile after reconnect');
    expect(ingested[1]?.id).toBe(firstId); // the event store drops it as a duplicate
  });

  it('ok/a session that ended while charon was out of reach gets its down at reconnect', async () => {
    const b = startBridge();
    await b.ready();
    fake.up(femto('1', 'KTF6'));
    await until(() => ingested.length === 1, 'up');
    await fake.stop();
    await until(() => !b.connected, 'disconnect');
    fake.sas.clear(); // charon restarted: the SA is gone, and nobody said so
    await fake.restart();
    await until(() => ingested.length === 2, 'down at reconcile', 5_000);
    expect(ingested[1]).toMatchObject({ phase: 'down', serial: 'KTF6', sessionId: ingested[0]?.sessionId });
  });

  it('fail/a down for an SA that never came up (refused in IKE_AUTH) is not a session', async () => {
    const b = startBridge();
    await b.ready();
    // What charon 5.9.8 sends when it refuses a peer after reading its identity.
    fake.emit('ike-updown', { femto: { uniqueid: '8', 'remote-host': '198.18.0.66', 'remote-id': 'CN=KTF7, serialNumber=KTF7', 'initiator-spi': '1111111111111111', state: 'CONNECTING' } });
    fake.up(femto('9', 'KTF8'));
    await until(() => ingested.length === 1, 'the next real session');
    await b.drain();
    expect(ingested.map((e) => `${e.serial}:${e.phase}`)).toEqual(['KTF8:up']);
  });

  it('ok/session events wait and are redelivered while femtoguard refuses them', async () => {
    ingestFails = 1;
    const b = startBridge();
    await b.ready();
    fake.up(femto('1', 'KTF4'));
    await until(() => ingested.length === 1, 'redelivery', 5_000);
    expect(ingested[0]?.serial).toBe('KTF4');
  });

  it('fail/an event femtoguard refuses is logged and dropped once; every later session is still delivered', async () => {
    const { log, lines } = capturingLogger();
    const sent = new Map<string, number>();
    const b = startBridge({
      log,
      async ingest(events) {
        for (const e of events) sent.set(e.id, (sent.get(e.id) ?? 0) + 1);
        // As POST /v1/events answers: the valid lines are committed, the refused ones named.
        ingested.push(...events.filter((e) => e.serial !== 'SKEWED'));
        return { rejected: events.flatMap((e, index) => (e.serial === 'SKEWED' ? [{ index, reason: 'ts is 3600 s ahead of the server clock (at most 300 s)' }] : [])) };
      },
    });
    await b.ready();
    fake.up(femto('1', 'SKEWED'));
    for (let i = 10; i < 700; i++) fake.up(femto(String(i), `K${i}`, `198.18.1.${i % 250}`));
    await until(() => ingested.length === 690, 'the 690 other sessions', 15_000);
    await b.drain();
    expect([...sent.values()].every((n) => n === 1)).toBe(true);
    expect(sent.size).toBe(691);
    const refused = lines.filter((l) => /refused session events/.test(l.msg));
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ refused: 1, events: [expect.objectContaining({ serial: 'SKEWED', phase: 'up', reason: expect.stringContaining('ahead') })] });
  }, 20_000);

  it('fail/while femtoguard cannot take events, redelivery waits on a backoff timer, not one attempt per new event', async () => {
    let down = true;
    let posts = 0;
    const b = startBridge({
      ingestRetryMinMs: 200,
      ingestRetryMaxMs: 400,
      async ingest(events) {
        posts++;
        if (down) throw new Error('POST /v1/events: HTTP 503');
        ingested.push(...events);
      },
    });
    await b.ready();
    for (let i = 0; i < 50; i++) fake.up(femto(String(i), `BO${i}`));
    await new Promise((r) => setTimeout(r, 500));
    // One attempt, then retries at +200 ms and +600 ms: not 50.
    expect(posts).toBeGreaterThanOrEqual(1);
    expect(posts).toBeLessThanOrEqual(3);
    down = false;
    await until(() => ingested.length === 50, 'redelivery after femtoguard is back', 3_000);
    expect(ingested.map((e) => e.serial)).toEqual(Array.from({ length: 50 }, (_, i) => `BO${i}`));
  });

  it('fail/an SA whose identity names no device is not reported, and nothing crashes', async () => {
    const b = startBridge();
    await b.ready();
    fake.up({ name: 'femto', uniqueid: '1', remoteId: '%any', remoteHost: '198.18.0.2' });
    fake.up(femto('2', 'KTF5'));
    await until(() => ingested.length === 1, 'the good SA');
    expect(ingested[0]?.serial).toBe('KTF5');
  });
});

describe('SeGW bridge: blocking out', () => {
  it('ok/block flushes the OCSP cache, terminates only that device\'s SAs (force) and audits segw.terminated', async () => {
    const b = startBridge();
    await b.ready();
    fake.up(femto('1', 'LOST1'));
    fake.up(femto('2', 'LOST1', '198.18.0.9'));
    fake.up(femto('3', 'OTHER'));
    const r = await b.block('LOST1', 'lost', 'reported stolen');
    expect(r).toMatchObject({ serial: 'LOST1', ocspFlushed: true, crlFlushed: true, deferred: false });
    expect(r.terminated.map((t) => t.uniqueId).sort()).toEqual(['1', '2']);
    expect([...fake.sas.keys()]).toEqual(['3']);
    const names = fake.commands.map((c) => c.name);
    expect(names.indexOf('flush-certs')).toBeLessThan(names.indexOf('terminate'));
    expect(fake.commands.filter((c) => c.name === 'flush-certs').map((c) => c.args)).toEqual([{ type: 'ocsp_response' }, { type: 'x509_crl' }]);
    expect(fake.commands.filter((c) => c.name === 'terminate').map((c) => c.args.force)).toEqual(['yes', 'yes']);
    expect(audits).toEqual([
      expect.objectContaining({ action: 'segw.terminated', subject: 'LOST1', outcome: 'success', details: expect.objectContaining({ status: 'lost', ocspFlushed: true }) }),
    ]);
    await until(() => ingested.filter((e) => e.phase === 'down').length === 2, 'down events');
  });

  it('ok/an SA that comes up for a blocked device is cut at once (stale OCSP cache at the gateway)', async () => {
    statuses.set('SUSP1', 'suspended');
    const b = startBridge();
    await b.ready();
    fake.up(femto('4', 'SUSP1'));
    await until(() => fake.sas.size === 0 && audits.length === 1, 'termination');
    await b.drain();
    expect(audits[0]).toMatchObject({ action: 'segw.terminated', subject: 'SUSP1', outcome: 'success' });
    expect(ingested.map((e) => e.phase)).toEqual(['up', 'down']);
  });

  it('ok/the connect-time reconcile and the sweep cut SAs of devices blocked while the bridge was away', async () => {
    fake.sas.set('1', femto('1', 'DECOM1'));
    statuses.set('DECOM1', 'decommissioned');
    const b = startBridge();
    await b.ready();
    await until(() => fake.sas.size === 0, 'reconcile termination');
    fake.sas.set('2', femto('2', 'LATE1'));
    statuses.set('LATE1', 'lost');
    await b.sweep();
    expect(fake.sas.size).toBe(0);
  });

  it('fail/block while charon is unreachable is deferred, audited as a failure, and done at reconnect', async () => {
    const b = startBridge();
    await b.ready();
    await fake.stop();
    await until(() => !b.connected, 'disconnect');
    const r = await b.block('LOST2', 'lost');
    expect(r).toMatchObject({ deferred: true, ocspFlushed: false, terminated: [] });
    expect(audits[0]).toMatchObject({ action: 'segw.terminated', outcome: 'failure', subject: 'LOST2' });
    // charon comes back with the SA still up: the reconcile cuts it.
    statuses.set('LOST2', 'lost');
    fake.sas.set('1', femto('1', 'LOST2'));
    await fake.restart();
    await until(() => fake.sas.size === 0, 'termination after reconnect', 5_000);
  });

  it('fail/a terminate charon refuses is audited as a failure', async () => {
    const b = startBridge();
    await b.ready();
    fake.up(femto('1', 'LOST3'));
    fake.overrides.set('terminate', () => ({ success: 'no', errmsg: 'busy' }));
    const r = await b.block('LOST3', 'lost');
    expect(r.error).toContain('busy');
    expect(audits[0]).toMatchObject({ outcome: 'failure', details: expect.objectContaining({ error: expect.stringContaining('busy') }) });
  });

  it('fail/a device whose status cannot be read is checked again within seconds and cut once it reads lost (no sweep)', async () => {
    let lookups = 0;
    const b = startBridge({
      sweepMs: 0,
      statusRetryMs: 50,
      deviceStatus: async (serial) => {
        if (serial !== 'LOST9') return 'active';
        if (++lookups <= 2) throw new Error('fetch failed');
        return 'lost';
      },
    });
    await b.ready();
    fake.up(femto('1', 'LOST9'));
    await until(() => fake.sas.size === 0, 'termination once the status could be read', 2_000);
    expect(lookups).toBe(3);
    await until(() => audits.length === 1, 'the audit record');
    expect(audits[0]).toMatchObject({ action: 'segw.terminated', subject: 'LOST9', outcome: 'success' });
  });

  it('fail/a status that stays unreadable: the SA is kept, one error is logged, re-checks go on until the SA ends', async () => {
    const { log, lines } = capturingLogger();
    let lookups = 0;
    const b = startBridge({
      log,
      sweepMs: 0,
      statusRetryMs: 20,
      statusRetries: 2,
      statusRecheckMs: 60,
      deviceStatus: async () => {
        lookups++;
        throw new Error('fetch failed');
      },
    });
    await b.ready();
    fake.up(femto('1', 'DARK1'));
    await until(() => lookups >= 6, 'the re-checks after the fast retries', 3_000);
    expect(fake.sas.has('1')).toBe(true);
    expect(audits).toEqual([]);
    expect(lines.filter((l) => l.level === 50 && /still unavailable/.test(l.msg))).toHaveLength(1);
    expect(lines.filter((l) => l.level === 40 && /checking again shortly/.test(l.msg))).toHaveLength(2);
    fake.down('1');
    await b.drain();
    const after = lookups;
    await new Promise((r) => setTimeout(r, 250));
    expect(lookups).toBeLessThanOrEqual(after + 1);
  });

  it('ok/a device with no live SA: OCSP cache flushed, nothing terminated, no audit noise', async () => {
    const b = startBridge();
    await b.ready();
    const r = await b.block('IDLE1', 'suspended');
    expect(r).toMatchObject({ ocspFlushed: true, terminated: [] });
    expect(audits).toEqual([]);
  });
});

describe('SeGW bridge: its own restarts (state file)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fg-segw-state-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const stateOf = (file: string): { sessions: { sessionId: string; sa: { uniqueId: string } }[]; downs: { id: string }[] } =>
    JSON.parse(readFileSync(file, 'utf8')) as { sessions: { sessionId: string; sa: { uniqueId: string } }[]; downs: { id: string }[] };

  it('ok/a session that ended while the bridge was stopped gets exactly one down from the next run; the live one none', async () => {
    const stateFile = join(dir, 'state.json');
    fake.sas.set('1', femto('1', 'KTR1', '198.18.0.11'));
    fake.sas.set('2', femto('2', 'KTR2', '198.18.0.12'));
    const first = startBridge({ stateFile });
    await first.ready();
    await first.drain();
    await first.stop();
    expect(ingested.map((e) => `${e.serial}:${e.phase}`).sort()).toEqual(['KTR1:up', 'KTR2:up']);
    const ups = new Map(ingested.map((e) => [e.serial, e]));
    expect(stateOf(stateFile).sessions.map((s) => s.sa.uniqueId).sort()).toEqual(['1', '2']);
    expect(statSync(stateFile).mode & 0o777).toBe(0o600);

    fake.sas.delete('1'); // ended while nobody listened: charon told no one
    ingested = [];
    const second = startBridge({ stateFile });
    await second.ready();
    await second.drain();
    const downs = ingested.filter((e) => e.phase === 'down');
    expect(downs).toHaveLength(1);
    expect(downs[0]).toMatchObject({ serial: 'KTR1', sourceIp: '198.18.0.11', sessionId: ups.get('KTR1')?.sessionId, id: `segw:${ups.get('KTR1')?.sessionId ?? ''}:down`, endpoint: '198.18.0.1:4500' });
    // The live session is reported again under its old id: a duplicate the event store drops.
    expect(ingested.filter((e) => e.phase === 'up').map((e) => e.id)).toEqual([ups.get('KTR2')?.id]);
    await second.stop();
    // Bounded: the ended session left the file once its down was delivered.
    expect(stateOf(stateFile)).toMatchObject({ sessions: [{ sessionId: ups.get('KTR2')?.sessionId }], downs: [] });
  });

  it('ok/a rekeyed session keeps its session id across a restart; its later down pairs with the first up', async () => {
    const stateFile = join(dir, 'state.json');
    const b = startBridge({ stateFile });
    await b.ready();
    fake.up(femto('1', 'KTR3'));
    await until(() => ingested.length === 1, 'up');
    const body = (id: string, spi: string): Record<string, string> => ({ uniqueid: id, 'remote-host': '198.18.0.2', 'remote-id': 'CN=KTR3', 'initiator-spi': spi, state: 'ESTABLISHED' });
    fake.emit('ike-rekey', { femto: { old: body('1', '0000000000000001'), new: body('2', 'abababababababab') } });
    await until(() => stateFileHas(stateFile, '2'), 'the rekey in the state file');
    await b.stop();
    fake.sas.clear();
    const next = startBridge({ stateFile });
    await next.ready();
    await next.drain();
    expect(ingested.map((e) => `${e.phase}:${e.sessionId}`)).toEqual([`up:${ingested[0]?.sessionId ?? ''}`, `down:${ingested[0]?.sessionId ?? ''}`]);
  });

  it('ok/a down not yet delivered when the bridge stopped is sent by the next run, before charon is even reachable', async () => {
    const stateFile = join(dir, 'state.json');
    const b = startBridge({ stateFile });
    await b.ready();
    fake.up(femto('4', 'KTR4'));
    await until(() => ingested.length === 1, 'up');
    ingestFails = Number.MAX_SAFE_INTEGER; // femtoguard goes away
    fake.down('4');
    await until(() => stateFileOwes(stateFile) === 1, 'the owed down in the state file');
    await b.stop();
    expect(stateOf(stateFile).sessions).toEqual([]);
    ingestFails = 0;
    await fake.stop(); // charon unreachable too
    const next = startBridge({ stateFile });
    await until(() => ingested.length === 2, 'the owed down');
    expect(ingested[1]).toMatchObject({ phase: 'down', serial: 'KTR4', id: `segw:${ingested[0]?.sessionId ?? ''}:down` });
    await next.stop();
    expect(stateOf(stateFile).downs).toEqual([]);
  });

  it('fail/a corrupt state file is logged and treated as empty; the bridge runs and rewrites it', async () => {
    const stateFile = join(dir, 'state.json');
    writeFileSync(stateFile, '{"version":1,"sessions":[{"sessionId":"ike-1-x","sa":{"uniqueId":"not a number"}}]');
    const { log, lines } = capturingLogger();
    fake.sas.set('5', femto('5', 'KTR5'));
    const b = startBridge({ stateFile, log });
    await b.ready();
    await b.drain();
    expect(lines.filter((l) => l.msg.includes('state file corrupt'))).toHaveLength(1);
    expect(ingested.map((e) => `${e.serial}:${e.phase}`)).toEqual(['KTR5:up']);
    await b.stop();
    expect(stateOf(stateFile).sessions.map((s) => s.sa.uniqueId)).toEqual(['5']);
  });

  it('fail/a state file that cannot be written is logged, never fatal: sessions still flow', async () => {
    const blocker = join(dir, 'file');
    writeFileSync(blocker, 'x');
    const { log, lines } = capturingLogger();
    const b = startBridge({ stateFile: join(blocker, 'state.json'), log, stateWriteDelayMs: 10 });
    await b.ready();
    fake.up(femto('6', 'KTR6'));
    fake.down('6');
    await until(() => ingested.length === 2, 'up and down');
    await b.stop();
    expect(lines.filter((l) => l.msg.includes('cannot write the state file')).length).toBe(1);
  });
});

/** How many downs the state file says are owed (0 while it does not exist yet). */
function stateFileOwes(file: string): number {
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { downs: unknown[] }).downs.length;
  } catch {
    return 0;
  }
}

/** Whether the state file already lists the SA (the writer coalesces, so tests wait for it). */
function stateFileHas(file: string, uniqueId: string): boolean {
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { sessions: { sa: { uniqueId: string } }[] }).sessions.some((s) => s.sa.uniqueId === uniqueId);
  } catch {
    return false;
  }
}

describe('registry watcher', () => {
  const dev = (serial: string, status: DeviceStatus, updatedAt: string): Device =>
    ({ serial, status, updatedAt, createdAt: updatedAt, cellIds: [], siteLat: null, siteLon: null, siteRadiusM: 300, ipPrefixes: [], expectedNeighbors: [], certFingerprints: [], owner: null }) as Device;

  it('ok/reports each blocking change once, ignores active ones, and reports a later change again', async () => {
    let rows: Device[] = [];
    const froms: string[] = [];
    const blocked: string[] = [];
    const w = watchRegistry({
      since: new Date('2025-01-01T00:00:00.000Z'),
      pollMs: 60_000,
      log: silentLogger(),
      changedSince: async (iso) => {
        froms.push(iso);
        return rows.filter((d) => d.updatedAt > iso);
      },
      onBlocked: (s, st) => blocked.push(`${s}:${st}`),
    });
    rows = [dev('A', 'lost', '2025-01-01T00:00:01.000Z'), dev('B', 'active', '2025-01-01T00:00:01.000Z')];
    w.kick();
    await until(() => blocked.length === 1, 'first');
    w.kick();
    await new Promise((r) => setTimeout(r, 30));
    expect(blocked).toEqual(['A:lost']);
    // Another change in the same millisecond as the cursor, committed after the last read:
    // still seen thanks to the overlap.
    rows = [...rows, dev('C', 'decommissioned', '2025-01-01T00:00:01.000Z')];
    w.kick();
    await until(() => blocked.length === 2, 'C');
    rows = rows.map((d) => (d.serial === 'B' ? dev('B', 'suspended', '2025-01-01T00:00:02.000Z') : d));
    w.kick();
    await until(() => blocked.length === 3, 'B');
    expect(blocked).toEqual(['A:lost', 'C:decommissioned', 'B:suspended']);
    expect(froms[0]).toBe('2024-12-31T23:59:58.000Z');
    w.stop();
  });
});
