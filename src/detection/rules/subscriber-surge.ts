import type { Rule } from '../rule.js';
import { DistinctImsis } from '../distinct-imsis.js';
import { foldWindow, levelAt, weekSlot, type SurgeWindow } from '../cell-records.js';
import { quoted } from '../text.js';

/**
 * A cell serving far more distinct subscribers in a window than any home cell would
 * (`homeCellMax`) and than its own learned level (`baselineFactor` ×). A registered cell's
 * level is trusted after `warmupWindows` active windows, so a busy cafe or office is judged
 * against its own crowd, not against a home; an unregistered cell has no level and is judged
 * against a home cell. The level is the higher of two memories (both learned in foldWindow,
 * once a window, not at every attach):
 * - the cell's recent level: its highest recent crowd, fading slowly (`levelHalfLifeMs`, so an
 *   office's Monday is judged against its Friday, not its weekend), and rising by at most
 *   `maxDailyGrowth` per day, so a rogue that ramps up slowly outruns it;
 * - the same hour of the week over past weeks (Monday 9:00 against the Mondays 9:00 before).
 * The level is learned only while the cell is registered, and starts over when its
 * registration changes: what it learned as another cell's impostor says nothing of its crowd
 * as a registered one.
 */
export function subscriberSurge(): Rule {
  return {
    id: 'subscriber-surge',
    onAttach(e, ctx, cell) {
      const c = ctx.cfg['subscriber-surge'];
      const start = e.t - (e.t % c.windowMs);
      // The window lives on the cell's record (cell.surge).
      let w = cell.surge;
      if (!w) cell.surge = w = { start, imsis: new DistinctImsis(), fired: false, settings: c, baseline: 0, levelT: start, windows: 0, week: undefined, registered: cell.registered, tainted: false };
      if (start > w.start) {
        foldWindow(w, c.baselineAlpha);
        w.start = start;
        w.imsis.clear();
        w.fired = false;
        w.tainted = false;
      } else if (start < w.start) {
        return; // an attach from a window already closed (late beyond the reorder limit)
      }
      w.imsis.addIds(e);
      // One finding per surging window (as ims-downgrade): the alert's count is the number of
      // windows that surged, not the number of strangers after the first one over the line.
      if (w.fired) return;
      const n = w.imsis.size;
      if (n <= c.homeCellMax) return;
      const registered = cell.registered;
      if (registered && w.windows < c.warmupWindows) return;
      const { level, recent, sameHour } = registered ? learnedLevel(w) : { level: 0, recent: 0, sameHour: 0 };
      const threshold = Math.max(c.homeCellMax, c.baselineFactor * level);
      if (n <= threshold) return;
      w.fired = true;
      ctx.raise({
        rule: 'subscriber-surge',
        severity: c.severity,
        t: e.t,
        cellId: e.cellId,
        summary: `Cell ${quoted(e.cellId)} served ${n} distinct subscribers within ${Math.round(c.windowMs / 60_000)} min, against a learned level of ${level.toFixed(1)}${registered ? '' : ' (unregistered cell)'}: a home femtocell serves a handful.`,
        evidence: {
          distinctSubscribers: n,
          windowStart: new Date(w.start).toISOString(),
          baseline: round2(level),
          recentLevel: round2(recent),
          sameHourOfWeek: round2(sameHour),
          baselineWindows: w.windows,
          threshold: round2(threshold),
          registered,
        },
      });
    },
  };
}

/** A registered cell's level for its current window: the higher of its recent level (faded to now) and the same hour of the week. */
function learnedLevel(w: SurgeWindow): { level: number; recent: number; sameHour: number } {
  const recent = w.windows > 0 ? levelAt(w, w.start) : 0;
  const sameHour = w.week ? (w.week[weekSlot(w.start)] as number) : 0;
  return { level: Math.max(recent, sameHour), recent, sameHour };
}

const round2 = (x: number): number => Number(x.toFixed(2));
