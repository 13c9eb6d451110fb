import type { Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { detectionConfigSchema, type Alert, type AlertStore } from '../detection/index.js';
import { followEventLog, type EventBus, type EventStore, type FgEvent, type StoredEvent } from '../events/index.js';
import { ExposureAggregator } from './aggregate.js';
import { HotIndex } from './hot-index.js';
import { impactFromStore, type ImpactQuery } from './impact-store.js';
import type { ImpactResult } from './impact.js';
import { checkRisk, type RiskLimits, type RiskRequest, type RiskResponse } from './risk.js';
import type { RiskPolicy } from './score.js';
import { DAY_MS, dayOf, type ExposureBatch, type ExposureBucket, type ExposureStore } from './types.js';

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
  /**
   * How far ahead of the clock ingestion takes an event (`live.maxFutureMs`): the risk API takes
   * an observation dated up to that far ahead as made now (scoreExposure's futureSkewMs).
   */
  maxFutureMs?: number | undefined;
  limits: RiskLimits;
  retentionMs: number;
  /** batched writes: at most this long between flushes, */
  flushMs: number;
  /** or this many events */
  flushEvents: number;
  /**
   * Backoff of the retries of a failed write (SQLITE_BUSY, a full disk): the first after
   * `firstMs`, doubling up to `maxMs`. Defaults: 500 ms, 30 s.
   */
  retry?: { firstMs: number; maxMs: number } | undefined;
}

const READ_PAGE = 5000;
const RETRY_DEFAULT = { firstMs: 500, maxMs: 30_000 };

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
  /**
   * A batch taken from the aggregator whose write failed. It is written before anything folded
   * after it, so the cursor saved with a later batch never passes it (a dropped batch would be
   * lost for good: the next start resumes after the later cursor).
   */
  let unwritten: ExposureBatch | null = null;
  /** consecutive failed writes of `unwritten` */
  let failures = 0;
  let retryTimer: NodeJS.Timeout | null = null;
  let stopping = false;
  const retry = deps.retry ?? RETRY_DEFAULT;
  /**
   * Earliest and latest observation (attach, IMS registration) the index was given: every
   * bucket lies between them (a subscriber's first/last seen bound its buckets'), so an impact
   * window reaching far beyond them (from=0, a distant `to`) reads only the days that can hold
   * one, not one lookup per day of the window.
   */
  let seenFrom = Infinity;
  let seenTo = -Infinity;
  const seen = (t: number): void => {
    if (t < seenFrom) seenFrom = t;
    if (t > seenTo) seenTo = t;
  };
  /** The store, its bucket reads limited to the days observations fall on. */
  const boundedStore: ExposureStore = Object.create(store, {
    cellBuckets: {
      value: (cellIds: readonly string[], fromDay: number, toDay: number): Promise<ExposureBucket[]> => {
        const from = Math.max(fromDay, dayOf(seenFrom));
        const to = Math.min(toDay, dayOf(seenTo));
        return from > to || seenFrom > seenTo ? Promise.resolve([]) : store.cellBuckets(cellIds, from, to);
      },
    },
  }) as ExposureStore;
  let unsubscribe: (() => void) | null = null;
  const timers: NodeJS.Timeout[] = [];

  function observe(e: FgEvent): void {
    switch (e.type) {
      case 'ue.attach':
        index.observe(e.imsi, e.t, e.cellId, e.msisdn);
        seen(e.t);
        break;
      case 'ims.register':
        index.observe(e.imsi, e.t, e.cellId, e.msisdn);
        seen(e.t);
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

  /** Writes what was folded; batches are written one after another, in order. Never rejects. */
  function flush(): Promise<void> {
    return write(false);
  }

  /**
   * Queues a write. `retryNow` also retries a failed batch before its backoff is over (an
   * impact analysis, the stop); the periodic flushes wait for the backoff.
   */
  function write(retryNow: boolean): Promise<void> {
    writing = writing.then(() => writeOut(retryNow));
    return writing;
  }

  /**
   * Writes the failed batch first, then what was folded since. While a failed batch waits for
   * its retry, nothing more is taken from the aggregator: it keeps folding (its size grows with
   * distinct (day, cell, IMSI) buckets, not with events) and is written once the retry succeeds.
   */
  async function writeOut(retryNow: boolean): Promise<void> {
    if (unwritten && retryTimer && !retryNow) return;
    for (;;) {
      if (!unwritten) {
        if (agg.pending === 0 && lastSeq === flushedSeq) return;
        unwritten = agg.take(lastSeq > flushedSeq ? lastSeq : null);
        flushedSeq = lastSeq;
      }
      const wasRetry = failures > 0;
      try {
        await store.apply(unwritten);
      } catch (e: unknown) {
        failed(e);
        return;
      }
      unwritten = null;
      if (!wasRetry) return;
      logger.info({ attempts: failures + 1 }, 'exposure index write succeeded on retry; writing what was folded meanwhile');
      failures = 0;
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = null;
    }
  }

  function failed(e: unknown): void {
    failures++;
    const delay = Math.min(retry.firstMs * 2 ** (failures - 1), retry.maxMs);
    const err = e as { message?: unknown; code?: unknown };
    logger.error({ err: String(err.message ?? e), code: err.code, attempts: failures, cursor: unwritten?.cursor ?? null, retryInMs: stopping ? null : delay }, 'exposure index write failed; the batch is kept and retried');
    if (retryTimer) clearTimeout(retryTimer);
    retryTimer = null;
    if (stopping) return;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      void write(true);
    }, delay);
    retryTimer.unref();
  }

  /** Exposures not in the store yet: the failed batch and what the aggregator holds. */
  function unwrittenBuckets(cellId: string): ExposureBucket[] {
    return [...(unwritten?.buckets.filter((b) => b.cellId === cellId) ?? []), ...agg.pendingFor(cellId)];
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
    for (const b of unwrittenBuckets(cellId)) if (b.lastSeen >= now - deps.retentionMs) index.addExposure(b.imsi, b.cellId, b.lastSeen);
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
      for await (const page of store.allSubscribers(50_000)) {
        for (const s of page) {
          // With the link's time: a number held by several rows goes to its newest link, not
          // to whichever comes last in IMSI order.
          index.observe(s.imsi, s.lastSeen, s.lastCellId, s.msisdn, s.msisdnSince ?? s.firstSeen);
          seen(s.firstSeen);
          seen(s.lastSeen);
        }
      }
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
      return checkRisk(index, req, clock.now().getTime(), policy, deps.maxFutureMs);
    },
    /** Whether a failed write is waiting for its retry (the index is behind the event log). */
    get behind(): boolean {
      return failures > 0;
    },
    /**
     * Impact analysis over everything indexed up to now. When a failed write cannot be
     * retried now, the index is behind and an answer could miss exposed subscribers: this is
     * refused (`unavailable`, 503) rather than answered incomplete.
     */
    async impact(q: ImpactQuery): Promise<ImpactResult> {
      await write(true);
      // `failures`, not `unwritten`: a write queued after this one may be in flight, not failed.
      if (failures > 0) {
        throw new AppError('unavailable', 'subscribers.index_behind', 'the exposure index is behind the event log (a write failed and is being retried): an impact analysis now could miss exposed subscribers; try again later', { failedWrites: failures });
      }
      return impactFromStore(boundedStore, q, policy);
    },
    flaggedCells: (): string[] => index.flags.cells(),
    flush,
    async stop(): Promise<void> {
      unsubscribe?.();
      for (const t of timers) clearInterval(t);
      stopping = true;
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = null;
      await write(true);
      // Still failing: its events stay after the saved cursor and are indexed at the next start.
      if (failures > 0) logger.warn({ cursor: await store.cursor().catch(() => null) }, 'exposure index stopped behind the event log; the next start resumes from its cursor');
    },
  };
}

export type SubscriberService = ReturnType<typeof createSubscriberService>;
