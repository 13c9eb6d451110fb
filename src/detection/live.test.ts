/**
 * Live detection over the real SQLite stores and the in-process bus, over months and restarts:
 * the store folds findings (counts continue, severity never lowered, a resolved alert reopens),
 * responses run once per alert until recorded, the engine's book stays bounded, cell flags
 * survive restarts, and events dated off the server clock or `registry.update` are not taken
 * (registry changes in event order: live-registry.test.ts).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { memoryEventBus } from '../adapters/memory/bus.js';
import { sqliteCellFlagStore, sqliteStores, type SqliteStores } from '../adapters/sqlite/index.js';
import { fixedClock } from '../core/clock.js';
import { createLogger, silentLogger, type Logger } from '../core/logger.js';
import type { FgEvent } from '../events/index.js';
import { createRegistry } from '../registry/index.js';
import type { Alert } from './alerts.js';
import { detectionConfigSchema, type Severity } from './config.js';
import { createLiveDetection, type LiveDetection } from './live.js';
import { fileSink } from './sinks/file.js';
import type { AlertSink } from './sinks/types.js';
import type { AlertStore, CellFlagStore } from './store.js';
import { at, DAY, device, ev, iso } from './test-kit.js';

describe('live detection: alerts over months (bounded book, store that folds)', () => {
  const dirs: string[] = [];
  const opened: { stores: SqliteStores; live: LiveDetection }[] = [];
  afterEach(async () => {
    for (const o of opened.splice(0)) {
      await o.live.stop();
      o.stores.close();
    }
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  interface ServerOptions {
    alertRetention?: { idleMs: number; max: number };
    /** the severity `unregistered-device` findings get (an operator's config, changed across a restart) */
    severity?: Severity;
    /** wraps the SQLite alert store (an asynchronous or failing store) */
    wrap?: (store: AlertStore) => AlertStore;
    logger?: Logger;
    /** fails the responses of the first `failResponses` alerts it is called for (a crash or a failure before the response completed) */
    failResponses?: number;
    /** the responder runs in dry-run mode (it only logs) */
    dryRun?: boolean;
    /** wraps the SQLite cell flag store (a failing one) */
    wrapFlags?: (store: CellFlagStore) => CellFlagStore;
  }

  /**
   * A server over the database file at `path`: a sink recording what it is given, the alerts
   * file (`alerts.ndjson` beside the database: new alerts and severity rises only) and a
   * responder recording the alerts it is called for.
   */
  async function server(path: string, m0: number, o: ServerOptions = {}) {
    const s = sqliteStores(path);
    const clock = fixedClock(new Date(at(m0)));
    const delivered: string[] = [];
    const payloads: Alert[] = [];
    const responded: string[] = [];
    const bus = memoryEventBus();
    const recorder: AlertSink = {
      deliver(a, isNew, raised) {
        delivered.push(`${a.serial ?? ''} ${isNew ? 'new' : raised ? 'raised' : 'update'} ${a.count}`);
        payloads.push(a);
      },
    };
    const l = createLiveDetection({
      config: detectionConfigSchema.parse({ alertRetention: o.alertRetention ?? { idleMs: DAY, max: 1000 }, rules: { 'unregistered-device': { severity: o.severity ?? 'critical' } } }),
      events: s.events,
      bus,
      alerts: o.wrap ? o.wrap(s.alerts) : s.alerts,
      flags: o.wrapFlags ? o.wrapFlags(sqliteCellFlagStore(s.db)) : sqliteCellFlagStore(s.db),
      registry: { all: () => s.devices.list({ limit: 100_000 }), changedSince: (after, limit) => s.devices.changedSince(after, limit) },
      sinks: [recorder, fileSink(join(dirname(path), 'alerts.ndjson'))],
      respond: (a) => {
        responded.push(a.serial ?? '');
        if (responded.length <= (o.failResponses ?? 0)) return Promise.reject(new Error('registry unreachable'));
        return Promise.resolve(o.dryRun ? ('dry-run' as const) : ('done' as const));
      },
      clock,
      logger: o.logger ?? silentLogger(),
      liveMaxOutOfOrderMs: 5000,
      quietFlushMs: 3_600_000,
      registryPollMs: 3_600_000,
    });
    opened.push({ stores: s, live: l });
    await l.start();
    /** Events arrive as they happen: the server clock is moved on to the latest of them first. */
    const ingest = async (...events: FgEvent[]): Promise<void> => {
      clock.set(new Date(Math.max(clock.now().getTime(), ...events.map((e) => e.t))));
      const { stored } = await s.events.append(events);
      await bus.publish(stored);
      await l.flush();
    };
    /** Events as given, the clock left where it is (a sender whose clock is wrong). */
    const ingestRaw = async (...events: FgEvent[]): Promise<void> => {
      const { stored } = await s.events.append(events);
      await bus.publish(stored);
      await l.flush();
    };
    const stored = async (serial: string) => (await s.alerts.list({ serial, limit: 10 }))[0];
    /** Stops the server (closing the alerts file) and closes its database. */
    const shutdown = async (): Promise<void> => {
      opened.splice(opened.findIndex((x) => x.live === l), 1);
      await l.stop();
      s.close();
    };
    return { live: l, stores: s, clock, ingest, ingestRaw, stored, shutdown, delivered, payloads, responded };
  }
  const dbPath = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'fg-live-alerts-'));
    dirs.push(d);
    return join(d, 'femtoguard.db');
  };
  const fileLines = (path: string): Record<string, unknown>[] =>
    readFileSync(join(dirname(path), 'alerts.ndjson'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const claim = (m: number, serial: string, id: string): FgEvent => ev.report(m, { serial, sourceIp: '198.18.7.7', id });
  const LATER = 2 * 24 * 60; // two days on: nothing left in the warm-up window

  it('ok/after a restart sinks get the stored count, not new; fail/the response does not run again and the file gets no second line', async () => {
    const path = dbPath();
    const a = await server(path, 0);
    for (let i = 0; i < 4; i++) await a.ingest(claim(i, 'ROGUE1', `a${i}`));
    const first = await a.stored('ROGUE1');
    expect(first).toMatchObject({ count: 4, severity: 'critical' });
    expect(a.delivered).toEqual(['ROGUE1 new 1', 'ROGUE1 update 2', 'ROGUE1 update 3', 'ROGUE1 update 4']);
    expect(a.responded).toEqual(['ROGUE1']);
    await a.stores.alerts.setStatus(first?.id ?? '', 'acknowledged', 'noc', 'on it', iso(10));
    await a.shutdown();
    // The new engine starts with an empty book: to it, ROGUE1's next finding is a new alert.
    const b = await server(path, LATER);
    await b.ingest(claim(LATER + 1, 'ROGUE1', 'b0'), claim(LATER + 2, 'ROGUE1', 'b1'));
    expect(await b.stored('ROGUE1')).toMatchObject({ count: 6, status: 'acknowledged', ts: iso(0), firstSeen: iso(0), lastSeen: iso(LATER + 2) });
    expect(b.delivered).toEqual(['ROGUE1 update 5', 'ROGUE1 update 6']);
    expect(b.payloads[1]).toMatchObject({ count: 6, firstSeen: iso(0), lastSeen: iso(LATER + 2), ts: iso(0) });
    expect(b.responded).toEqual([]);
    await b.shutdown();
    expect(fileLines(path).map((x) => [x.serial, x.count])).toEqual([['ROGUE1', 1]]);
  });

  it('fail/an event dated years ahead of the server clock is not given to the engine, so it cannot make every later event too old; after a restart neither', async () => {
    const path = dbPath();
    const a = await server(path, 0);
    await a.ingestRaw({ ...claim(0, 'FUTURE', 'f0'), ts: '2099-12-31T00:00:00Z', t: Date.parse('2099-12-31T00:00:00Z') });
    await a.ingest(claim(1, 'ROGUE1', 'a0'));
    expect(await a.stored('ROGUE1')).toMatchObject({ rule: 'unregistered-device', count: 1 });
    expect(await a.stored('FUTURE')).toBeUndefined();
    expect(a.live.stats()).toMatchObject({ skipped: { future: 1, registryUpdate: 0 }, tooOld: 0 });
    await a.shutdown();
    // The stored 2099 event is in the log: the warm-up and the catch-up skip it too.
    const b = await server(path, 3);
    await b.ingest(claim(4, 'ROGUE2', 'b0'));
    expect(await b.stored('ROGUE2')).toMatchObject({ count: 1 });
    await b.shutdown();
  });

  it('fail/a registry.update on the bus does not change the live engine\'s registry (the registry is the record live): the unit stays unregistered', async () => {
    const { ingest, stored, live: l } = await server(dbPath(), 0);
    await ingest(ev.update(0, { serial: 'FAKE1', status: 'active', cellIds: ['45008-666'], id: 'u0' }), claim(1, 'FAKE1', 'a0'));
    expect(await stored('FAKE1')).toMatchObject({ rule: 'unregistered-device' });
    expect(l.stats()).toMatchObject({ skipped: { future: 0, registryUpdate: 1 } });
  });

  describe('cell flags across restarts', () => {
    const CELL = '45008-777';
    const DAYM = 24 * 60;
    /** a unit nobody registered, announcing CELL: unregistered-device and unregistered-cell flag it */
    const rogue = (m: number, id: string): FgEvent => ev.report(m, { serial: 'ROGUE1', sourceIp: '198.18.7.7', cellIds: [CELL], id });
    /** a subscriber on CELL at `m`, then a payment of theirs five minutes later */
    const victim = (m: number, n: number): FgEvent[] => [
      ev.attach(m, { cellId: CELL, imsi: `45008000000000${n}`, msisdn: `+82100000000${n}`, id: `at${n}` }),
      ev.payment(m + 5, { txId: `tx${n}`, msisdn: `+82100000000${n}`, id: `p${n}` }),
    ];
    /** A database whose registry holds HOME1, the unit CELL belongs to (so attaches to CELL raise nothing by themselves). */
    async function withHomeCell(): Promise<string> {
      const path = dbPath();
      const s = sqliteStores(path);
      const registry = createRegistry({ store: s.devices, revoker: { applyStatus: () => Promise.resolve(0) }, audit: s.audit, clock: fixedClock(new Date(at(-60))) });
      await registry.add(device('HOME1', { cellIds: [CELL] }), 'test');
      s.close();
      return path;
    }
    const exposures = async (s: SqliteStores) => (await s.alerts.list({ rule: 'payment-exposure', limit: 10 })).map((a) => ({ txId: a.txId, cellId: a.cellId, ts: a.ts, evidence: a.evidence }));

    it('ok/a payment a day after a rogue cell was flagged is exposed after a restart exactly as on a server that kept running; fail/not once the flag lapsed, and the store forgets it', async () => {
      const kept = await server(await withHomeCell(), 0);
      await kept.ingest(rogue(0, 'r0'));
      await kept.ingest(...victim(DAYM, 1));
      const expected = await exposures(kept.stores);
      expect(expected).toEqual([expect.objectContaining({ txId: 'tx1', cellId: CELL })]);

      const path = await withHomeCell();
      const a = await server(path, 0);
      await a.ingest(rogue(0, 'r0'));
      await a.shutdown();
      // A day later: the rogue's report is far outside the warm-up's six hours.
      const b = await server(path, DAYM - 1);
      await b.ingest(...victim(DAYM, 1));
      expect(await exposures(b.stores)).toEqual(expected);
      // Eight days after its only finding the flag has lapsed (flagRetentionMs: 7 days).
      await b.ingest(...victim(9 * DAYM, 2));
      expect((await exposures(b.stores)).map((x) => x.txId)).toEqual(['tx1']);
      expect(await sqliteCellFlagStore(b.stores.db).load()).toEqual([]);
      await b.shutdown();
    });

    it('ok/after a long stop, acknowledged events still pending are judged with the history before them (the warm-up reaches back from them, not from now)', async () => {
      const path = await withHomeCell();
      const a = await server(path, 0);
      const [attach, payment] = victim(10, 5);
      await a.ingest(rogue(0, 'r0'), attach as FgEvent);
      // Acknowledged (stored) but not processed before the server went down.
      await a.stores.events.append([payment as FgEvent]);
      await a.shutdown();
      // Ten hours later: the attach is outside "now - dedupWindowMs", not outside the payment's.
      const b = await server(path, 10 * 60);
      await b.live.flush();
      expect((await exposures(b.stores)).map((x) => x.txId)).toEqual(['tx5']);
      await b.shutdown();
    });

    it('fail/a flag that lapsed while the server was down is not restored', async () => {
      const path = await withHomeCell();
      const a = await server(path, 0);
      await a.ingest(rogue(0, 'r0'), ev.report(1, { serial: 'ROGUE2', sourceIp: '198.18.7.8', id: 'r1' }));
      await a.shutdown();
      const b = await server(path, 8 * DAYM);
      // The warm-up has an event (ROGUE2's, replayed) to date the restore by only when it is recent: here the flag is restored and lapses at the first expiry.
      await b.ingest(...victim(8 * DAYM + 1, 3));
      expect(await exposures(b.stores)).toEqual([]);
      await b.shutdown();
    });

    it('fail/while flags cannot be stored the cursor does not pass their events: after a restart they are processed again and the flag is kept', async () => {
      const lines: string[] = [];
      const logger = createLogger({ level: 'info' }, { write: (l: string) => void lines.push(l) });
      const path = await withHomeCell();
      const broken = (inner: CellFlagStore): CellFlagStore => ({ ...inner, save: () => Promise.reject(new Error('disk I/O error')) });
      const a = await server(path, 0, { wrapFlags: broken, logger });
      await a.ingest(rogue(0, 'r0'));
      expect(await a.stores.events.getCursor('detection')).toBe(0);
      const logged = lines.map((x) => JSON.parse(x) as Record<string, unknown>).filter((x) => String(x.msg).startsWith('cell flags could not be stored'));
      expect(logged.length).toBeGreaterThan(0);
      for (const x of logged) expect(x).toMatchObject({ flags: 1, err: 'disk I/O error' });
      await a.shutdown();
      const b = await server(path, DAYM - 1);
      expect(await b.stores.events.getCursor('detection')).toBe(1);
      expect((await sqliteCellFlagStore(b.stores.db).load()).map((f) => [f.cellId, f.rules])).toEqual([[CELL, ['unregistered-device']]]);
      await b.ingest(...victim(DAYM, 4));
      expect((await exposures(b.stores)).map((x) => x.txId)).toEqual(['tx4']);
      await b.shutdown();
    });
  });

  // Responses that did not get done (they failed, or a dry run only logged them) are not recorded
  // as done: the alert's next finding runs them, after a restart too, then they are recorded.
  it.each([
    ['a response that failed twice (a crash or an error before it completed) runs again', { failResponses: 2 }, ['ROGUE1', 'ROGUE1']],
    ['a dry run, logged once per alert, gets the real response once dry run is switched off', { dryRun: true }, ['ROGUE1']],
  ] as const)('ok/%s at the next finding after a restart; fail/once recorded it does not run again', async (_what, options, firstRun) => {
    const path = dbPath();
    const a = await server(path, 0, options);
    await a.ingest(claim(0, 'ROGUE1', 'a0'));
    await a.ingest(claim(1, 'ROGUE1', 'a1'));
    expect(a.responded).toEqual(firstRun);
    expect(await a.stored('ROGUE1')).toMatchObject({ count: 2, respondedAt: null });
    await a.shutdown();
    const b = await server(path, LATER);
    await b.ingest(claim(LATER + 1, 'ROGUE1', 'b0'));
    await b.ingest(claim(LATER + 2, 'ROGUE1', 'b1'));
    expect(b.responded).toEqual(['ROGUE1']);
    expect(await b.stored('ROGUE1')).toMatchObject({ count: 4, respondedAt: iso(LATER + 1) });
    await b.shutdown();
  });

  it('ok/an alert the operator resolved (after lifting a quarantine) is reopened by its next finding: sinks get it new, and the response runs again', async () => {
    const { ingest, stored, delivered, responded, stores: s } = await server(dbPath(), 0);
    await ingest(claim(0, 'ROGUE1', 'a0'));
    await ingest(claim(1, 'ROGUE1', 'a1'));
    expect(responded).toEqual(['ROGUE1']);
    await s.alerts.setStatus((await stored('ROGUE1'))?.id ?? '', 'resolved', 'noc', 'reactivated after review', iso(2));
    await ingest(claim(10, 'ROGUE1', 'a2'));
    expect(delivered).toEqual(['ROGUE1 new 1', 'ROGUE1 update 2', 'ROGUE1 new 3']);
    expect(responded).toEqual(['ROGUE1', 'ROGUE1']);
    expect(await stored('ROGUE1')).toMatchObject({ status: 'open', statusBy: 'system:detection', respondedAt: iso(10) });
  });

  it('ok/a finding of higher severity after a restart is delivered as raised with the stored count; the file gets the escalation', async () => {
    const path = dbPath();
    const a = await server(path, 0, { severity: 'high' });
    await a.ingest(claim(0, 'ROGUE1', 'a0'), claim(1, 'ROGUE1', 'a1'));
    await a.shutdown();
    // The operator raises the rule's severity; the server restarts with it.
    const b = await server(path, LATER, { severity: 'critical' });
    await b.ingest(claim(LATER + 1, 'ROGUE1', 'b0'), claim(LATER + 2, 'ROGUE1', 'b1'));
    expect(b.delivered).toEqual(['ROGUE1 raised 3', 'ROGUE1 update 4']);
    expect(b.payloads[0]).toMatchObject({ severity: 'critical', count: 3, firstSeen: iso(0) });
    expect(b.responded).toEqual([]);
    await b.shutdown();
    expect(fileLines(path).map((x) => [x.severity, x.count])).toEqual([
      ['high', 1],
      ['critical', 3],
    ]);
  });

  it('fail/what sinks get carries no store-only fields (FORMATS.md §3 and the fold fields only)', async () => {
    const path = dbPath();
    const a = await server(path, 0);
    await a.ingest(claim(0, 'ROGUE1', 'a0'));
    await a.stores.alerts.setStatus((await a.stored('ROGUE1'))?.id ?? '', 'resolved', 'noc', null, iso(1));
    await a.ingest(claim(2, 'ROGUE1', 'a1'));
    const fields = ['id', 'ts', 'rule', 'severity', 'serial', 'summary', 'evidence', 'count', 'firstSeen', 'lastSeen'];
    for (const p of a.payloads) expect(Object.keys(p).sort()).toEqual([...fields].sort());
    await a.shutdown();
    expect(Object.keys(fileLines(path)[0] ?? {}).sort()).toEqual([...fields].sort());
  });

  it('ok/the engine holds at most `max` alerts however many subjects the stream brings; the store holds them all', async () => {
    const { live: l, stores: s, ingest } = await server(dbPath(), 0, { alertRetention: { idleMs: DAY, max: 50 } });
    for (let i = 0; i < 400; i += 20) await ingest(...Array.from({ length: 20 }, (_, k) => claim((i + k) / 60, `ROGUE${i + k}`, `c${i + k}`)));
    expect(l.stats().sizes.alerts).toBe(50);
    expect((await s.alerts.list({ rule: 'unregistered-device', limit: 1000 })).length).toBe(400);
  });

  it('fail/a subject whose alert the engine dropped (idle) is not raised again: sinks get the stored count, no second response', async () => {
    const { live: l, ingest, stored, delivered, responded } = await server(dbPath(), 0, { alertRetention: { idleMs: 60_000 * 60, max: 1000 } });
    await ingest(claim(0, 'ROGUE1', 'x0'), claim(1, 'ROGUE1', 'x1'));
    // Two hours of other traffic: the hourly expiry drops ROGUE1's alert from the book.
    for (let m = 2; m <= 180; m += 30) await ingest(claim(m, 'ROGUE2', `y${m}`));
    expect(l.stats().sizes.alerts).toBe(1);
    await ingest(claim(181, 'ROGUE1', 'x2'));
    expect(delivered.filter((d) => d.startsWith('ROGUE1 '))).toEqual(['ROGUE1 new 1', 'ROGUE1 update 2', 'ROGUE1 update 3']);
    expect(responded).toEqual(['ROGUE1', 'ROGUE2']);
    expect(await stored('ROGUE1')).toMatchObject({ count: 3, ts: iso(0), lastSeen: iso(181) });
  });

  it('ok/with an asynchronous store whose first write is slow, deliveries keep the order of the findings and flush waits for them', async () => {
    const writes: string[] = [];
    const slowFirst = (inner: AlertStore): AlertStore => ({
      ...inner,
      async upsert(a, t) {
        writes.push(a.serial ?? '');
        if (writes.length === 1) await new Promise((r) => setTimeout(r, 50));
        return inner.upsert(a, t);
      },
    });
    const { ingest, delivered } = await server(dbPath(), 0, { wrap: slowFirst });
    await ingest(claim(0, 'ROGUE1', 'a0'), claim(0.1, 'ROGUE2', 'b0'), claim(0.2, 'ROGUE1', 'a1'), claim(0.3, 'ROGUE3', 'c0'));
    expect(delivered).toEqual(['ROGUE1 new 1', 'ROGUE2 new 1', 'ROGUE1 update 2', 'ROGUE3 new 1']);
    expect(writes).toEqual(['ROGUE1', 'ROGUE2', 'ROGUE1', 'ROGUE3']);
  });

  it('fail/with the store down, repeats of an alert already answered run no response again, and later findings do not wait for retries', async () => {
    let down = false;
    let failedWrites = 0;
    const failing = (inner: AlertStore): AlertStore => ({
      ...inner,
      upsert: (a, t) => (down ? (failedWrites++, Promise.reject(new Error('disk I/O error'))) : inner.upsert(a, t)),
    });
    const { ingest, delivered, responded } = await server(dbPath(), 0, { wrap: failing });
    await ingest(claim(0, 'ROGUE1', 'a0'));
    expect(responded).toEqual(['ROGUE1']);
    down = true;
    await ingest(claim(1, 'ROGUE1', 'a1'), claim(2, 'ROGUE1', 'a2'), claim(3, 'ROGUE1', 'a3'));
    // Three repeats: delivered (the engine's alert), no response (the engine did not see it new).
    expect(delivered).toEqual(['ROGUE1 new 1', 'ROGUE1 update 2', 'ROGUE1 update 3', 'ROGUE1 update 4']);
    expect(responded).toEqual(['ROGUE1']);
    // The first write spends its retries (four tries); the next two try once.
    expect(failedWrites).toBe(6);
  });

  it('ok/a store write that fails once is tried again: delivered and stored as usual', async () => {
    let calls = 0;
    const failFirst = (inner: AlertStore): AlertStore => ({
      ...inner,
      upsert: (a, t) => (++calls === 1 ? Promise.reject(new Error('database is locked')) : inner.upsert(a, t)),
    });
    const { ingest, delivered, responded, stored } = await server(dbPath(), 0, { wrap: failFirst });
    await ingest(claim(0, 'ROGUE1', 'a0'), claim(0.1, 'ROGUE2', 'b0'));
    expect(delivered).toEqual(['ROGUE1 new 1', 'ROGUE2 new 1']);
    expect(responded).toEqual(['ROGUE1', 'ROGUE2']);
    expect(await stored('ROGUE1')).toMatchObject({ count: 1, respondedAt: expect.any(String) });
  });

  it('fail/a store that stays down does not swallow the alert: the engine\'s alert is delivered and its response runs (fail closed), logged without the alert; later findings are stored', async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    let down = true;
    const failing = (inner: AlertStore): AlertStore => ({
      ...inner,
      upsert: (a, t) => (down ? Promise.reject(new Error('disk I/O error')) : inner.upsert(a, t)),
    });
    const { ingest, delivered, responded, stored, live: l } = await server(dbPath(), 0, { wrap: failing, logger });
    await ingest(claim(0, 'ROGUE1', 'a0'));
    expect(delivered).toEqual(['ROGUE1 new 1']);
    expect(responded).toEqual(['ROGUE1']);
    expect(await stored('ROGUE1')).toBeUndefined();
    down = false;
    await ingest(claim(1, 'ROGUE1', 'a1'));
    // The store's first finding of it: new to the store, so its responses run again (they are idempotent).
    expect(delivered).toEqual(['ROGUE1 new 1', 'ROGUE1 new 1']);
    expect(await stored('ROGUE1')).toMatchObject({ count: 1 });
    expect(l.stats().processed).toBe(2);
    const failed = lines.map((x) => JSON.parse(x) as Record<string, unknown>).filter((x) => String(x.msg).startsWith('alert store write failed'));
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ rule: 'unregistered-device', attempts: 4, err: 'disk I/O error' });
    expect(JSON.stringify(failed[0])).not.toMatch(/summary|evidence|198\.18/);
  });
});
