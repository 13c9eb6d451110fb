/**
 * Wires subscriber protection into the server: the exposure index fed from the event bus
 * (batched writes to SQLite), cell flags from detection's alerts (the store at start, the live
 * hub after), the payment risk check and the impact analysis on the REST API.
 */
import { sqliteExposureStore } from '../adapters/sqlite/exposure-store.js';
import type { Logger } from '../core/logger.js';
import { createSubscriberService, registerSubscriberRoutes, type ExposureStore, type RiskLimits, type RiskPolicy, type SubscriberService } from '../subscribers/index.js';
import type { BaseContext } from './context.js';
import type { ServerExtension } from './extensions.js';

const DAY_MS = 86_400_000;

/** Per running server (tests run several in one process), keyed by its base context. */
const services = new WeakMap<BaseContext, SubscriberService>();

/** The exposure index over this data directory's database (the server, and `femtoguard impact`). */
export function openExposureStore(base: BaseContext): ExposureStore {
  return sqliteExposureStore(base.stores.db);
}

/**
 * The risk policy from the configuration: `high` is exactly detection's payment-exposure
 * look-back, so the API and the rule agree on every payment.
 */
export function riskPolicy(base: BaseContext): RiskPolicy {
  return { highWithinMs: base.config.detection.rules['payment-exposure'].lookbackMs, mediumWithinMs: DAY_MS };
}

/** Retention of the exposure index: the event log's (`events.retentionDays`, default 400 days). */
export const retentionMs = (base: BaseContext): number => base.config.events.retentionDays * DAY_MS;

function limits(base: BaseContext): RiskLimits {
  return { defaultMaxAgeSeconds: 7 * 86_400, maxMaxAgeSeconds: Math.floor(retentionMs(base) / 1000) };
}

function serviceOf(base: BaseContext, log: Logger): SubscriberService {
  let s = services.get(base);
  if (s) return s;
  s = createSubscriberService({
    store: openExposureStore(base),
    events: base.stores.events,
    bus: base.bus,
    alerts: base.stores.alerts,
    registeredCells: async (serial) => (await base.stores.devices.get(serial))?.cellIds ?? [],
    clock: base.clock,
    logger: log.child({ module: 'subscribers' }),
    policy: riskPolicy(base),
    limits: limits(base),
    retentionMs: retentionMs(base),
    // the same lapse as detection's payment-exposure: the risk API's `high` is what the rule would raise
    flagRetentionMs: base.config.detection.rules['payment-exposure'].flagRetentionMs,
    // what ingestion takes ahead of the clock is what the risk API takes as now
    maxFutureMs: base.config.live.maxFutureMs,
    flushMs: 500,
    flushEvents: 20_000,
  });
  services.set(base, s);
  return s;
}

export const subscribersExtension: ServerExtension = {
  name: 'subscribers',
  registerApi(app, { base, log }) {
    const service = serviceOf(base, log);
    registerSubscriberRoutes(app, { service: () => service, tokens: base.tokens, audit: base.stores.audit });
  },
  async start({ base, log, hub }) {
    const service = serviceOf(base, log);
    // Subscribed before the start reads the alert store, so no alert falls between the two.
    const off = hub.subscribe((a) => void service.onAlert(a));
    await service.start();
    return async () => {
      off();
      await service.stop();
      services.delete(base);
    };
  },
};
