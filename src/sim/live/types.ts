/** Public shapes of live mode: options, the summary it returns, the observer it reports to. */
import type { ScenarioName, Truth } from '../types.js';

export interface LiveOptions {
  /** the server's HTTP API, e.g. http://127.0.0.1:8080 */
  target: string;
  /** the server's TLS listener (EST and the bootstrap check-in address); default: the target's host, port 8443 */
  est?: string;
  /** an admin API token (loads the registry, issues enrollment tokens, creates the ingest and payment tokens) */
  token: string;
  /** simulated seconds per wall-clock second */
  speed: number;
  devices: number;
  days: number;
  seed: number;
  scenarios: readonly ScenarioName[];
  /** where the generated registry, events and truth go (kept); the caller makes it unique per run */
  dir: string;
  /** parallel enrollments and device requests in flight */
  concurrency?: number;
  /** stop replaying after this many wall-clock seconds (the demo's --duration); default: the whole span */
  maxSeconds?: number;
  /** aborts the run (Ctrl-C) */
  signal?: AbortSignal;
}

export type Channel = 'checkin' | 'gateway' | 'est';

/** One admission decision as the simulated device or gateway saw it. */
export interface DecisionSeen {
  channel: Channel;
  serial: string;
  sourceIp: string;
  decision: 'admit' | 'deny';
  /** the reason code the server gave (deny only) */
  reason?: string;
  /** the attack side: an unknown serial, or a compromised one (truth) turned away */
  rogue: boolean;
  /** event time (ms) the decision stands for */
  t: number;
}

export interface LiveCounters {
  enrolled: number;
  enrollFailed: number;
  admitted: number;
  denied: number;
  deniedByReason: Record<string, number>;
  eventsPosted: number;
  eventsRejected: number;
  eventsDuplicate: number;
  paymentsHeld: number;
  paymentsAllowed: number;
  /** requests that failed below HTTP (connection refused, timeout): not decisions */
  clientErrors: number;
  lastClientError: string | null;
  /** how far the replay ran behind its schedule at worst (ms of wall clock) */
  maxLagMs: number;
}

export interface LiveSummary extends LiveCounters {
  target: string;
  est: string;
  devices: number;
  speed: number;
  seed: number;
  /** wall-clock seconds of the whole run (setup, replay, settling) */
  elapsedSeconds: number;
  /** simulated hours replayed */
  simulatedHours: number;
  /** event time (ms) the simulated start was mapped to; event time = t0 + (simulated - start) / speed */
  t0: number;
  /** files of the run: registry.csv, events.ndjson, truth.json (simulated times), live-truth.json (event times) */
  dir: string;
  liveTruthPath: string;
  /** every decision on the attack side (see DecisionSeen.rogue) */
  rogueDecisions: DecisionSeen[];
  truth: Truth;
  /** the run was stopped early (--duration or a signal) */
  stoppedEarly: boolean;
}

export type Phase = 'generate' | 'registry' | 'enroll' | 'replay' | 'settle' | 'done';

/**
 * Progress of a live run, for a terminal view or a log. Every callback is optional and must
 * not throw; they are called on the driver's own event loop, so they should be quick.
 */
export interface LiveObserver {
  phase?(p: Phase, detail: string): void;
  enrolled?(serial: string, done: number, total: number): void;
  decision?(d: DecisionSeen): void;
  eventsPosted?(accepted: number, rejected: number): void;
  payment?(p: { txId: string; msisdn: string; riskLevel: string; held: boolean; t: number }): void;
  /** about once a second during the replay: the counters and the simulated time reached */
  tick?(c: Readonly<LiveCounters>, simMs: number, spanMs: number): void;
}
