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

  function runtimeOf(serial: string, t: number): DeviceRuntime {
    let rt = runtimes.get(serial);
    if (!rt) runtimes.set(serial, (rt = { lastSeen: t, sessions: new Map(), ipSeen: new Map(), announced: new Set() }));
    if (t > rt.lastSeen) rt.lastSeen = t;
    return rt;
  }

  function tick(t: number): void {
    for (const r of byType.tick) r.onTick?.(t, ctx);
    if (t >= nextExpire) {
      subscribers.expire(t - retentionMs);
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
        for (const r of byType.session) r.onSession?.(e, ctx);
        const rt = runtimeOf(e.serial, e.t);
        const key = e.sessionId ?? e.sourceIp;
        if (e.phase === 'up') {
          rt.sessions.set(key, { ip: e.sourceIp, upAt: e.t });
          if (e.cellIds) rt.announced = new Set(e.cellIds);
        } else {
          rt.sessions.delete(key);
        }
        rt.ipSeen.set(e.sourceIp, e.t);
        break;
      }
      case 'femto.report': {
        for (const r of byType.report) r.onReport?.(e, ctx);
        const rt = runtimeOf(e.serial, e.t);
        if (e.sourceIp) rt.ipSeen.set(e.sourceIp, e.t);
        if (e.cellIds) rt.announced = new Set(e.cellIds);
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
  }

  const reorder = new ReorderBuffer(config.maxOutOfOrderMs, process);

  return {
    /** Feeds one validated event (any arrival order within the out-of-order limit). */
    push(e: FgEvent): void {
      const newest = reorder.watermark + config.maxOutOfOrderMs;
      if (e.t < newest - config.dedupWindowMs) {
        stats.tooOld++;
        return;
      }
      if (e.id !== undefined && dedup.isDuplicate(e.id, e.t, Math.max(e.t, newest))) {
        stats.duplicates++;
        return;
      }
      reorder.push(e);
      stats.late = reorder.late;
    },
    /** Processes everything the reorder buffer holds now (live mode, when the stream goes quiet). */
    drain(): void {
      reorder.flush();
    },
    /** End of input: processes what the reorder buffer still holds and runs the final tick. */
    finish(): void {
      reorder.flush();
      if (lastT > -Infinity) tick(lastT);
    },
    alerts: (): Alert[] => book.list(),
    stats: (): EngineStats => ({ ...stats, late: reorder.late }),
    /** Number of entities held (for the bounded-memory checks). */
    sizes: () => ({ devices: runtimes.size, subscribers: subscribers.size, buffered: reorder.size, dedupIds: dedup.size }),
  };
}

export type Engine = ReturnType<typeof createEngine>;
