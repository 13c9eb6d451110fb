/**
 * The live alert stream's lifetime against its token: checks that do not answer, and clients
 * that leave while their token is being looked up, leave nothing running behind them. A real
 * server on loopback, real SQLite stores and token service; the token lookup is wrapped only to
 * make it slow or stuck on purpose.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { sqliteStores, type SqliteStores } from '../adapters/sqlite/index.js';
import { systemClock } from '../core/clock.js';
import { AlertHub } from '../detection/index.js';
import { registerAlertRoutes } from './alerts.routes.js';
import { problemErrorHandler } from './problem.js';
import { createTokenService, type TokenService } from './tokens.js';
import { silentLogger } from '../core/logger.js';

const PING_MS = 100;
const opened: { app: FastifyInstance; stores: SqliteStores }[] = [];

afterEach(async () => {
  for (const o of opened.splice(0)) {
    o.app.server.closeAllConnections();
    await o.app.close();
    o.stores.close();
  }
});

/** A server whose token lookups wait for `gate()` (resolved at once unless a test holds it). */
async function server(gate: () => Promise<void>) {
  const stores = sqliteStores(join(mkdtempSync(join(tmpdir(), 'fg-stream-')), 'db.sqlite'));
  const real = createTokenService({ store: stores.tokens, audit: stores.audit, clock: systemClock });
  const tokens: TokenService = { ...real, check: async (t) => (await gate(), real.check(t)), verify: async (t) => (await gate(), real.verify(t)) };
  const hub = new AlertHub();
  const app = Fastify();
  app.setErrorHandler(problemErrorHandler(silentLogger()));
  registerAlertRoutes(app, { alerts: stores.alerts, holds: stores.holds, hub, tokens, audit: stores.audit, streamPingMs: PING_MS });
  await app.listen({ host: '127.0.0.1', port: 0 });
  opened.push({ app, stores });
  const a = app.server.address();
  const url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}/v1/alerts/stream`;
  const { token } = await real.create('viewer', 'stream test', 'test');
  return { url, token, hub };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('GET /v1/alerts/stream', () => {
  it('fail/a token check that has not answered by the next keep-alive closes the stream (fail closed), and unsubscribes it', async () => {
    let stuck = false;
    const { url, token, hub } = await server(() => (stuck ? new Promise<void>(() => {}) : Promise.resolve()));
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(hub.size).toBe(1);
    stuck = true;
    // The body ends when the server closes the stream (a stream left open fails here, not by hanging).
    await Promise.race([res.text(), sleep(20 * PING_MS).then(() => Promise.reject(new Error('the stream is still open')))]);
    expect(hub.size).toBe(0);
  });

  it('ok/a server shutting down ends its open streams: close() returns without waiting for the clients to leave', async () => {
    const { url, token, hub } = await server(() => Promise.resolve());
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const o = opened.pop();
    if (!o) throw new Error('no server');
    // Without the preClose hook close() waits for the client, which never leaves: the race fails.
    await Promise.race([o.app.close(), sleep(20 * PING_MS).then(() => Promise.reject(new Error('close() waited for the open stream')))]);
    o.stores.close();
    await res.text();
    expect(hub.size).toBe(0);
  });

  it('fail/a client that leaves while its token is being looked up leaves no subscription and no timer', async () => {
    let slow = true;
    const { url, token, hub } = await server(() => (slow ? sleep(300) : Promise.resolve()));
    const ctrl = new AbortController();
    const pending = fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: ctrl.signal }).catch(() => null);
    await sleep(50);
    ctrl.abort();
    await pending;
    slow = false;
    await sleep(500);
    expect(hub.size).toBe(0);
  });
});
