import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { followEventLog, type EventBus, type EventStore, type StoredEvent } from '../events/index.js';
import type { Device } from '../registry/index.js';
import { SEVERITY_RANK, type Alert } from './alerts.js';
import type { DetectionConfig } from './config.js';
import { createEngine, type Engine } from './engine.js';
import { RegistryView } from './state.js';
import type { AlertStore } from './store.js';
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
  registry: RegistrySource;
  sinks: AlertSink[];
  respond: (alert: Alert) => Promise<void>;
  clock: Clock;
  logger: Logger;
  /** live reorder horizon (short: alerts must not wait); the offline command uses config.maxOutOfOrderMs */
  liveMaxOutOfOrderMs: number;
  /** processes what is held once no event has arrived for this long (wall time) */
  quietFlushMs: number;
  registryPollMs: number;
}

const CURSOR = 'detection';

/**
 * The live side of detection: the same engine as `femtoguard detect`, fed from the event
 * bus. On start it rebuilds its windows by replaying the last `dedupWindowMs` of stored
 * events silently, then processes everything after its saved cursor (events acknowledged
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

  /**
   * One finding folded. `isNew` is a raise: the first finding of the subject since the engine
   * started, or since its book dropped the subject's idle alert (sinks say new, responses run
   * again, as after a restart); the store adds it to the stored alert either way.
   */
  function onAlert(alert: Alert, isNew: boolean, severityBefore: number): void {
    if (muted) return;
    const raised = !isNew && SEVERITY_RANK[alert.severity] > severityBefore;
    const at = clock.now().toISOString();
    const snapshot = { ...alert, evidence: alert.evidence };
    pending.push(alerts.upsert(snapshot, at));
    for (const s of sinks) {
      try {
        s.deliver(snapshot, isNew, raised);
      } catch (e) {
        logger.error({ err: (e as Error).message }, 'alert sink failed');
      }
    }
    if (isNew) pending.push(deps.respond(snapshot));
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

  function feed(s: StoredEvent): void {
    seqOf.set(s.event, s.seq);
    pushed.push(s.seq);
    // A dropped event (duplicate, too old) is done at once.
    if (!engine.push(s.event)) onProcessed(s.event);
  }

  async function saveCursor(): Promise<void> {
    if (cursorSeq > savedSeq) {
      savedSeq = cursorSeq;
      await events.setCursor(CURSOR, cursorSeq);
    }
  }

  async function handle(batch: readonly StoredEvent[]): Promise<void> {
    lastArrival = Date.now();
    for (const s of batch) feed(s);
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
        onAlert: (alert, isNew, _f, severityBefore) => onAlert(alert, isNew, severityBefore),
        onProcessed,
      });
      // Warm-up: rebuild windows from recent history without re-raising anything.
      const cursor = await events.getCursor(CURSOR);
      cursorSeq = savedSeq = cursor;
      const from = await events.firstSeqAtOrAfter(clock.now().getTime() - config.dedupWindowMs);
      let seq = Math.min(from - 1, cursor);
      muted = true;
      while (seq < cursor) {
        const batch = await events.readSince(seq, 5000);
        const inRange = batch.filter((x) => x.seq <= cursor);
        for (const x of inRange) engine.push(x.event);
        if (inRange.length === 0) break;
        seq = (inRange[inRange.length - 1] as StoredEvent).seq;
      }
      engine.drain();
      muted = false;
      // Then everything stored after the cursor (acknowledged, never processed), then the bus.
      ({ unsubscribe } = await followEventLog({ events, bus, afterSeq: cursor, pageSize: 5000, handle }));
      engine.drain();
      await settle();
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
      logger.info({ devices: devices.length, resumedAfterSeq: cursor }, 'live detection started');
    },
    /** Processes what is buffered now and waits for alert writes and responses. */
    async flush(): Promise<void> {
      engine.drain();
      await settle();
      await saveCursor();
    },
    syncRegistry,
    stats: () => ({ processed, ...engine.stats(), sizes: engine.sizes() }),
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
