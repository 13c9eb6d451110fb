import { execFileSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqlite, type SqliteDb } from '../../adapters/sqlite/database.js';
import { sqliteWebhookOutbox } from '../../adapters/sqlite/webhook-outbox.js';
import { createLogger, type Logger } from '../../core/logger.js';
import type { Alert } from '../alerts.js';
import { signWebhook, webhookSink, webhookTargetKey, type WebhookOptions, type WebhookTarget } from './webhook.js';

describe('webhook signature', () => {
  it('ok/matches an HMAC-SHA256 computed by openssl over "<t>.<body>"', () => {
    const body = '{"type":"alert.raised","alert":{"id":"al_1"}}';
    const sig = signWebhook('s3cr3t-s3cr3t-s3cr3t', body, 1700000000);
    const hex = execFileSync('openssl', ['dgst', '-sha256', '-hmac', 's3cr3t-s3cr3t-s3cr3t', '-r'], { input: `1700000000.${body}` }).toString().split(' ')[0];
    expect(sig).toBe(`t=1700000000,v1=${hex}`);
  });
  it('fail/a different secret or body gives a different signature', () => {
    const a = signWebhook('secret-one-secret-one', 'x', 1);
    expect(signWebhook('secret-two-secret-two', 'x', 1)).not.toBe(a);
    expect(signWebhook('secret-one-secret-one', 'y', 1)).not.toBe(a);
  });
});

/** A local receiver: records each request; `answer` picks the status (204 unless told). */
interface Receiver {
  server: Server;
  got: { path: string; body: string; sig: string; delivery: string }[];
  answer: (body: string) => number | 'hang';
}

async function startReceiver(port = 0, answer: Receiver['answer'] = () => 204): Promise<Receiver & { port: number }> {
  const rx: Receiver = { server: createServer(), got: [], answer };
  rx.server.on('request', (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      rx.got.push({ path: req.url ?? '', body, sig: String(req.headers['x-femtoguard-signature'] ?? ''), delivery: String(req.headers['x-femtoguard-delivery'] ?? '') });
      const status = rx.answer(body);
      if (status !== 'hang') res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => rx.server.listen(port, '127.0.0.1', r));
  const a = rx.server.address();
  return { ...rx, port: typeof a === 'object' && a ? a.port : 0 };
}

async function stopReceiver(rx: Receiver): Promise<void> {
  rx.server.closeAllConnections();
  await new Promise<void>((r) => rx.server.close(() => r()));
}

/** A port nothing listens on (a receiver that is down), free to listen on later. */
async function freePort(): Promise<number> {
  const rx = await startReceiver();
  await stopReceiver(rx);
  return rx.port;
}

const SECRET_A = 'secret-of-receiver-a-0123456789';
const SECRET_B = 'secret-of-receiver-b-0123456789';
const URL_TOKEN = 'url-token-must-not-leak';
/** the secret part of a Slack/Teams/Discord-style incoming webhook URL: it sits in the path */
const PATH_SECRET = 'PathSecretMustNotLeak0123';
const alert = (n: number, severity: Alert['severity'] = 'critical'): Alert => ({
  id: `al_${n}`,
  ts: '2025-08-02T15:00:00.000Z',
  rule: 'inactive-device',
  severity,
  serial: `FG${n}`,
  summary: `alert ${n}`,
  evidence: { n },
  count: 1,
  firstSeen: '2025-08-02T15:00:00.000Z',
  lastSeen: '2025-08-02T15:00:00.000Z',
});

/** Verifies the signature header over "<t>.<body>" with the receiver's secret. */
function signedBy(secret: string, g: { body: string; sig: string }): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(g.sig);
  return m !== null && Math.abs(Number(m[1]) - Date.now() / 1000) < 60 && createHmac('sha256', secret).update(`${m[1]}.${g.body}`).digest('hex') === m[2];
}

/** What `x-femtoguard-delivery` must be for a body: the alert id and 32 hex of SHA-256 over the body. */
const deliveryOf = (body: string, alertId: string): string => `${alertId}:${createHash('sha256').update(body).digest('hex').slice(0, 32)}`;

/**
 * The garbage collector, whatever flags vitest started the worker with: the timeout bug this
 * guards against (nodejs/node#57736) only shows once a collection has run.
 */
function forcedGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('webhook sink over the SQLite outbox', () => {
  let dir: string;
  let path: string;
  let dbs: SqliteDb[];
  let receivers: Receiver[];
  let lines: string[];
  let logger: Logger;
  const open = (): SqliteDb => {
    const db = openSqlite(path);
    dbs.push(db);
    return db;
  };
  const rows = (db: SqliteDb): Record<string, unknown>[] => db.prepare('SELECT * FROM webhook_outbox ORDER BY id').all() as Record<string, unknown>[];
  const logged = (msg: string): Record<string, unknown>[] => lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === msg);
  const options = (o: Partial<WebhookOptions> = {}): WebhookOptions => ({ maxAttempts: 50, backoffMs: 10, timeoutMs: 2000, maxQueue: 100, ...o });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fg-webhook-'));
    path = join(dir, 'femtoguard.db');
    dbs = [];
    receivers = [];
    lines = [];
    logger = createLogger({ level: 'debug' }, { write: (l: string) => void lines.push(l) });
  });
  afterEach(async () => {
    for (const rx of receivers) await stopReceiver(rx);
    for (const db of dbs) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ok/receiver down: jobs stay in the table; after a restart they are delivered, signed, in order per target, then deleted', async () => {
    const port = await freePort();
    const targets: WebhookTarget[] = [
      { url: `http://127.0.0.1:${port}/a?token=${URL_TOKEN}`, secret: SECRET_A, minSeverity: 'medium' },
      { url: `http://127.0.0.1:${port}/b`, secret: SECRET_B, minSeverity: 'high' },
    ];
    const db1 = open();
    const before = webhookSink({ targets, options: options(), outbox: sqliteWebhookOutbox(db1), logger });
    before.deliver(alert(1), true, false);
    before.deliver(alert(2, 'medium'), true, false); // below b's minSeverity
    before.deliver(alert(3, 'high'), true, false);
    before.deliver(alert(1), false, true); // escalation: after its raise
    before.deliver(alert(4), false, false); // a repeat: not sent
    await until(() => (rows(db1)[0]?.attempt as number) >= 2);
    await before.close();
    expect(rows(db1).map((r) => r.alert_id)).toEqual(['al_1', 'al_1', 'al_2', 'al_3', 'al_3', 'al_1', 'al_1']);
    expect(rows(db1)[0]).toMatchObject({ target: webhookTargetKey(targets[0]?.url ?? ''), last_error: 'network error' });
    db1.close();
    dbs.shift();

    // The restart: a new database connection, a new sink, and the receiver back up.
    const rx = await startReceiver(port);
    receivers.push(rx);
    const db2 = open();
    const after = webhookSink({ targets, options: options(), outbox: sqliteWebhookOutbox(db2), logger });
    await after.idle();
    const seen = (p: string): string[] => rx.got.filter((g) => g.path.startsWith(p)).map((g) => `${(JSON.parse(g.body) as { type: string }).type}:${(JSON.parse(g.body) as { alert: Alert }).alert.id}`);
    expect(seen('/a')).toEqual(['alert.raised:al_1', 'alert.raised:al_2', 'alert.raised:al_3', 'alert.escalated:al_1']);
    expect(seen('/b')).toEqual(['alert.raised:al_1', 'alert.raised:al_3', 'alert.escalated:al_1']);
    for (const g of rx.got) expect(signedBy(g.path.startsWith('/a') ? SECRET_A : SECRET_B, g)).toBe(true);
    expect(signedBy(SECRET_B, rx.got.find((g) => g.path.startsWith('/a')) ?? { body: '', sig: '' })).toBe(false);
    expect(rows(db2)).toEqual([]);
    expect(after.stats).toMatchObject({ delivered: 7, failed: 0 });
    expect(logged('webhook deliveries resumed from the outbox').map((l) => l.deliveries).sort()).toEqual([3, 4]);
    await after.close();

    // Neither secret, nor the URL's credentials, in the table (its whole history is gone) or a log line.
    const text = lines.join('\n') + JSON.stringify(rows(db2));
    for (const s of [SECRET_A, SECRET_B, URL_TOKEN]) expect(text).not.toContain(s);
    expect(logged('webhook delivery failed; will retry').length).toBeGreaterThan(0);
  });

  it('ok/a delivered job is deleted at once; alerts below minSeverity and repeats are not queued', async () => {
    const rx = await startReceiver();
    receivers.push(rx);
    const db = open();
    const sink = webhookSink({ targets: [{ url: `http://127.0.0.1:${rx.port}/hook`, secret: SECRET_A, minSeverity: 'high' }], options: options(), outbox: sqliteWebhookOutbox(db), logger });
    sink.deliver(alert(1), true, false);
    expect(rows(db)).toHaveLength(1); // durable once deliver returns
    sink.deliver(alert(2, 'low'), true, false);
    sink.deliver(alert(1), false, false);
    await sink.idle();
    expect(rows(db)).toEqual([]);
    expect(rx.got.map((g) => g.delivery)).toEqual([deliveryOf(rx.got[0]?.body ?? '', 'al_1')]);
    expect(sink.stats).toEqual({ delivered: 1, failed: 0, retried: 0, dropped: 0 });
    await sink.close();
  });

  it('ok/a raise and its escalation carry different delivery ids, even when the queue emptied between them', async () => {
    const rx = await startReceiver();
    receivers.push(rx);
    const db = open();
    const sink = webhookSink({ targets: [{ url: `http://127.0.0.1:${rx.port}/hook`, secret: SECRET_A, minSeverity: 'low' }], options: options(), outbox: sqliteWebhookOutbox(db), logger });
    sink.deliver(alert(1, 'high'), true, false);
    await sink.idle();
    // The first row is gone, so SQLite hands the escalation's row the same id again.
    sink.deliver(alert(1), false, true);
    await sink.idle();
    const ids = rx.got.map((g) => g.delivery);
    expect(ids).toHaveLength(2);
    expect(ids[0]).not.toBe(ids[1]);
    expect(ids).toEqual(rx.got.map((g) => deliveryOf(g.body, 'al_1')));
    await sink.close();
  });

  it('fail/a redirect is not followed: the signed body never reaches the other host, and the delivery is retried then given up', async () => {
    const elsewhere = await startReceiver();
    receivers.push(elsewhere);
    const redirects: string[] = [];
    const server = createServer((req, res) => {
      redirects.push(req.url ?? '');
      req.resume();
      res.writeHead(302, { location: `http://127.0.0.1:${elsewhere.port}/stolen` }).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const a = server.address();
    const port = typeof a === 'object' && a ? a.port : 0;
    receivers.push({ server, got: [], answer: () => 204 });
    const db = open();
    const sink = webhookSink({ targets: [{ url: `http://127.0.0.1:${port}/hook`, secret: SECRET_A, minSeverity: 'low' }], options: options({ maxAttempts: 3, backoffMs: 5 }), outbox: sqliteWebhookOutbox(db), logger });
    sink.deliver(alert(1), true, false);
    await sink.idle();
    expect(redirects).toEqual(['/hook', '/hook', '/hook']);
    expect(elsewhere.got).toEqual([]);
    expect(sink.stats).toEqual({ delivered: 0, failed: 1, retried: 2, dropped: 0 });
    expect(logged('webhook delivery failed; giving up')).toEqual([expect.objectContaining({ alert: 'al_1', why: 'HTTP 302 (redirect not followed)' })]);
    await sink.close();
  });

  it('fail/given up after maxAttempts: removed, logged, counted; the next job goes on', async () => {
    const rx = await startReceiver(0, (body) => (body.includes('"al_1"') ? 503 : 204));
    receivers.push(rx);
    const db = open();
    const sink = webhookSink({ targets: [{ url: `http://127.0.0.1:${rx.port}/hook`, secret: SECRET_A, minSeverity: 'low' }], options: options({ maxAttempts: 3, backoffMs: 5 }), outbox: sqliteWebhookOutbox(db), logger });
    sink.deliver(alert(1), true, false);
    sink.deliver(alert(2), true, false);
    await sink.idle();
    // Stable across the retries of one delivery.
    const [first, second] = [deliveryOf(rx.got[0]?.body ?? '', 'al_1'), deliveryOf(rx.got[3]?.body ?? '', 'al_2')];
    expect(rx.got.map((g) => g.delivery)).toEqual([first, first, first, second]);
    expect(sink.stats).toEqual({ delivered: 1, failed: 1, retried: 2, dropped: 0 });
    const url = `http://127.0.0.1:${rx.port}/hook`;
    expect(logged('webhook delivery failed; giving up')).toEqual([expect.objectContaining({ alert: 'al_1', attempts: 3, why: 'HTTP 503', webhook: `http://127.0.0.1:${rx.port} (target ${webhookTargetKey(url).slice(0, 8)})` })]);
    expect(rows(db)).toEqual([]);
    expect(lines.join('\n')).not.toContain(SECRET_A);
    await sink.close();
  });

  it('fail/beyond maxQueue the oldest deliveries are dropped from the table, logged and counted', async () => {
    const port = await freePort();
    const db = open();
    const sink = webhookSink({ targets: [{ url: `http://127.0.0.1:${port}/hook`, secret: SECRET_A, minSeverity: 'low' }], options: options({ maxQueue: 2, backoffMs: 60_000 }), outbox: sqliteWebhookOutbox(db), logger });
    for (const n of [1, 2, 3, 4]) sink.deliver(alert(n), true, false);
    expect(rows(db).map((r) => r.alert_id)).toEqual(['al_3', 'al_4']);
    expect(logged('webhook queue full; dropped the oldest delivery').map((l) => l.alert)).toEqual(['al_1', 'al_2']);
    expect(sink.stats.dropped).toBe(2);
    await until(() => sink.stats.retried >= 2); // al_1 (dropped while in flight) and al_3 failed once
    expect(rows(db).map((r) => [r.alert_id, r.attempt])).toEqual([['al_3', 1], ['al_4', 0]]);
    await sink.close();
  });

  it('fail/close aborts a request in flight and keeps its job as it was; idle resolves', async () => {
    const rx = await startReceiver(0, () => 'hang');
    receivers.push(rx);
    const db = open();
    const sink = webhookSink({ targets: [{ url: `http://127.0.0.1:${rx.port}/hook`, secret: SECRET_A, minSeverity: 'low' }], options: options(), outbox: sqliteWebhookOutbox(db), logger });
    sink.deliver(alert(1), true, false);
    await until(() => rx.got.length === 1);
    const idle = sink.idle();
    await sink.close();
    await idle;
    expect(rows(db)).toEqual([expect.objectContaining({ alert_id: 'al_1', attempt: 0, last_error: null })]);
    expect(sink.stats).toEqual({ delivered: 0, failed: 0, retried: 0, dropped: 0 });
  });

  it('fail/the same URL listed twice is refused, naming both entries but neither the path nor the query', () => {
    const db = open();
    const url = `https://hooks.example/services/T0ABC/B0DEF/${PATH_SECRET}?token=${URL_TOKEN}`;
    const make = (): unknown =>
      webhookSink({ targets: [{ url, secret: SECRET_A, minSeverity: 'low' }, { url, secret: SECRET_B, minSeverity: 'high' }], options: options(), outbox: sqliteWebhookOutbox(db), logger });
    const label = `https://hooks.example (target ${webhookTargetKey(url).slice(0, 8)})`;
    expect(make).toThrow(`alerts.webhooks[1] repeats the URL of alerts.webhooks[0] (${label}); list each receiver once`);
    for (const leak of [PATH_SECRET, URL_TOKEN, '/services']) expect(make).not.toThrow(leak);
  });

  it('fail/a secret in the URL path or query reaches no log line: retry, give-up, queue-full and resume name scheme, host and key only', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/services/T0ABC/B0DEF/${PATH_SECRET}?sig=${URL_TOKEN}`;
    const targets: WebhookTarget[] = [{ url, secret: SECRET_A, minSeverity: 'low' }];
    const db = open();
    const first = webhookSink({ targets, options: options({ maxQueue: 1, maxAttempts: 2, backoffMs: 60_000 }), outbox: sqliteWebhookOutbox(db), logger });
    first.deliver(alert(1), true, false);
    first.deliver(alert(2), true, false); // al_1 dropped: the queue holds one
    await until(() => first.stats.retried === 2); // al_1 (dropped while in flight) and al_2 failed once
    await first.close();
    // Due now, for the restarted sink to spend its last attempt on.
    db.prepare('UPDATE webhook_outbox SET next_at = 0').run();
    const second = webhookSink({ targets, options: options({ maxAttempts: 2 }), outbox: sqliteWebhookOutbox(db), logger });
    await second.idle();
    await second.close();

    const label = `http://127.0.0.1:${port} (target ${webhookTargetKey(url).slice(0, 8)})`;
    for (const msg of ['webhook queue full; dropped the oldest delivery', 'webhook delivery failed; will retry', 'webhook deliveries resumed from the outbox', 'webhook delivery failed; giving up'])
      expect(new Set(logged(msg).map((l) => l.webhook))).toEqual(new Set([label]));
    const text = lines.join('\n');
    for (const leak of [PATH_SECRET, URL_TOKEN, '/services', 'T0ABC', SECRET_A]) expect(text).not.toContain(leak);
  });

  it('fail/a receiver that never answers is given up on after timeoutMs per attempt, also while the garbage collector runs', async () => {
    const rx = await startReceiver(0, () => 'hang');
    receivers.push(rx);
    const gc = forcedGc();
    const db = open();
    const sink = webhookSink({ targets: [{ url: `http://127.0.0.1:${rx.port}/hook`, secret: SECRET_A, minSeverity: 'low' }], options: options({ timeoutMs: 300, maxAttempts: 2, backoffMs: 10 }), outbox: sqliteWebhookOutbox(db), logger });
    const started = Date.now();
    sink.deliver(alert(1), true, false);
    // Garbage to collect, and collections, all through both attempts.
    let garbage: unknown[] = [];
    const churn = setInterval(() => {
      garbage = Array.from({ length: 20_000 }, (_, i) => ({ i, s: `x${i}` }));
      gc();
    }, 20);
    try {
      await until(() => sink.stats.failed === 1, 5000);
    } finally {
      clearInterval(churn);
    }
    expect(garbage.length).toBeGreaterThan(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(600); // two attempts, each waited out
    expect(rx.got).toHaveLength(2);
    expect(sink.stats).toEqual({ delivered: 0, failed: 1, retried: 1, dropped: 0 });
    expect(logged('webhook delivery failed; will retry')).toEqual([expect.objectContaining({ alert: 'al_1', why: 'timeout after 300 ms' })]);
    expect(logged('webhook delivery failed; giving up')).toEqual([expect.objectContaining({ alert: 'al_1', why: 'timeout after 300 ms' })]);
    expect(rows(db)).toEqual([]);
    await sink.close();
  });

  it('ok/a 2xx reply body is never read: an endless stream after the headers costs a few MiB and the delivery counts at once', async () => {
    const MiB = 1 << 20;
    const cap = 256 * MiB; // bounds what the unfixed sink would buffer
    let sent = 0;
    let dropped = false;
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.on('close', () => void (dropped = true));
        const chunk = Buffer.alloc(MiB, 0x41);
        // As fast as the client takes it, then nothing more and never the end: only a client
        // that stops reading gets its answer without waiting out the timeout.
        const pump = (): void => {
          while (sent < cap && !dropped) {
            sent += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
        };
        pump();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    receivers.push({ server, got: [], answer: () => 204 });
    const a = server.address();
    const port = typeof a === 'object' && a ? a.port : 0;
    const db = open();
    const sink = webhookSink({ targets: [{ url: `http://127.0.0.1:${port}/hook`, secret: SECRET_A, minSeverity: 'low' }], options: options({ timeoutMs: 10_000 }), outbox: sqliteWebhookOutbox(db), logger });
    sink.deliver(alert(1), true, false);
    // Well inside timeoutMs: the answer is the status line, not the body.
    await until(() => sink.stats.delivered + sink.stats.retried > 0, 5000);
    expect(sink.stats).toEqual({ delivered: 1, failed: 0, retried: 0, dropped: 0 });
    await until(() => dropped); // the connection is let go, not drained
    expect(sent).toBeLessThan(32 * MiB);
    expect(rows(db)).toEqual([]);
    await sink.close();
  });
});
