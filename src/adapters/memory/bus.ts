import type { EventBus, StoredEvent } from '../../events/store.js';

/**
 * In-process event bus: delivers each published batch to every subscriber, in order, one
 * batch at a time (a slow subscriber back-pressures publishers through the returned promise).
 */
export function memoryEventBus(): EventBus {
  const handlers = new Set<(events: readonly StoredEvent[]) => Promise<void> | void>();
  let chain: Promise<void> = Promise.resolve();
  return {
    publish(events) {
      const run = chain.then(async () => {
        for (const h of handlers) await h(events);
      });
      chain = run.catch(() => undefined);
      return run;
    },
    subscribe(handler) {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    async close() {
      await chain;
      handlers.clear();
    },
  };
}
