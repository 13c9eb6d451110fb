import { createHmac } from 'node:crypto';
import type { Logger } from '../../core/logger.js';
import { SEVERITY_RANK, type Alert } from '../alerts.js';
import type { Severity } from '../config.js';
import type { AlertSink } from './types.js';

export interface WebhookTarget {
  url: string;
  /** HMAC key; never logged */
  secret: string;
  minSeverity: Severity;
}

export interface WebhookOptions {
  maxAttempts: number;
  /** first retry delay; doubles each attempt, capped at 60 s */
  backoffMs: number;
  timeoutMs: number;
  /** bound on queued deliveries per target; the oldest are dropped (and logged) beyond it */
  maxQueue: number;
}

/**
 * Signature header: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. The
 * receiver recomputes it and rejects old timestamps to stop replays.
 */
export function signWebhook(secret: string, body: string, unixSeconds: number): string {
  return `t=${unixSeconds},v1=${createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex')}`;
}

interface Job {
  body: string;
  attempt: number;
  alertId: string;
}

/**
 * Signed webhooks with retry: new alerts and severity rises at or above `minSeverity` are
 * POSTed as JSON `{type, alert}`; a non-2xx answer or a network error is retried with
 * exponential backoff up to `maxAttempts`.
 */
export function webhookSink(targets: readonly WebhookTarget[], opts: WebhookOptions, log: Logger, transform: (a: Alert) => Alert = (a) => a): AlertSink & { idle(): Promise<void>; stats: { delivered: number; failed: number; retried: number } } {
  const stats = { delivered: 0, failed: 0, retried: 0 };
  const queues = targets.map(() => [] as Job[]);
  const busy = targets.map(() => false);
  let closed = false;
  const waiters: (() => void)[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const isIdle = (): boolean => queues.every((q) => q.length === 0) && busy.every((b) => !b) && timers.size === 0;
  const notify = (): void => {
    if (isIdle()) while (waiters.length) waiters.shift()?.();
  };

  async function send(i: number): Promise<void> {
    const target = targets[i] as WebhookTarget;
    const q = queues[i] as Job[];
    if (busy[i] || q.length === 0 || closed) return notify();
    busy[i] = true;
    const job = q.shift() as Job;
    const ts = Math.floor(Date.now() / 1000);
    let ok = false;
    let why = '';
    try {
      const res = await fetch(target.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-femtoguard-signature': signWebhook(target.secret, job.body, ts), 'x-femtoguard-delivery': `${job.alertId}:${job.attempt}` },
        body: job.body,
        signal: AbortSignal.timeout(opts.timeoutMs),
      });
      ok = res.status >= 200 && res.status < 300;
      why = `HTTP ${res.status}`;
      await res.arrayBuffer().catch(() => undefined);
    } catch (e) {
      why = (e as Error).name === 'TimeoutError' ? 'timeout' : 'network error';
    }
    busy[i] = false;
    if (ok) stats.delivered++;
    else if (job.attempt + 1 < opts.maxAttempts && !closed) {
      stats.retried++;
      const delay = Math.min(60_000, opts.backoffMs * 2 ** job.attempt);
      const timer = setTimeout(() => {
        timers.delete(timer);
        q.unshift({ ...job, attempt: job.attempt + 1 });
        void send(i);
      }, delay);
      timers.add(timer);
      log.warn({ webhook: safeUrl(target.url), alert: job.alertId, attempt: job.attempt + 1, why, retryInMs: delay }, 'webhook delivery failed; will retry');
    } else {
      stats.failed++;
      log.error({ webhook: safeUrl(target.url), alert: job.alertId, attempts: job.attempt + 1, why }, 'webhook delivery failed; giving up');
    }
    void send(i);
  }

  return {
    stats,
    deliver(alert, isNew, severityRaised) {
      if (closed || (!isNew && !severityRaised)) return;
      const body = JSON.stringify({ type: isNew ? 'alert.raised' : 'alert.escalated', alert: transform(alert) });
      targets.forEach((t, i) => {
        if (SEVERITY_RANK[alert.severity] < SEVERITY_RANK[t.minSeverity]) return;
        const q = queues[i] as Job[];
        if (q.length >= opts.maxQueue) {
          q.shift();
          log.error({ webhook: safeUrl(t.url) }, 'webhook queue full; dropped the oldest delivery');
        }
        q.push({ body, attempt: 0, alertId: alert.id });
        void send(i);
      });
    },
    /** Resolves when nothing is queued, in flight or waiting for a retry. */
    idle: () => (isIdle() ? Promise.resolve() : new Promise<void>((r) => waiters.push(r))),
    async close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      notify();
    },
  };
}

/** Webhook URLs may carry credentials; log only scheme, host and path. */
function safeUrl(u: string): string {
  try {
    const x = new URL(u);
    return `${x.protocol}//${x.host}${x.pathname}`;
  } catch {
    return '(invalid url)';
  }
}
