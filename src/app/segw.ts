import { join } from 'node:path';
import { validateEvent, type FgEvent } from '../events/index.js';
import { createSegwBridge, watchRegistry, type SessionEventInput } from '../segw/index.js';
import type { ExtensionContext, ServerExtension } from './extensions.js';

/** In the data directory: the sessions the bridge reported up, kept across server restarts. */
export const SEGW_STATE_FILE = 'segw-bridge-state.json';

/** Every live SA's device is checked again this often, whatever the change feed said. */
const SWEEP_MS = 60_000;

/**
 * The strongSwan SeGW bridge inside the server (config `segw`): IKE sessions become
 * `femto.session` events in the event store and on the bus (as `POST /v1/events` would), and
 * a device entering suspended, lost or decommissioned loses its live IKE SAs at once: the
 * registry's change feed is polled and kicked by every revocation, local or seen on the
 * certificate change feed.
 */
export const segwExtension: ServerExtension = {
  name: 'segw',
  start(ctx: ExtensionContext): Promise<(() => Promise<void>) | void> {
    const { config, base, log } = ctx;
    if (!config.segw.enabled || !config.segw.vici) return Promise.resolve();
    const { stores, bus, clock } = base;
    const slog = log.child({ component: 'segw' });

    const bridge = createSegwBridge({
      viciPath: config.segw.vici,
      log: slog,
      now: () => clock.now(),
      sweepMs: SWEEP_MS,
      // A session that ends while the server is down must still get its down (docs/segw.md, "Restarts").
      stateFile: join(config.dataDir, SEGW_STATE_FILE),
      async ingest(events: SessionEventInput[]) {
        const valid: FgEvent[] = [];
        for (const e of events) {
          const v = validateEvent(e);
          if (v.ok) valid.push(v.event);
          else slog.error({ event: e, problem: 'error' in v ? v.error : v.unknownType }, 'segw: session event refused by the contract');
        }
        if (valid.length === 0) return;
        // Same path as POST /v1/events: committed first, then to detection. A bus failure must
        // not make the bridge redeliver: the retry would be a duplicate and never published.
        const { stored } = await stores.events.append(valid);
        if (stored.length) bus.publish(stored).catch((e: unknown) => slog.error({ err: String(e) }, 'event bus publish failed'));
      },
      async deviceStatus(serial) {
        return (await stores.devices.get(serial))?.status ?? null;
      },
      audit: (e) => stores.audit.record(e),
    });

    const watcher = watchRegistry({
      changedSince: (iso, limit) => stores.devices.changedSince({ updatedAt: iso, serial: '' }, limit),
      since: clock.now(),
      pollMs: Math.max(config.changePollMs, 250),
      log: slog,
      onBlocked: (serial, status) => {
        bridge.block(serial, status, `device is ${status}`).catch((e: unknown) => slog.error({ serial, err: String(e) }, 'segw: block failed'));
      },
    });
    // A revocation (this process, or another one seen on the change feed) means a status
    // change to look at now rather than at the next poll.
    const unsubscribe = base.revocation.onChange(() => watcher.kick());
    bridge.start();
    slog.info({ vici: config.segw.vici }, 'segw bridge started');

    return Promise.resolve(async () => {
      unsubscribe();
      watcher.stop();
      await bridge.stop();
    });
  },
};
