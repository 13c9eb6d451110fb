import { createHash, createHmac } from 'node:crypto';
import type { Logger } from '../../core/logger.js';
import { SEVERITY_RANK, type Alert } from '../alerts.js';
import type { Severity } from '../config.js';
import type { OutboxJob, WebhookOutbox } from './outbox.js';
import type { AlertSink } from './types.js';

export interface WebhookTarget {
  url: string;
  /** HMAC key; never logged, never stored (bodies are signed when sent) */
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

export interface WebhookDeps {
  targets: readonly WebhookTarget[];
  options: WebhookOptions;
  /** where deliveries wait until made or given up: durable, so a restart resumes them */
  outbox: WebhookOutbox;
  logger: Logger;
  /** what leaves the process (the app masks subscriber identifiers here) */
  transform?: (a: Alert) => Alert;
}

export interface WebhookStats {
  delivered: number;
  /** given up after `maxAttempts` */
  failed: number;
  retried: number;
  /** dropped from a full queue (`maxQueue`) */
  dropped: number;
}

export interface WebhookSink extends AlertSink {
  readonly stats: WebhookStats;
  /** Resolves when nothing is queued, in flight or waiting for a retry (or, once closed, in flight). */
  idle(): Promise<void>;
  /** Stops sending: aborts requests in flight and waits for them; queued jobs stay in the outbox. */
  close(): Promise<void>;
}

/**
 * Signature header: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. The
 * receiver recomputes it and rejects old timestamps to stop replays.
 */
export function signWebhook(secret: string, body: string, unixSeconds: number): string {
  return `t=${unixSeconds},v1=${createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex')}`;
}

/**
 * The `x-femtoguard-delivery` header: `<alertId>:<first 32 hex of SHA-256(body)>`. The same on
 * every retry of a delivery (its body is stored, and signed only when sent) and different
 * for a raise and its escalations (their bodies differ in type and content), so a receiver
 * can drop repeats by it. Not the outbox row id: SQLite reuses a deleted row's id once the
 * queue is empty, so a raise and its escalation could share one.
 */
function webhookDeliveryId(alertId: string, body: string): string {
  return `${alertId}:${createHash('sha256').update(body).digest('hex').slice(0, 32)}`;
}

/**
 * A target's key in the outbox: SHA-256 of its URL. Stable across restarts while the URL
 * stays; neither the URL (which may carry credentials) nor the secret is stored.
 */
export function webhookTargetKey(url: string): string {
  return createHash('sha256').update(url).digest('hex');
}

/** One target's queue: at most one request in flight, or a timer for its oldest job. */
interface Lane {
  target: WebhookTarget;
  key: string;
  /** what logs and errors name it by (`webhookLabel`): never the URL's path or query */
  label: string;
  sending: Promise<void> | null;
  timer: NodeJS.Timeout | null;
}

/** What a request came to: null when `close()` aborted it (the job stays as it was). */
type Outcome = { ok: boolean; why: string } | null;

/**
 * Signed webhooks with retry: new alerts and severity rises at or above `minSeverity` are
 * POSTed as JSON `{type, alert}`. `deliver` writes one job per target into the outbox before
 * it returns, so a crash or restart loses none: the sink made over the same outbox at the
 * next start sends what is left. Each target's jobs go one at a time in the order they were
 * queued: a failing job (non-2xx or network error) is retried with exponential backoff and
 * holds those behind it until it is delivered or, after `maxAttempts`, given up (removed,
 * logged with its alert id, counted). So a receiver never sees an escalation before its
 * raise; while it is down the job at the head spends its attempts and is given up, then the
 * next one does, so a long outage loses deliveries one per retry span. Redirects are not
 * followed (a signed body goes to the configured URL only): a 3xx is a failed attempt.
 */
export function webhookSink(deps: WebhookDeps): WebhookSink {
  const { targets, options: opts, outbox, logger: log } = deps;
  const transform = deps.transform ?? ((a: Alert): Alert => a);
  const stats: WebhookStats = { delivered: 0, failed: 0, retried: 0, dropped: 0 };
  const lanes = lanesOf(targets);
  const byKey = new Map(lanes.map((l) => [l.key, l]));
  const closing = new AbortController();
  let closed = false;
  const waiters: (() => void)[] = [];

  function isIdle(): boolean {
    return lanes.every((l) => !l.sending && (closed || (!l.timer && outbox.head(l.key) === undefined)));
  }
  function wakeWaiters(): void {
    if (waiters.length === 0) return;
    let idle: boolean;
    try {
      idle = isIdle();
    } catch {
      idle = false;
    }
    if (idle) while (waiters.length) waiters.shift()?.();
  }

  function schedule(lane: Lane, ms: number): void {
    if (closed) return wakeWaiters();
    const timer = setTimeout(() => {
      lane.timer = null;
      pump(lane);
    }, ms);
    timer.unref();
    lane.timer = timer;
  }

  /** Sends the lane's oldest job when it is due, or sets a timer for when it will be. */
  function pump(lane: Lane): void {
    if (closed || lane.sending || lane.timer) return wakeWaiters();
    let job: OutboxJob | undefined;
    try {
      job = outbox.head(lane.key);
    } catch (e) {
      log.error({ webhook: lane.label, err: errorText(e) }, 'webhook outbox read failed; will try again');
      return schedule(lane, opts.backoffMs);
    }
    if (!job) return wakeWaiters();
    const wait = job.nextAt - Date.now();
    if (wait > 0) return schedule(lane, wait);
    lane.sending = send(lane, job).then((pauseMs) => {
      lane.sending = null;
      if (pauseMs > 0) schedule(lane, pauseMs);
      else pump(lane);
    });
  }

  /** One attempt at one job, its outcome written to the outbox. Never rejects; resolves to a pause before the next. */
  async function send(lane: Lane, job: OutboxJob): Promise<number> {
    const outcome = await post(lane.target, job);
    if (outcome === null) return 0;
    try {
      record(lane, job, outcome);
      return 0;
    } catch (e) {
      // The outbox still says what it said before this attempt: try again later, not in a loop.
      log.error({ webhook: lane.label, alert: job.alertId, err: errorText(e) }, 'webhook outbox write failed; will try again');
      return opts.backoffMs;
    }
  }

  /**
   * One POST, bounded as a whole by `timeoutMs` (connecting, sending, waiting for the status
   * line and headers). The reply body is never read, only cancelled: the status says all, and
   * a receiver answering 2xx with an endless or huge body must cost nothing. The deadline is a
   * plain referenced timer on this attempt's own controller, not
   * `AbortSignal.any([AbortSignal.timeout(ms), ...])`: on Node 20 that composite can be
   * garbage-collected and then never fires (nodejs/node#57736), leaving the attempt to
   * undici's 300 s limit.
   */
  async function post(target: WebhookTarget, job: OutboxJob): Promise<Outcome> {
    if (closing.signal.aborted) return null;
    // Signed now, with the current time: a job that waited is not rejected as a replay.
    const ts = Math.floor(Date.now() / 1000);
    const controller = new AbortController();
    let timedOut = false;
    const deadline = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, opts.timeoutMs);
    const onClose = (): void => controller.abort();
    closing.signal.addEventListener('abort', onClose, { once: true });
    try {
      const res = await fetch(target.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-femtoguard-signature': signWebhook(target.secret, job.body, ts), 'x-femtoguard-delivery': webhookDeliveryId(job.alertId, job.body) },
        body: job.body,
        // A redirect would re-post the signed body to a host nobody configured.
        redirect: 'manual',
        signal: controller.signal,
      });
      await res.body?.cancel().catch(() => undefined);
      return { ok: res.status >= 200 && res.status < 300, why: res.status >= 300 && res.status < 400 ? `HTTP ${res.status} (redirect not followed)` : `HTTP ${res.status}` };
    } catch {
      if (closing.signal.aborted) return null;
      return { ok: false, why: timedOut ? `timeout after ${opts.timeoutMs} ms` : 'network error' };
    } finally {
      clearTimeout(deadline);
      closing.signal.removeEventListener('abort', onClose);
    }
  }

  function record(lane: Lane, job: OutboxJob, { ok, why }: { ok: boolean; why: string }): void {
    if (ok) {
      outbox.remove(job.id);
      stats.delivered++;
      return;
    }
    const attempts = job.attempt + 1;
    if (attempts < opts.maxAttempts) {
      const delay = Math.min(60_000, opts.backoffMs * 2 ** job.attempt);
      outbox.retryLater(job.id, attempts, Date.now() + delay, why);
      stats.retried++;
      log.warn({ webhook: lane.label, alert: job.alertId, attempt: attempts, why, retryInMs: delay }, 'webhook delivery failed; will retry');
    } else {
      // The alert stays in the alert store (GET /v1/alerts); the log names it.
      outbox.remove(job.id);
      stats.failed++;
      log.error({ webhook: lane.label, alert: job.alertId, attempts, why }, 'webhook delivery failed; giving up');
    }
  }

  resume(outbox, lanes, log);
  for (const l of lanes) pump(l);

  return {
    stats,
    deliver(alert, isNew, severityRaised) {
      if (!isNew && !severityRaised) return;
      const chosen = lanes.filter((l) => SEVERITY_RANK[alert.severity] >= SEVERITY_RANK[l.target.minSeverity]);
      if (chosen.length === 0) return;
      const body = JSON.stringify({ type: isNew ? 'alert.raised' : 'alert.escalated', alert: transform(alert) });
      // Durable before deliver returns; a failed write throws to the caller (live detection logs it).
      const dropped = outbox.enqueue(
        chosen.map((l) => ({ target: l.key, body, alertId: alert.id })),
        Date.now(),
        opts.maxQueue,
      );
      for (const d of dropped) {
        stats.dropped++;
        log.error({ webhook: byKey.get(d.target)?.label, alert: d.alertId }, 'webhook queue full; dropped the oldest delivery');
      }
      for (const l of chosen) pump(l);
    },
    idle: () => new Promise<void>((r) => {
      waiters.push(r);
      wakeWaiters();
    }),
    async close() {
      closed = true;
      for (const l of lanes) {
        if (l.timer) clearTimeout(l.timer);
        l.timer = null;
      }
      closing.abort();
      await Promise.all(lanes.map((l) => l.sending));
      wakeWaiters();
    },
  };
}

/** One lane per target; two entries with one URL would share a queue under one key, so they are refused. */
function lanesOf(targets: readonly WebhookTarget[]): Lane[] {
  const first = new Map<string, number>();
  return targets.map((target, i) => {
    const key = webhookTargetKey(target.url);
    const label = webhookLabel(target.url, key);
    const j = first.get(key);
    if (j !== undefined) throw new Error(`alerts.webhooks[${i}] repeats the URL of alerts.webhooks[${j}] (${label}); list each receiver once`);
    first.set(key, i);
    return { target, key, label, sending: null, timer: null };
  });
}

/** Start-up: says what the outbox holds from before, per target and for targets no longer configured. */
function resume(outbox: WebhookOutbox, lanes: readonly Lane[], log: Logger): void {
  const pending = outbox.pendingByTarget();
  for (const l of lanes) {
    const n = pending.get(l.key);
    if (n) log.info({ webhook: l.label, deliveries: n }, 'webhook deliveries resumed from the outbox');
    pending.delete(l.key);
  }
  const orphans = [...pending.values()].reduce((a, b) => a + b, 0);
  if (orphans > 0) log.warn({ deliveries: orphans, targets: pending.size }, 'webhook outbox holds deliveries for receivers no longer configured; kept, not sent');
}

/**
 * What logs and errors name a receiver by: scheme, host and port, and the first 8 hex of its
 * outbox key (SHA-256 of the URL, so two receivers on one host stay apart). Never the path or
 * query, nor user info: Slack, Teams and Discord incoming webhooks carry their secret in the
 * path (`/services/T…/B…/<secret>`), others in `?token=`.
 */
function webhookLabel(url: string, key: string): string {
  let origin: string;
  try {
    const x = new URL(url);
    origin = `${x.protocol}//${x.host}`;
  } catch {
    origin = '(invalid url)';
  }
  return `${origin} (target ${key.slice(0, 8)})`;
}

/** An error's message only: never the object. */
function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
