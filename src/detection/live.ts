import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { followEventLog, type EventBus, type EventStore, type FgEvent, type StoredEvent } from '../events/index.js';
import type { Device } from '../registry/index.js';
import { SEVERITY_RANK, subjectOf, type Alert, type Finding } from './alerts.js';
import type { DetectionConfig } from './config.js';
import { createEngine, type Engine } from './engine.js';
import { RegistryView } from './state.js';
import type { ResponseOutcome } from './responses.js';
import type { CellFlagRecord } from './cell-flags.js';
import type { AlertStore, CellFlagStore, StoredAlert, UpsertedAlert } from './store.js';

/** Waits before each new try of a failed alert write (then the finding is delivered unstored). */
const STORE_RETRY_MS = [50, 250, 1000];
import type { AlertSink } from './sinks/types.js';

/** How live detection follows the registry (a port; the app passes the device store's reads). */
export interface RegistrySource {
  all(): Promise<Device[]>;
  changedSince(after: { updatedAt: string; serial: string }, limit: number): Promise<Device[]>;
}

export interface LiveDetectionDeps {
  config: DetectionConfig;
  events: EventStore;
  bus: EventBus;
  alerts: AlertStore;
  /** the engine's cell flags, kept across restarts (payment-exposure reaches back `flagRetentionMs`) */
  flags: CellFlagStore;
  registry: RegistrySource;
  sinks: AlertSink[];
  /**
   * The responses to a new alert: called once per alert id, until the store records them
   * (AlertStore.markResponded). A dry run is not recorded there (nothing was done: once dry
   * run is switched off, the alert's next finding gets the real responses); it is logged
   * once per alert id by this process.
   */
  respond: (alert: Alert) => Promise<ResponseOutcome | void>;
  clock: Clock;
  logger: Logger;
  /** live reorder horizon (short: alerts must not wait); the offline command uses config.maxOutOfOrderMs */
  liveMaxOutOfOrderMs: number;
  /** processes what is held once no event has arrived for this long (wall time) */
  quietFlushMs: number;
  registryPollMs: number;
  /**
   * An event dated more than this ahead of the server clock is not given to the engine (logged
   * and counted): one event dated years ahead would move event time there, and every real
   * event after it would be too old to judge. Ingestion refuses them; this guards what is
   * stored already. Default 5 minutes.
   */
  maxFutureMs?: number;
}

const DEFAULT_MAX_FUTURE_MS = 5 * 60_000;
/** alert ids whose dry run this process remembers (not to log it at every finding) */
const DRY_RUN_REMEMBERED = 100_000;

const CURSOR = 'detection';

/**
 * The live side of detection: the same engine as `femtoguard detect`, fed from the event
 * bus. On start it rebuilds its windows by replaying silently the `dedupWindowMs` of stored
 * events before the first one it has not processed (or before now), takes its cell flags
 * back from the store, then processes everything after its saved cursor (events acknowledged
 * before a crash included) for real. Its memory follows the live entities: the engine's alert
 * book is bounded by `config.alertRetention`, and nothing here is kept per alert.
 */
export function createLiveDetection(deps: LiveDetectionDeps) {
  const { config, events, bus, alerts, sinks, clock, logger } = deps;
  let engine: Engine;
  let view: RegistryView;
  let muted = true;
  let lastArrival = 0;
  let registrySync = { updatedAt: '', serial: '' };
  let unsubscribe: (() => void) | null = null;
  const timers: NodeJS.Timeout[] = [];
  const pending: Promise<void>[] = [];
  let processed = 0;

  /** alerts whose responses are running (not recorded yet): a second finding meanwhile does not run them again */
  const responding = new Set<string>();
  /** alerts whose responses this process has dry-run (not recorded in the store: nothing was done) */
  const dryRunDone = new Set<string>();

  /** a write failed after all its tries, and none has succeeded since: later ones are not retried */
  let storeDown = false;

  /** The last finding's write and delivery: each finding's waits for the one before. */
  let tail: Promise<void> = Promise.resolve();

  /**
   * One finding folded by the engine. What leaves the process is what the store made of it
   * (`AlertStore.upsert`), not what the engine's book says: sinks get the stored alert (its
   * count, firstSeen, severity), new only when the store had no row for the id, raised when
   * the stored severity rose; responses run once per alert id. So neither a restart nor the
   * book dropping an idle alert re-raises anything. Findings are written and delivered one
   * after the other, in the engine's order, however long an (asynchronous) store takes.
   */
  function onAlert(alert: Alert, isNew: boolean, _f: Finding, severityBefore: number): void {
    if (muted) return;
    const at = clock.now().toISOString();
    // A copy: the engine goes on folding into its object while the write waits its turn.
    const snapshot: Alert = { ...alert };
    tail = tail.then(() => record(snapshot, at, { isNew, severityBefore }));
    pending.push(tail);
  }

  /**
   * Writes one finding, then delivers it; never rejects, so the chain goes on after a failure.
   * A write that fails is tried again (a busy database clears in moments); one that still
   * fails does not swallow the alert: fail closed, the engine's own alert goes to the sinks
   * and, if the engine saw it new, to the responses (a payment hold must not wait for a disk),
   * and the error is logged. The store then misses that finding; its next one is stored. While
   * the store stays down (a write failed after all its tries), later findings try once without
   * waiting, so that one outage does not hold every later alert back by the retries.
   */
  async function record(alert: Alert, at: string, engine: { isNew: boolean; severityBefore: number }): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const folded = await alerts.upsert(alert, at);
        storeDown = false;
        deliver(folded, folded.alert.respondedAt === null);
        return;
      } catch (e) {
        const wait = storeDown ? undefined : STORE_RETRY_MS[attempt];
        if (wait !== undefined) {
          await new Promise((r) => setTimeout(r, wait));
          continue;
        }
        logger.error({ alert: alert.id, rule: alert.rule, attempts: attempt + 1, err: errorText(e) }, "alert store write failed; the engine's alert is delivered, not stored");
        storeDown = true;
        deliver({ alert: { ...alert, status: 'open', statusBy: null, statusNote: null, updatedAt: at, respondedAt: null }, ...engine, reopened: false }, engine.isNew);
        return;
      }
    }
  }

  /**
   * Hands one folded finding to the sinks, and to the responses when `respond`: the store has
   * not recorded them (respondedAt null: once per alert id, and again after a crash between
   * the alert's write and its response, since the events after the saved cursor are processed
   * again), or, with the store down, the engine saw the alert new.
   */
  function deliver({ alert: stored, isNew, severityBefore, reopened }: UpsertedAlert, respond: boolean): void {
    const raised = !isNew && SEVERITY_RANK[stored.severity] > severityBefore;
    const out = formatAlert(stored);
    for (const s of sinks) {
      try {
        // A resolved alert raised again is a new incident to whoever listens (the file, webhooks).
        s.deliver(out, isNew || reopened, raised);
      } catch (e) {
        logger.error({ alert: stored.id, err: errorText(e) }, 'alert sink failed');
      }
    }
    if (!respond || responding.has(stored.id) || dryRunDone.has(stored.id)) return;
    responding.add(stored.id);
    const id = stored.id;
    const failed = (e: unknown): void => logger.error({ alert: id, rule: stored.rule, err: errorText(e) }, 'alert response failed');
    const run = async (): Promise<void> => {
      if ((await deps.respond(stored)) === 'dry-run') {
        // Bounded: the oldest ids are forgotten first (they are logged again at most).
        dryRunDone.add(id);
        if (dryRunDone.size > DRY_RUN_REMEMBERED) dryRunDone.delete(dryRunDone.values().next().value as string);
        return;
      }
      // Recorded when the store takes it; with the store down the alert's next stored finding
      // runs the (idempotent) responses again.
      await alerts.markResponded(id, clock.now().toISOString()).catch((e: unknown) => logger.warn({ alert: id, err: errorText(e) }, 'alert response ran; recording it failed'));
    };
    pending.push(
      run()
        .catch(failed)
        .finally(() => responding.delete(id)),
    );
  }

  async function settle(): Promise<void> {
    while (pending.length) await Promise.allSettled(pending.splice(0));
  }

  // The cursor says: every event with seq <= cursor has been processed (not only pushed: the
  // reorder buffer may still hold the newest ones). Seqs are pushed in increasing order.
  const seqOf = new WeakMap<object, number>();
  const pushed: number[] = [];
  let pushedHead = 0;
  const done = new Set<number>();
  let cursorSeq = 0;
  let savedSeq = 0;

  function onProcessed(e: object): void {
    const seq = seqOf.get(e);
    if (seq === undefined) return;
    done.add(seq);
    while (pushedHead < pushed.length && done.has(pushed[pushedHead] as number)) {
      const s = pushed[pushedHead++] as number;
      done.delete(s);
      cursorSeq = s;
    }
    if (pushedHead > 4096 && pushedHead * 2 > pushed.length) {
      pushed.splice(0, pushedHead);
      pushedHead = 0;
    }
  }

  /** events not given to the engine, by reason (stats) */
  const skipped = { future: 0, registryUpdate: 0 };
  let skipLoggedAt = -Infinity;

  /**
   * Whether the live engine takes this stored event. Not one dated too far ahead of the
   * server clock (see maxFutureMs), nor a `registry.update`: live, the registry itself is the
   * record of devices (its changes reach the engine through the poll, in event order at
   * their time); an event on the bus must not rewrite it for detection.
   */
  function admissible(e: FgEvent, now: number): boolean {
    let why: 'future' | 'registryUpdate' | undefined;
    if (e.type === 'registry.update') why = 'registryUpdate';
    else if (e.t > now + (deps.maxFutureMs ?? DEFAULT_MAX_FUTURE_MS)) why = 'future';
    if (!why) return true;
    skipped[why]++;
    // At most one line a minute, with the counts so far (a flood must not flood the log).
    if (now - skipLoggedAt >= 60_000) {
      skipLoggedAt = now;
      logger.warn({ skipped: { ...skipped }, type: e.type, ts: new Date(e.t).toISOString() }, 'events not given to live detection (dated ahead of the server clock, or registry.update: the registry is the record live)');
    }
    return false;
  }

  function feed(s: StoredEvent, now: number): void {
    seqOf.set(s.event, s.seq);
    pushed.push(s.seq);
    if (!admissible(s.event, now)) {
      onProcessed(s.event);
      return;
    }
    // A dropped event (duplicate, too old) is done at once.
    if (!engine.push(s.event)) onProcessed(s.event);
  }

  /** flags changed and not written yet (a failed write keeps them for the next one) */
  const unsavedFlags = new Map<string, CellFlagRecord>();
  /** the store has forgotten the flags whose latest time is before this */
  let flagsForgotBefore = -Infinity;

  /**
   * Writes the flags changed since the last write, then moves the saved cursor. Flags first:
   * a restart replays only the events after the cursor and the last `dedupWindowMs`, so the
   * cursor must never pass an event whose flags are not stored. When the flag write fails the
   * cursor stays where it was (those events are processed again after a restart) and the
   * flags are written with the next ones.
   */
  async function saveCursor(): Promise<void> {
    const { flags, forgetBefore } = engine.takeFlagChanges();
    for (const f of flags) unsavedFlags.set(f.cellId, f);
    // Also when only time moved on (by a minute at least): lapsed flags leave the store too.
    if (unsavedFlags.size > 0 || (Number.isFinite(forgetBefore) && forgetBefore >= flagsForgotBefore + 60_000)) {
      try {
        await deps.flags.save([...unsavedFlags.values()], forgetBefore);
        unsavedFlags.clear();
        flagsForgotBefore = forgetBefore;
      } catch (e) {
        logger.error({ flags: unsavedFlags.size, err: errorText(e) }, 'cell flags could not be stored; the detection cursor stays until they are');
        return;
      }
    }
    if (cursorSeq > savedSeq) {
      savedSeq = cursorSeq;
      await events.setCursor(CURSOR, cursorSeq);
    }
  }

  /** batches waiting behind a registry read (see `handle`), in arrival order */
  let feeding: Promise<void> | null = null;

  /** A session or report from a serial the engine's registry does not hold (yet). */
  function fromUnknownDevice(batch: readonly StoredEvent[]): boolean {
    for (const { event: e } of batch) if ((e.type === 'femto.session' || e.type === 'femto.report') && view.get(e.serial) === undefined) return true;
    return false;
  }

  /**
   * One batch from the log or the bus. A device registered moments ago can send its first
   * session before the next poll (`registryPollMs`) has read it: a batch with a serial the
   * engine does not know reads the registry's changes first, so that the new unit is not
   * taken for an unregistered one. Batches are fed in arrival order: those that arrive
   * meanwhile wait behind it.
   */
  async function handle(batch: readonly StoredEvent[]): Promise<void> {
    lastArrival = Date.now();
    const sync = fromUnknownDevice(batch);
    if (sync || feeding) {
      // After the one before, whether or not it failed (its failure is its own caller's).
      const mine = (feeding ?? Promise.resolve()).catch(() => undefined).then(async () => {
        if (sync) await syncRegistry().catch((e: unknown) => logger.error({ err: errorText(e) }, 'registry sync failed'));
        const now = clock.now().getTime();
        for (const s of batch) feed(s, now);
      });
      feeding = mine;
      await mine;
      if (feeding === mine) feeding = null;
    } else {
      // One reading of the clock per batch, not per event.
      const now = clock.now().getTime();
      for (const s of batch) feed(s, now);
    }
    processed += batch.length;
    await settle();
    await saveCursor();
  }

  async function syncRegistry(): Promise<void> {
    for (;;) {
      const changed = await deps.registry.changedSince(registrySync, 1000);
      // In event order at the change's time (updatedAt, the same server clock that stamps
      // admission's events): events still in the reorder horizon and older than the change are
      // judged against the record they were sent under, later ones against the new one.
      for (const d of changed) engine.registryChange(d, Date.parse(d.updatedAt));
      const last = changed[changed.length - 1];
      if (last) registrySync = { updatedAt: last.updatedAt, serial: last.serial };
      if (changed.length < 1000) return;
    }
  }

  return {
    async start(): Promise<void> {
      const devices = await deps.registry.all();
      view = RegistryView.from(devices);
      registrySync = devices.reduce((m, d) => (d.updatedAt > m.updatedAt || (d.updatedAt === m.updatedAt && d.serial > m.serial) ? { updatedAt: d.updatedAt, serial: d.serial } : m), { updatedAt: '', serial: '' });
      // A server runs for months: its engine keeps only the alerts of live subjects (the
      // store keeps them all and adds each finding to the stored row, see AlertStore.upsert).
      engine = createEngine({
        registry: view,
        config: { ...config, maxOutOfOrderMs: deps.liveMaxOutOfOrderMs },
        alertRetention: { idleMs: config.alertRetention.idleMs, max: config.alertRetention.max },
        trackFlags: true,
        // the book's isNew and severityBefore are the engine's; the store's are what counts
        // (the engine's only when the store cannot be written)
        onAlert,
        onProcessed,
      });
      // Warm-up: rebuild windows from recent history without re-raising anything.
      const cursor = await events.getCursor(CURSOR);
      cursorSeq = savedSeq = cursor;
      // The windows the events after the cursor are judged in reach back dedupWindowMs from
      // those events, not from now: after a long stop with acknowledged events still pending,
      // the warm-up starts from the first of them (else a payment among them would lose the
      // attach that exposed it).
      const pending = (await events.readSince(cursor, 1))[0];
      const reference = Math.min(clock.now().getTime(), pending ? pending.event.t - deps.liveMaxOutOfOrderMs : Infinity);
      const from = await events.firstSeqAtOrAfter(reference - config.dedupWindowMs);
      let seq = Math.min(from - 1, cursor);
      muted = true;
      while (seq < cursor) {
        const batch = await events.readSince(seq, 5000);
        const inRange = batch.filter((x) => x.seq <= cursor);
        const now = clock.now().getTime();
        for (const x of inRange) if (admissible(x.event, now)) engine.push(x.event);
        if (inRange.length === 0) break;
        seq = (inRange[inRange.length - 1] as StoredEvent).seq;
      }
      engine.drain();
      // Flags older than the warm-up's reach come from the store (so do the warm-up's own, as
      // they were when last written: the store had seen every event up to the cursor).
      const restoredFlags = engine.restoreFlags(await deps.flags.load());
      muted = false;
      // Then everything stored after the cursor (acknowledged, never processed), then the bus.
      ({ unsubscribe } = await followEventLog({ events, bus, afterSeq: cursor, pageSize: 5000, handle }));
      engine.drain();
      await settle();
      await saveCursor();
      timers.push(
        setInterval(() => {
          if (Date.now() - lastArrival >= deps.quietFlushMs && engine.sizes().buffered > 0) {
            engine.drain();
            void settle().then(saveCursor);
          }
        }, Math.max(100, Math.floor(deps.quietFlushMs / 2))),
        setInterval(() => {
          syncRegistry().catch((e: unknown) => logger.error({ err: String(e) }, 'registry sync failed'));
        }, deps.registryPollMs),
      );
      for (const t of timers) t.unref();
      logger.info({ devices: devices.length, resumedAfterSeq: cursor, restoredFlags }, 'live detection started');
    },
    /** Processes what is buffered now and waits for alert writes and responses. */
    async flush(): Promise<void> {
      engine.drain();
      await settle();
      await saveCursor();
    },
    syncRegistry,
    stats: () => ({ processed, skipped: { ...skipped }, ...engine.stats(), sizes: engine.sizes() }),
    async stop(): Promise<void> {
      unsubscribe?.();
      for (const t of timers) clearInterval(t);
      engine?.drain();
      await settle();
      await saveCursor();
      for (const s of sinks) await s.close?.();
    },
  };
}

export type LiveDetection = ReturnType<typeof createLiveDetection>;

/**
 * The alert as sinks send it: FORMATS.md §3 with the fold fields (count, firstSeen, lastSeen),
 * as `femtoguard detect` writes it. The store's own fields (status, statusBy, statusNote,
 * updatedAt) stay in the store and `GET /v1/alerts`; an allowlist, so a field added to the
 * stored alert does not leak into webhooks, the stream or the file.
 */
function formatAlert(a: StoredAlert): Alert {
  return {
    id: a.id,
    ts: a.ts,
    rule: a.rule,
    severity: a.severity,
    ...subjectOf(a),
    summary: a.summary,
    evidence: a.evidence,
    count: a.count,
    firstSeen: a.firstSeen,
    lastSeen: a.lastSeen,
  };
}

/** An error's message only: never the object, which may carry the alert or a request. */
function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
