/**
 * Per-cell state of the rules: one record per cell seen in an attach or IMS registration
 * (`CellRecords`), subscriber-surge's window and learned level, ims-downgrade's window and
 * span. Split from state.ts, which keeps the registry view, device records and subscribers.
 */
import type { DistinctImsis } from './distinct-imsis.js';
import type { RegistryView } from './state.js';

/** Per-cell state, one record per cell id seen in an attach or an IMS registration. */
export interface CellState {
  /** RegistryView.cellRegistered as of `regVersion` */
  registered: boolean;
  regVersion: number;
  /** subscriber-surge's window (undefined until the first attach) */
  surge: SurgeWindow | undefined;
  /** ims-downgrade's window (undefined until the first registration) */
  ims: ImsWindow | undefined;
  /** time of the latest attach or registration on the cell (the engine forgets cells quiet for long: `expireCells`) */
  lastT: number;
}

export interface SurgeWindow {
  start: number;
  /** the window's distinct subscribers */
  imsis: DistinctImsis;
  fired: boolean;
  /** the rule's settings, for folding the window when the engine expires a quiet cell */
  settings: SurgeSettings;
  /**
   * The cell's learned level (registered cells only): the highest crowd of its recent windows,
   * fading with a half-life of `levelHalfLifeMs` and rising by at most `maxDailyGrowth` per day
   * (so a rogue ramping up outruns it), or by up to `baselineFactor` after a window that surged
   * (so a new steady crowd stops alerting within hours). As of `levelT`.
   */
  baseline: number;
  /** start of the last window folded into `baseline` */
  levelT: number;
  /** windows folded into `baseline` since it (re)started */
  windows: number;
  /**
   * Same hour of the week (168 one-hour slots, 0 = not seen yet): an EWMA over weeks of the
   * windows that did not surge, so Monday 9:00 is compared with the Mondays 9:00 before it.
   * Created at the first window learned.
   */
  week: Float32Array | undefined;
  /**
   * The registration the baseline belongs to: a cell learns its crowd only while registered,
   * and starts over when it is registered or unregistered (so an unregistered cell's record
   * holds nothing the rule would miss if the engine forgot it).
   */
  registered: boolean;
  /** the registration changed during this window: it was not all seen as one cell, and is not learned */
  tainted: boolean;
}

/** What folding a surge window needs of subscriber-surge's settings (config.ts documents them). */
export interface SurgeSettings {
  baselineFactor: number;
  maxDailyGrowth: number;
  levelHalfLifeMs: number;
  warmupWindows: number;
}

export interface ImsWindow {
  start: number;
  total: number;
  without: number;
  fired: boolean;
  /** window number (start / windowMs) of `start` */
  index: number;
  /**
   * The cell's last `evidenceWindows` windows (this one included), ring-indexed by window
   * number k: registrations at [2k] and those without IPsec at [2k + 1] (one array, so an event
   * reaches one place in memory, not two), and their sums, so a low-volume rogue is judged on a
   * day's evidence when no single window holds enough.
   */
  span: Uint32Array;
  spanSumTotal: number;
  spanSumWithout: number;
  /** no span finding before this window number (one finding per surging span) */
  spanQuietUntil: number;
  /** how long after `start` the span can still reach a later window (evidenceWindows × windowMs) */
  spanMs: number;
}

const SURGE_HOUR_MS = 3_600_000;
const SURGE_DAY_MS = 24 * SURGE_HOUR_MS;
const WEEK_HOURS = 168;

/** The hour-of-week slot (0..167) of a time: hours since the epoch, modulo a week. */
export function weekSlot(t: number): number {
  return Math.floor(t / SURGE_HOUR_MS) % WEEK_HOURS;
}

/** The cell's learned level faded from `levelT` to `t` (half-life `levelHalfLifeMs`). */
export function levelAt(w: SurgeWindow, t: number): number {
  const dt = t - w.levelT;
  return dt > 0 ? w.baseline * Math.pow(2, -dt / w.settings.levelHalfLifeMs) : w.baseline;
}

/**
 * Folds a closed surge window into its cell's learned level and week profile (a registered
 * cell's only): subscriber-surge does it at the next attach, CellRecords.expire for a quiet
 * cell; the per-attach path does none of this work. During warm-up the level takes the
 * window's crowd; after it, the level rises toward a bigger crowd by at most `maxDailyGrowth`
 * per day of event time (a slow ramp outruns it), except after a window that surged, which
 * lifts it by up to `baselineFactor` (the alert is out; a new steady crowd, such as an
 * office's first working day, stops alerting within hours instead of never). A surged window
 * is never learned into its hour-of-week slot: a weekly rogue does not become that hour's
 * normal. `alpha` weighs the newest week in a slot.
 */
export function foldWindow(w: SurgeWindow, alpha: number): void {
  const n = w.imsis.size;
  if (!w.registered || w.tainted || n === 0) return;
  const s = w.settings;
  if (w.windows === 0) w.baseline = n;
  else {
    const faded = levelAt(w, w.start);
    let ceiling = n;
    // From at least one subscriber: a level faded to nothing (a cell quiet for months, a short
    // half-life) must still be able to rise, not stay 0 for ever.
    if (w.windows >= s.warmupWindows) ceiling = w.fired ? s.baselineFactor * Math.max(faded, 1) : Math.max(w.baseline, 1) * Math.pow(s.maxDailyGrowth, (w.start - w.levelT) / SURGE_DAY_MS);
    w.baseline = Math.max(faded, Math.min(n, ceiling));
  }
  w.levelT = w.start;
  w.windows++;
  if (w.fired) return;
  const week = (w.week ??= new Float32Array(WEEK_HOURS));
  const i = weekSlot(w.start);
  const seen = week[i] as number;
  week[i] = seen === 0 ? n : alpha * n + (1 - alpha) * seen;
}

/** One record per cell seen in an attach or IMS registration: the per-cell state of the rules. */
export class CellRecords {
  private readonly cells = new Map<string, CellState>();

  constructor(private readonly registry: RegistryView) {}

  /** The cell's record, its "registered" answer refreshed when the registry changed since; `t` is the event's time. */
  of(cellId: string, t: number): CellState {
    let c = this.cells.get(cellId);
    if (!c) this.cells.set(cellId, (c = { registered: false, regVersion: -1, surge: undefined, ims: undefined, lastT: t }));
    else if (t > c.lastT) c.lastT = t;
    if (c.regVersion !== this.registry.version) {
      c.registered = this.registry.cellRegistered(cellId);
      c.regVersion = this.registry.version;
    }
    return c;
  }

  /**
   * Records quiet since before `before`, which no later event can reach in their old windows
   * (the engine passes a time older than any event it still lets in): an unregistered cell's is
   * dropped (device-chosen ids: without this, every cell id ever seen would stay; it learned no
   * baseline, so nothing is lost) unless its IMS evidence span can still reach a later window;
   * a registered cell's (bounded by the registry) keeps its learned level and week profile, its
   * closed surge window folded into them as the next attach would do (`alpha`: subscriber-surge's
   * baselineAlpha), and that window's subscriber set emptied, its table let go. An IMS record
   * is let go once its evidence span is past.
   */
  expire(before: number, alpha: number): void {
    for (const [cellId, c] of this.cells) {
      if (c.lastT >= before) continue;
      const imsLive = c.ims !== undefined && c.ims.start + c.ims.spanMs > before;
      if (!imsLive) c.ims = undefined;
      if (!this.registry.cellRegistered(cellId)) {
        if (imsLive) c.surge = undefined;
        else this.cells.delete(cellId);
        continue;
      }
      const w = c.surge;
      if (w && w.imsis.size > 0) {
        foldWindow(w, alpha);
        w.imsis.release();
        w.fired = false;
        w.tainted = false;
      }
    }
  }

  /**
   * A device's record changed (its cells before and after): a cell that is registered now and
   * was not, or the other way round, starts its surge baseline over, at once (not when its next
   * attach notices: a cell removed and added back while quiet must start over whether or not
   * `expire` dropped its record meanwhile).
   */
  registrationChanged(before: Iterable<string> | undefined, after: Iterable<string>): void {
    for (const ids of [before ?? [], after]) {
      for (const cellId of ids) {
        const c = this.cells.get(cellId);
        if (!c) continue;
        c.registered = this.registry.cellRegistered(cellId);
        c.regVersion = this.registry.version;
        const w = c.surge;
        if (w && w.registered !== c.registered) {
          w.registered = c.registered;
          w.baseline = 0;
          w.windows = 0;
          w.week = undefined;
          w.tainted = true;
        }
      }
    }
  }

  get size(): number {
    return this.cells.size;
  }
}
