import type { Alert } from '../alerts.js';
import type { AlertSink } from './types.js';

/** Fan-out to live subscribers (the dashboard's server-sent events stream). */
export class AlertHub implements AlertSink {
  private readonly subs = new Set<(a: Alert, isNew: boolean) => void>();

  deliver(alert: Alert, isNew: boolean): void {
    for (const s of this.subs) {
      try {
        s(alert, isNew);
      } catch {
        this.subs.delete(s);
      }
    }
  }

  subscribe(fn: (a: Alert, isNew: boolean) => void): () => void {
    this.subs.add(fn);
    return () => this.subs.delete(fn);
  }

  get size(): number {
    return this.subs.size;
  }
}
