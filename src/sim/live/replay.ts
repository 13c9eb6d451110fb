/**
 * The replay: the generator's event stream played against the server's real interfaces, in
 * order, at `speed` simulated seconds per wall-clock second (TimeMap):
 * - `femto.session` up/down: what the security gateway reports (`POST /v1/segw/sessions`,
 *   ingest token) with the certificate the device presented;
 * - `femto.report`: the device itself checks in (`POST /v1/femto/checkin`, mutual TLS with its
 *   own key and certificate, from its own loopback-mapped address);
 * - `registry.update`: the operator changes the device (REST PATCH); the event is not posted;
 * - `payment.auth`: the payment gateway asks the risk API first (payment token), holds on `high`;
 * - everything (but sessions and reports, which admission publishes itself) goes to
 *   `POST /v1/events` as NDJSON batches, `ts` rewritten to event time.
 * Requests of one serial are kept in order; at most `concurrency` device requests are in flight.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Agent } from 'node:https';
import { parseEventTime } from '../../events/index.js';
import type { Setup } from './fleet.js';
import { problemText, tlsAgent, tlsRequest } from './http.js';
import type { LoopbackMap, TimeMap } from './net.js';
import type { DecisionSeen, LiveCounters, LiveObserver } from './types.js';

const FLUSH_MS = 200;
const FLUSH_LINES = 2000;

export interface ReplayContext {
  setup: Setup;
  est: URL;
  net: LoopbackMap;
  time: TimeMap;
  counters: LiveCounters;
  observer: LiveObserver;
  rogueSerials: ReadonlySet<string>;
  concurrency: number;
  /** wall-clock ms after which the replay stops (demo --duration) */
  stopAt: number;
  signal?: AbortSignal | undefined;
  spanMs: number;
}

type Json = Record<string, unknown>;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Plays events.ndjson; resolves when every request has been answered. Returns whether it stopped early. */
export async function replay(eventsPath: string, x: ReplayContext): Promise<boolean> {
  const { setup, net, time, counters: c, observer } = x;
  const estEndpoint = `${x.est.hostname}:${x.est.port || '443'}`;
  const checkinUrl = new URL('/v1/femto/checkin', x.est);
  const chains = new Map<string, Promise<void>>();
  const agents = new Map<string, Agent>();
  /** the certificate a (serial, address) presented in its latest session */
  const identityAt = new Map<string, string>();
  let inFlight = 0;
  const waiters: (() => void)[] = [];

  const seen = (d: Omit<DecisionSeen, 'rogue'>): void => {
    // The attack side: an unknown serial, or a compromised one turned away (the units whose
    // identity was taken keep checking in from their own lines, and are admitted until quarantined).
    const rogue = !setup.devices.has(d.serial) || (x.rogueSerials.has(d.serial) && d.decision === 'deny');
    if (d.decision === 'admit') c.admitted++;
    else {
      c.denied++;
      const r = d.reason ?? 'unknown';
      c.deniedByReason[r] = (c.deniedByReason[r] ?? 0) + 1;
    }
    observer.decision?.({ ...d, rogue });
  };

  /** Queues `f` behind the earlier requests of `serial`, within the global in-flight limit. */
  const enqueue = async (serial: string, f: () => Promise<void>): Promise<void> => {
    while (inFlight >= x.concurrency) await new Promise<void>((r) => waiters.push(r));
    inFlight++;
    const prev = chains.get(serial) ?? Promise.resolve();
    const p = prev
      .then(f)
      .catch((e: unknown) => {
        c.clientErrors++;
        c.lastClientError = `${serial}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`.slice(0, 200);
      })
      .finally(() => {
        inFlight--;
        waiters.shift()?.();
        if (chains.get(serial) === p) chains.delete(serial);
      });
    chains.set(serial, p);
  };

  // ---------------------------------------------------------------- feeds (POST /v1/events)
  let batch: string[] = [];
  let batchSince = 0;
  let posting: Promise<void> = Promise.resolve();
  const flush = (): void => {
    if (batch.length === 0) return;
    const body = batch.join('\n') + '\n';
    const n = batch.length;
    batch = [];
    posting = posting
      .then(async () => {
        const r = await setup.ingest.json<{ accepted: number; duplicates: number; rejectedCount: number }>('POST', '/v1/events', body, 'application/x-ndjson');
        c.eventsPosted += r.accepted;
        c.eventsDuplicate += r.duplicates;
        c.eventsRejected += r.rejectedCount + Math.max(0, n - r.accepted - r.duplicates - r.rejectedCount);
        observer.eventsPosted?.(r.accepted, r.rejectedCount);
      })
      // A batch the server did not take is counted and reported; the replay goes on (and a
      // rejected promise left on the chain would end the process before its report).
      .catch((e: unknown) => {
        c.clientErrors++;
        c.eventsRejected += n;
        c.lastClientError = `POST /v1/events (${n} lines): ${(e as Error).message}`.slice(0, 200);
      });
  };
  const feed = (e: Json): void => {
    if (batch.length === 0) batchSince = Date.now();
    batch.push(JSON.stringify(e));
    if (batch.length >= FLUSH_LINES) flush();
  };

  // ---------------------------------------------------------------- devices and gateways
  const agentFor = (serial: string, ip: string): Agent => {
    const fpSerial = identityAt.get(`${serial}|${ip}`) ?? serial;
    const k = `${serial}|${fpSerial}|${ip}`;
    let a = agents.get(k);
    if (!a) {
      const d = setup.devices.get(fpSerial);
      a = tlsAgent(setup.ca, d?.key && d.cert ? { key: d.key, cert: d.cert } : {}, ip);
      agents.set(k, a);
    }
    return a;
  };

  const session = (e: Json, t: number): Promise<void> => {
    const serial = String(e.serial);
    const ip = net.address(String(e.sourceIp));
    const owner = setup.bySimFingerprint.get(String(e.certFingerprint ?? ''));
    const dev = owner !== undefined ? setup.devices.get(owner) : undefined;
    if (owner !== undefined) identityAt.set(`${serial}|${ip}`, owner);
    if (e.phase === 'down') {
      for (const [k, a] of agents) if (k.startsWith(`${serial}|`) && k.endsWith(`|${ip}`)) (a.destroy(), agents.delete(k));
    }
    const body: Json = {
      phase: e.phase,
      serial,
      sourceIp: ip,
      ...(dev?.cert ? { certificate: dev.cert } : { certFingerprint: String(e.certFingerprint ?? '0'.repeat(64)) }),
      ...(Array.isArray(e.cellIds) ? { cellIds: e.cellIds } : {}),
      // The gateway's own address, as the generator names it: the unit's check-ins then reach
      // femtoguard on another address, as behind a real SeGW (docs/simulator.md "Gateway endpoint").
      endpoint: typeof e.endpoint === 'string' ? e.endpoint : estEndpoint,
      ...(typeof e.sessionId === 'string' ? { sessionId: e.sessionId } : {}),
      ts: new Date(t).toISOString(),
    };
    return enqueue(serial, async () => {
      const r = await setup.ingest.call('POST', '/v1/segw/sessions', body);
      if (r.status !== 200) throw new Error(`segw session ${r.status}: ${problemText(r.body)}`);
      if (e.phase === 'down') return;
      const d = JSON.parse(r.body) as { decision: 'admit' | 'deny'; reason?: string | null };
      seen({ channel: 'gateway', serial, sourceIp: ip, decision: d.decision, ...(d.reason ? { reason: d.reason } : {}), t });
    });
  };

  const report = (e: Json, t: number): Promise<void> => {
    const serial = String(e.serial);
    const ip = net.address(String(e.sourceIp ?? '127.0.0.1'));
    const body = JSON.stringify({ serial, ...pick(e, ['cellIds', 'gps', 'neighbors', 'swVersion', 'configHash']) });
    return enqueue(serial, async () => {
      let r;
      try {
        r = await tlsRequest(checkinUrl, agentFor(serial, ip), 'POST', { 'content-type': 'application/json' }, body, ip);
      } catch (err) {
        // A TLS handshake the server refuses is a denial too; anything else is a client error.
        const code = (err as NodeJS.ErrnoException).code ?? '';
        if (!code.startsWith('ERR_SSL')) throw err;
        seen({ channel: 'checkin', serial, sourceIp: ip, decision: 'deny', reason: `tls: ${code}`.slice(0, 60), t });
        return;
      }
      let d: { decision?: string; reason?: string } = {};
      try {
        d = JSON.parse(r.body) as typeof d;
      } catch {
        /* a non-JSON answer is counted by its status below */
      }
      if (r.status === 200 && d.decision === 'admit') seen({ channel: 'checkin', serial, sourceIp: ip, decision: 'admit', t });
      else seen({ channel: 'checkin', serial, sourceIp: ip, decision: 'deny', reason: d.reason ?? `http-${r.status}`, t });
    });
  };

  const relocate = (e: Json): Promise<void> => {
    const serial = String(e.serial);
    const patch: Json = pick(e, ['siteLat', 'siteLon', 'siteRadiusM', 'expectedNeighbors', 'cellIds']);
    if (Array.isArray(e.ipPrefixes)) patch.ipPrefixes = e.ipPrefixes.map((p) => net.prefix(String(p)));
    // The operator records the move in the registry at its moment (admission reads it; live
    // detection applies it in event order at its updatedAt, so the unit's last reports from
    // the old line still in the reorder horizon are judged against the old line). Queued
    // behind the unit's earlier requests, ahead of its session from the new line. The event
    // itself is not posted: live, the registry is the record of devices, and the server
    // refuses `registry.update` on /v1/events.
    return enqueue(serial, async () => {
      await setup.admin.json('PATCH', `/v1/devices/${encodeURIComponent(serial)}`, patch);
    });
  };

  const payment = async (e: Json, t: number): Promise<void> => {
    const msisdn = String(e.msisdn);
    const r = await setup.payment.call('POST', '/v1/payment-risk/check', { device: { phoneNumber: msisdn }, maxAge: 86_400 });
    let level = 'none';
    if (r.status === 200) {
      try {
        level = String((JSON.parse(r.body) as { riskLevel?: unknown }).riskLevel ?? 'none');
      } catch {
        c.clientErrors++;
        c.lastClientError = `payment risk check: the answer is not JSON`;
      }
    }
    const held = level === 'high';
    if (held) c.paymentsHeld++;
    else c.paymentsAllowed++;
    observer.payment?.({ txId: String(e.txId), msisdn, riskLevel: level, held, t });
  };

  // ---------------------------------------------------------------- the clock
  let maxT = -Infinity;
  let stopped = false;
  let lastTick = 0;
  const lines = createInterface({ input: createReadStream(eventsPath), crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim() === '') continue;
    const e = JSON.parse(line) as Json;
    const simT = parseEventTime(e.ts);
    const t = time.event(simT);
    if (t > maxT) maxT = t;
    // Wait for the line's moment; a late line (it arrives after later ones) goes at once.
    let now = Date.now();
    if (maxT - now > 2) {
      // Lines already due go out before a pause, not after it (they would reach detection late).
      if (batch.length > 0 && now + (maxT - now) - batchSince >= FLUSH_MS) flush();
      await sleep(maxT - now);
    }
    now = Date.now();
    if (now - maxT > c.maxLagMs) c.maxLagMs = now - maxT;
    if (now >= x.stopAt || x.signal?.aborted) {
      stopped = true;
      break;
    }
    if (batch.length > 0 && now - batchSince >= FLUSH_MS) flush();
    if (now - lastTick >= 1000) {
      lastTick = now;
      observer.tick?.(c, time.simulated(maxT) - time.start, x.spanMs);
    }
    const ts = new Date(t).toISOString();
    switch (e.type) {
      // Awaiting the queueing (not the answer) is the back-pressure: at most `concurrency` in flight.
      case 'femto.session':
        await session(e, t);
        break;
      case 'femto.report':
        await report(e, t);
        break;
      case 'registry.update':
        await relocate({ ...e, ts });
        break;
      case 'payment.auth':
        flush(); // the attaches before it are posted first, as the core network would have logged them
        await posting;
        await payment(e, t);
        feed({ ...e, ts });
        break;
      default:
        feed({ ...e, ts });
    }
  }
  lines.close();
  flush();
  await posting;
  await Promise.all([...chains.values()]);
  for (const a of agents.values()) a.destroy();
  observer.tick?.(c, time.simulated(maxT) - time.start, x.spanMs);
  return stopped;
}

function pick(e: Json, keys: readonly string[]): Json {
  const o: Json = {};
  for (const k of keys) if (e[k] !== undefined) o[k] = e[k];
  return o;
}
