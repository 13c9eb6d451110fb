import type { FgEvent } from '../events/index.js';
import { DedupWindow, ReorderBuffer } from '../events/index.js';
import { AlertBook, SEVERITY_RANK, type Alert, type Finding } from './alerts.js';
import type { DetectionConfig, RuleId } from './config.js';
import type { Rule, RuleContext } from './rule.js';
import { createRules } from './rules/index.js';
import { CellFlags, SubscriberIndex, type DeviceRuntime, type RegistryView } from './state.js';

export interface EngineOptions {
  registry: RegistryView;
  config: DetectionConfig;
  /** called for every finding after folding: `isNew` tells a raise from a repeat */
  onAlert?: (alert: Alert, isNew: boolean, finding: Finding) => void;
  /** called after each event has been processed (live detection advances its cursor with it) */
  onProcessed?: (e: FgEvent) => void;
}

export interface EngineStats {
  events: number;
  byType: Record<string, number>;
  duplicates: number;
  late: number;
  /** older than the dedup window: dropped, since idempotency can no longer be guaranteed for them */
  tooOld: number;
  findings: number;
}

/** Rules whose findings do not make a cell suspicious (they are about payments or idleness). */
const NON_FLAGGING = new Set<RuleId>(['payment-exposure', 'idle-device']);
const TICK_MS = 60_000;
const EXPIRE_EVERY_MS = 3_600_000;

/**
 * The detection engine: one instance per stream. The live server and `femtoguard detect` feed
 * it the same way (`push`), so the same input gives the same alerts. Event time drives every
 * window; arrival order within `maxOutOfOrderMs` does not matter; ids are deduplicated.
 */
export function createEngine(opts: EngineOptions) {
  const { registry, config } = opts;
  const rules: Rule[] = createRules();
  const byType = {
    session: rules.filter((r) => r.onSession),
    report: rules.filter((r) => r.onReport),
    attach: rules.filter((r) => r.onAttach),
    ims: rules.filter((r) => r.onIms),
    payment: rules.filter((r) => r.onPayment),
    update: rules.filter((r) => r.onRegistryUpdate),
    tick: rules.filter((r) => r.onTick),
  };
  const book = new AlertBook();
  const subscribers = new SubscriberIndex();
  const flags = new CellFlags();
  const runtimes = new Map<string, DeviceRuntime>();
  const stats: EngineStats = { events: 0, byType: {}, duplicates: 0, late: 0, tooOld: 0, findings: 0 };
  const dedup = new DedupWindow(config.dedupWindowMs);
  let startT = NaN;
  let lastT = -Infinity;
  let nextTick = -Infinity;
  let nextExpire = -Infinity;
  const livenessMs = config.rules['credential-shared'].sessionLivenessMs;
  // Subscribers are kept as long as the longest look-back that needs them.
  const retentionMs = Math.max(config.rules['payment-exposure'].lookbackMs, config.rules['subscriber-surge'].windowMs) + config.maxOutOfOrderMs;

  function raise(f: Finding): void {
    stats.findings++;
    const { alert, isNew } = book.fold(f);
    if (!NON_FLAGGING.has(f.rule) && SEVERITY_RANK[f.severity] >= SEVERITY_RANK.medium) {
      if (f.cellId) flags.flag(f.cellId, f.t, f.rule);
      if (f.serial) {
        const reg = registry.get(f.serial);
        if (reg) for (const c of reg.cellIds) flags.flag(c, f.t, f.rule);
        const rt = runtimes.get(f.serial);
        if (rt) for (const c of rt.announced) flags.flag(c, f.t, f.rule);
      }
    }
    opts.onAlert?.(alert, isNew, f);
  }

  const ctx: RuleContext = {
    cfg: config.rules,
    registry,
    subscribers,
    flags,
    runtime: (serial) => runtimes.get(serial),
    get startT() {
      return startT;
    },
    raise,
    raised: (rule, s) => book.has({ rule, ...s }),
  };

  /**
   * Forgets sessions (never closed by a `down`: a crash) and addresses not seen within the
   * credential-shared liveness: they can no longer count as live, and without this a device
   * that changes address or session id every day would grow its runtime for ever.
   */
  function prune(rt: DeviceRuntime, t: number): void {
    const before = t - livenessMs;
    for (const [k, s] of rt.sessions) if (Math.max(s.upAt, rt.ipSeen.get(s.ip) ?? 0) < before) rt.sessions.delete(k);
    for (const [ip, seen] of rt.ipSeen) if (seen < before) rt.ipSeen.delete(ip);
  }

  function runtimeOf(serial: string, t: number): DeviceRuntime {
    let rt = runtimes.get(serial);
    if (!rt) runtimes.set(serial, (rt = { lastSeen: t, sessions: new Map(), ipSeen: new Map(), announced: new Set() }));
    if (t > rt.lastSeen) rt.lastSeen = t;
    return rt;
  }

  function tick(t: number, final = false): void {
    for (const r of byType.tick) r.onTick?.(t, ctx, final);
    if (t >= nextExpire) {
      subscribers.expire(t - retentionMs, t - Math.max(retentionMs, config.subscriberLinkRetentionMs));
      nextExpire = t + EXPIRE_EVERY_MS;
    }
  }

  function process(e: FgEvent): void {
    stats.events++;
    stats.byType[e.type] = (stats.byType[e.type] ?? 0) + 1;
    if (Number.isNaN(startT)) startT = e.t;
    if (e.t > lastT) lastT = e.t;
    if (e.t >= nextTick) {
      tick(e.t);
      nextTick = e.t + TICK_MS;
    }
    switch (e.type) {
      case 'femto.session': {
        // The cells an event announces are set before the rules run, so that a finding raised
        // by this very event flags them (payment-exposure counts from the first alert).
        const rt = runtimeOf(e.serial, e.t);
        if (e.phase === 'up' && e.cellIds) rt.announced = new Set(e.cellIds);
        for (const r of byType.session) r.onSession?.(e, ctx);
        const key = e.sessionId ?? e.sourceIp;
        prune(rt, e.t);
        if (e.phase === 'up') rt.sessions.set(key, { ip: e.sourceIp, upAt: e.t });
        else rt.sessions.delete(key);
        rt.ipSeen.set(e.sourceIp, e.t);
        break;
      }
      case 'femto.report': {
        const rt = runtimeOf(e.serial, e.t);
        if (e.cellIds) rt.announced = new Set(e.cellIds);
        for (const r of byType.report) r.onReport?.(e, ctx);
        if (e.sourceIp) {
          if (!rt.ipSeen.has(e.sourceIp)) prune(rt, e.t);
          rt.ipSeen.set(e.sourceIp, e.t);
        }
        break;
      }
      case 'ue.attach':
        subscribers.observe(e.imsi, e.t, e.cellId, e.msisdn, e.imei);
        for (const r of byType.attach) r.onAttach?.(e, ctx);
        break;
      case 'ims.register':
        subscribers.observe(e.imsi, e.t, e.cellId, e.msisdn);
        for (const r of byType.ims) r.onIms?.(e, ctx);
        break;
      case 'payment.auth':
        for (const r of byType.payment) r.onPayment?.(e, ctx);
        break;
      case 'registry.update': {
        const { before, after } = registry.applyUpdate(e);
        for (const r of byType.update) r.onRegistryUpdate?.(e, before, after, ctx);
        break;
      }
    }
    opts.onProcessed?.(e);
  }

  const reorder = new ReorderBuffer(config.maxOutOfOrderMs, process);

  return {
    /** Feeds one validated event (any arrival order within the out-of-order limit). */
    /** Feeds one validated event; false when it was dropped (duplicate id, or older than the dedup window). */
    push(e: FgEvent): boolean {
      const newest = reorder.watermark + config.maxOutOfOrderMs;
      if (e.t < newest - config.dedupWindowMs) {
        stats.tooOld++;
        return false;
      }
      if (e.id !== undefined && dedup.isDuplicate(e.id, e.t, Math.max(e.t, newest))) {
        stats.duplicates++;
        return false;
      }
      reorder.push(e);
      stats.late = reorder.late;
      return true;
    },
    /** Processes everything the reorder buffer holds now (live mode, when the stream goes quiet). */
    drain(): void {
      reorder.flush();
    },
    /** End of input: processes what the reorder buffer still holds and runs the final tick. */
    finish(): void {
      reorder.flush();
      if (lastT > -Infinity) tick(lastT, true);
    },
    alerts: (): Alert[] => book.list(),
    stats: (): EngineStats => ({ ...stats, late: reorder.late }),
    /** Number of entities held (for the bounded-memory checks). */
    sizes: () => {
      let sessions = 0;
      let addresses = 0;
      for (const rt of runtimes.values()) {
        sessions += rt.sessions.size;
        addresses += rt.ipSeen.size;
      }
      return { devices: runtimes.size, subscribers: subscribers.size, buffered: reorder.size, dedupIds: dedup.size, sessions, addresses };
    },
  };
}

export type Engine = ReturnType<typeof createEngine>;
