import { sqliteCellFlagStore, sqliteWebhookOutbox } from '../adapters/sqlite/index.js';
import { maskSubscriberFields } from '../core/mask.js';
import type { Logger } from '../core/logger.js';
import {
  AlertHub,
  createLiveDetection,
  createResponder,
  fileSink,
  webhookSink,
  type Alert,
  type AlertSink,
  type LiveDetection,
} from '../detection/index.js';
import type { Device } from '../registry/index.js';
import type { BaseContext } from './context.js';

/**
 * Wires live detection: the engine fed by the bus, alerts into the store, the live stream
 * hub, the alerts file and webhooks (queued in the database's outbox), and the responses
 * (quarantine through the registry, payment holds).
 */
export function buildLiveDetection(base: BaseContext, log: Logger, env: NodeJS.ProcessEnv): { live: LiveDetection; hub: AlertHub } {
  const { config, stores, registry, clock } = base;
  const hub = new AlertHub();
  const outward = (a: Alert): Alert => (config.alerts.includeIdentifiers ? a : maskSubscriberFields(a));
  const sinks: AlertSink[] = [hub];
  if (config.alerts.file) sinks.push(fileSink(config.alerts.file, outward));
  const webhooks = config.alerts.webhooks.map((w) => ({ url: w.url, minSeverity: w.minSeverity, secret: w.secret ?? env.FEMTOGUARD_WEBHOOK_SECRET ?? '' }));
  if (webhooks.some((w) => w.secret.length < 16)) throw new Error('every webhook needs a secret of at least 16 characters (config alerts.webhooks[].secret or FEMTOGUARD_WEBHOOK_SECRET)');
  // Deliveries wait in the database (webhook_outbox): a restart resumes them.
  if (webhooks.length)
    sinks.push(
      webhookSink({
        targets: webhooks,
        options: { maxAttempts: config.alerts.webhookMaxAttempts, backoffMs: config.alerts.webhookBackoffMs, timeoutMs: 10_000, maxQueue: 10_000 },
        outbox: sqliteWebhookOutbox(stores.db),
        logger: log,
        transform: outward,
      }),
    );

  const respond = createResponder({
    config: config.detection,
    holds: stores.holds,
    audit: stores.audit,
    logger: log,
    now: () => clock.now(),
    quarantine: {
      async quarantine(serial, reason) {
        const d = await registry.get(serial);
        if (!d || (d.status !== 'active' && d.status !== 'provisioned')) return false;
        await registry.setStatus(serial, 'suspended', 'system:detection', reason);
        return true;
      },
    },
  });

  const live = createLiveDetection({
    config: config.detection,
    events: stores.events,
    bus: base.bus,
    alerts: stores.alerts,
    // A row this version cannot read is skipped (its cell is judged unflagged) and logged.
    flags: sqliteCellFlagStore(stores.db, (why) => log.warn({ why }, 'a stored cell flag could not be read; skipped')),
    registry: {
      async all() {
        const out: Device[] = [];
        let after: string | undefined;
        for (;;) {
          const page = await stores.devices.list({ after, limit: 10_000 });
          out.push(...page);
          if (page.length < 10_000) return out;
          after = page[page.length - 1]?.serial;
        }
      },
      changedSince: (after, limit) => stores.devices.changedSince(after, limit),
    },
    sinks,
    respond,
    clock,
    logger: log,
    liveMaxOutOfOrderMs: config.live.maxOutOfOrderMs,
    quietFlushMs: config.live.quietFlushMs,
    registryPollMs: config.live.registryPollMs,
    maxFutureMs: config.live.maxFutureMs,
  });
  return { live, hub };
}
