import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { detectionConfigSchema, type Alert, type AlertStore } from '../detection/index.js';
import { followEventLog, type EventBus, type EventStore, type FgEvent, type StoredEvent } from '../events/index.js';
import { ExposureAggregator } from './aggregate.js';
import { HotIndex } from './hot-index.js';
import { impactFromStore, type ImpactQuery } from './impact-store.js';
import type { ImpactResult } from './impact.js';
import { checkRisk, type RiskLimits, type RiskRequest, type RiskResponse } from './risk.js';
import type { RiskPolicy } from './score.js';
import { DAY_MS, dayOf, type ExposureStore } from './types.js';

export interface SubscriberServiceDeps {
  store: ExposureStore;
  events: EventStore;
  bus: EventBus;
  alerts: AlertStore;
  /** the cells a device is registered for (the engine flags them with the device's alerts) */
  registeredCells: (serial: string) => Promise<readonly string[]>;
  clock: Clock;
  logger: Logger;
  policy: RiskPolicy;
  /**
   * detection's `rules['payment-exposure'].flagRetentionMs`: a cell's flag lapses this long
   * after its latest finding, for the risk API as for the rule. Pass the configured value;
   * without it the detection schema's default is used.
   */
  flagRetentionMs?: number | undefined;
  limits: RiskLimits;
  retentionMs: number;
  /** batched writes: at most this long between flushes, */
  flushMs: number;
  /** or this many events */
  flushEvents: number;
}

const READ_PAGE = 5000;

/** The schema's default `flagRetentionMs`, for callers that do not pass the configured one. */
const defaultFlagRetentionMs = (): number => detectionConfigSchema.parse({}).rules['payment-exposure'].flagRetentionMs;

/**
 * The live exposure index: fed from the event bus (resuming after its saved cursor, so events
 * acknowledged before a crash are indexed after it), writing batches to the store, keeping the
 * hot index current, and flagging cells from detection's alerts.
 */
export function createSubscriberService(deps: SubscriberServiceDeps) {
  const { store, events, bus, alerts, clock, logger, policy } = deps;
  const index = new HotIndex(deps.flagRetentionMs ?? defaultFlagRetentionMs());
  const agg = new ExposureAggregator();
  /** cells each device announced most recently (session up, report), as the engine tracks them */
  const announced = new Map<string, string[]>();
  let ready = false;
  let lastSeq = 0;
  let flushedSeq = 0;
  let writing: Promise<void> = Promise.resolve();
  let unsubscribe: (() => void) | null = null;
  const timers: NodeJS.Timeout[] = [];

  function observe(e: FgEvent): void {
    switch (e.type) {
      case 'ue.attach':
        index.observe(e.imsi, e.t, e.cellId, e.msisdn);
        break;
      case 'ims.register':
        index.observe(e.imsi, e.t, e.cellId, e.msisdn);
        break;
      case 'femto.session':
        if (e.phase === 'up' && e.cellIds) announced.set(e.serial, e.cellIds);
        return;
      case 'femto.report':
        if (e.cellIds) announced.set(e.serial, e.cellIds);
        return;
      default:
        break;
    }
    agg.add(e);
  }

  /** Writes what was folded; batches are written one after another, in order. */
  function flush(): Promise<void> {
    if (agg.pending === 0 && lastSeq === flushedSeq) return writing;
    const batch = agg.take(lastSeq > flushedSeq ? lastSeq : null);
    flushedSeq = lastSeq;
    writing = writing.then(() => store.apply(batch)).catch((e: unknown) => logger.error({ err: (e as Error).message }, 'exposure index write failed'));
    return writing;
  }

  function handle(batch: readonly StoredEvent[]): Promise<void> | void {
    for (const s of batch) observe(s.event);
    const last = batch[batch.length - 1];
    if (last) lastSeq = last.seq;
    if (agg.pending >= deps.flushEvents) return flush();
  }


  /** Loads what the index knows about a newly flagged cell: everyone on it within the retention. */
  async function loadCell(cellId: string): Promise<void> {
    await flush();
    const now = clock.now().getTime();
    for (const b of await store.cellBuckets([cellId], dayOf(now - deps.retentionMs), dayOf(now) + 1)) index.addExposure(b.imsi, b.cellId, b.lastSeen);
  }

  async function flagFrom(a: Alert): Promise<void> {
    const registered = a.serial ? await deps.registeredCells(a.serial) : [];
    const deviceCells = (serial: string): string[] => [...(announced.get(serial) ?? []), ...registered];
    const fresh = index.flags.flagFromAlert(a, deviceCells);
    for (const c of fresh) await loadCell(c);
  }

  async function loadFlags(): Promise<void> {
    let before: string | undefined;
    for (;;) {
      const page = await alerts.list({ minSeverity: 'medium', limit: 1000, before });
      for (const a of page) await flagFrom(a);
      const last = page[page.length - 1];
      if (page.length < 1000 || !last) return;
      before = last.id;
    }
  }

  async function prune(): Promise<void> {
    const before = clock.now().getTime() - deps.retentionMs;
    const n = await store.prune(before);
    index.expire(before);
    if (n.buckets + n.subscribers + n.payments > 0) logger.info(n, 'exposure index pruned (retention)');
  }

  return {
    index,
    policy,
    limits: deps.limits,
    retentionMs: deps.retentionMs,
    get ready(): boolean {
      return ready;
    },
    async start(): Promise<void> {
      const t0 = Date.now();
      for await (const page of store.allSubscribers(50_000)) for (const s of page) index.observe(s.imsi, s.lastSeen, s.lastCellId, s.msisdn);
      // Catch up on the event log after the saved cursor, then follow the bus.
      flushedSeq = lastSeq = await store.cursor();
      ({ unsubscribe } = await followEventLog({ events, bus, afterSeq: lastSeq, pageSize: READ_PAGE, handle }));
      await flush();
      await loadFlags();
      await prune();
      timers.push(
        setInterval(() => void flush(), deps.flushMs),
        setInterval(() => void prune().catch((e: unknown) => logger.error({ err: String(e) }, 'exposure prune failed')), DAY_MS),
      );
      for (const t of timers) t.unref();
      ready = true;
      logger.info({ subscribers: index.size, flaggedCells: index.flags.size, exposed: index.exposedCount, ms: Date.now() - t0 }, 'exposure index ready');
    },
    /** Called for every alert the live engine raises or updates. */
    onAlert(a: Alert): Promise<void> {
      return flagFrom(a).catch((e: unknown) => logger.error({ err: String(e) }, 'flagging from alert failed'));
    },
    check(req: RiskRequest): RiskResponse {
      return checkRisk(index, req, clock.now().getTime(), policy);
    },
    async impact(q: ImpactQuery): Promise<ImpactResult> {
      await flush();
      return impactFromStore(store, q, policy);
    },
    flaggedCells: (): string[] => index.flags.cells(),
    flush,
    async stop(): Promise<void> {
      unsubscribe?.();
      for (const t of timers) clearInterval(t);
      await flush();
    },
  };
}

export type SubscriberService = ReturnType<typeof createSubscriberService>;
