/**
 * Live mode (`femtoguard simulate --target URL`): the file-mode generator's seeded timeline,
 * played against a running server through the interfaces a real deployment uses (fleet.ts,
 * replay.ts). Nothing in the server knows it is a simulation.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../../core/index.js';
import { generate } from '../generate.js';
import type { Truth } from '../types.js';
import { setUp } from './fleet.js';
import { Api } from './http.js';
import { LoopbackMap, TimeMap } from './net.js';
import { replay } from './replay.js';
import type { LiveCounters, LiveObserver, LiveOptions, LiveSummary } from './types.js';

/** How long the server is given after the last event to process what it holds (live quietFlushMs is 1 s, plus the alert fan-out). */
const SETTLE_MS = 3000;

/** Checks the target and EST URLs; a bad one is a usage error naming it. */
export function liveUrls(target: string, est?: string): { target: URL; est: URL } {
  const parse = (s: string, what: string, protocols: string[]): URL => {
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      throw new AppError('invalid', 'cli.usage', `${what} ${JSON.stringify(s)} is not a URL (e.g. http://127.0.0.1:8080)`);
    }
    if (!protocols.includes(u.protocol)) throw new AppError('invalid', 'cli.usage', `${what} ${s} must be ${protocols.map((p) => p.replace(':', '://')).join(' or ')}...`);
    return u;
  };
  const t = parse(target, '--target', ['http:', 'https:']);
  const e = est !== undefined ? parse(est, '--est', ['https:']) : new URL(`https://${t.hostname}:8443/`) // hostname keeps an IPv6 literal's brackets;
  // Each simulated unit connects from its own address in 127.0.0.0/8 (LoopbackMap), which only
  // reaches a server on this machine; and the CA certificate the units trust is fetched from
  // the target, which must not cross a network in clear.
  for (const [u, what] of [[t, '--target'], [e, '--est']] as const) {
    if (!isLoopbackHost(u.hostname)) throw new AppError('invalid', 'cli.usage', `${what} ${u.origin} is not on this machine: live mode drives a server on loopback (127.0.0.0/8, ::1 or localhost), where each simulated unit connects from its own address`);
  }
  return { target: t, est: e };
}

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The truth with every time moved to event time, so it can be scored against the server's alerts. */
export function liveTruth(truth: Truth, time: TimeMap): Truth {
  const at = (iso: string): string => new Date(time.event(Date.parse(iso))).toISOString();
  return { ...truth, rogues: truth.rogues.map((r) => ({ ...r, start: at(r.start), end: at(r.end) })) };
}

export async function runLive(o: LiveOptions, observer: LiveObserver = {}): Promise<LiveSummary> {
  const started = Date.now();
  const urls = liveUrls(o.target, o.est);
  const base = urls.target.origin;
  const admin = new Api(base, o.token);
  // Fail fast, before generating anything: the server answers, the token is an admin's.
  const health = await admin.call('GET', '/healthz');
  if (health.status !== 200 || !health.body.includes('"status"')) throw new AppError('unavailable', 'sim.not_femtoguard', `${base}/healthz answered ${health.status}: is ${base} a femtoguard server?`);
  await admin.json('GET', '/v1/tokens');

  observer.phase?.('generate', `seed ${o.seed}, ${o.devices} devices, ${o.days} simulated days`);
  const gen = generate({ dir: o.dir, seed: o.seed, devices: o.devices, days: o.days, scenarios: o.scenarios });
  const net = new LoopbackMap();
  const counters: LiveCounters = { enrolled: 0, enrollFailed: 0, admitted: 0, denied: 0, deniedByReason: {}, eventsPosted: 0, eventsRejected: 0, eventsDuplicate: 0, paymentsHeld: 0, paymentsAllowed: 0, clientErrors: 0, lastClientError: null, maxLagMs: 0 };

  observer.phase?.('registry', `loading ${o.devices} devices into ${base} and enrolling them over EST at ${urls.est.origin}`);
  const setup = await setUp(
    admin,
    urls.est,
    gen.registryPath,
    net,
    o.concurrency ?? 8,
    (serial, done, total) => {
      counters.enrolled = done;
      observer.enrolled?.(serial, done, total);
    },
    () => counters.enrollFailed++,
  );

  const time = new TimeMap(Date.parse('2025-08-04T12:00:00+09:00'), Date.now() + 500, o.speed);
  const truth = liveTruth(gen.truth, time);
  const liveTruthPath = join(o.dir, 'live-truth.json');
  writeFileSync(liveTruthPath, JSON.stringify({ ...truth, eventTime: { t0: new Date(time.t0).toISOString(), simulatedStart: new Date(time.start).toISOString(), speed: o.speed } }, null, 2) + '\n');

  observer.phase?.('replay', `${gen.lines} events over ${gen.spanHours.toFixed(1)} simulated hours at ${o.speed}x (${((gen.spanHours * 3600) / o.speed).toFixed(0)} s)`);
  const rogueSerials = new Set(gen.truth.rogues.flatMap((r) => r.serials));
  const rogueDecisions: LiveSummary['rogueDecisions'] = [];
  const watching: LiveObserver = {
    ...observer,
    decision: (d) => {
      if (d.rogue) rogueDecisions.push(d);
      observer.decision?.(d);
    },
  };
  const stoppedEarly = await replay(gen.eventsPath, {
    setup,
    est: urls.est,
    net,
    time,
    counters,
    observer: watching,
    rogueSerials,
    concurrency: o.concurrency ?? 32,
    stopAt: o.maxSeconds !== undefined ? Date.now() + o.maxSeconds * 1000 : Infinity,
    signal: o.signal,
    spanMs: gen.spanHours * 3_600_000,
  });

  observer.phase?.('settle', 'letting the server process the last events');
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  observer.phase?.('done', '');
  return {
    ...counters,
    target: base,
    est: urls.est.origin,
    devices: o.devices,
    speed: o.speed,
    seed: o.seed,
    elapsedSeconds: (Date.now() - started) / 1000,
    simulatedHours: gen.spanHours,
    t0: time.t0,
    dir: o.dir,
    liveTruthPath,
    rogueDecisions,
    truth,
    stoppedEarly,
  };
}
