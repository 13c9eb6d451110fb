import type { Rule } from '../rule.js';
import { foldWindow } from '../state.js';

/**
 * A cell serving far more distinct subscribers in a window than any home cell would
 * (`homeCellMax`) and than its own learned baseline (`baselineFactor` ×). A registered cell's
 * baseline is trusted after `warmupWindows` active windows, so a busy cafe or office is
 * judged against its own steady crowd, not against a home; an unregistered cell has no
 * baseline and is judged against a home cell. The baseline is learned only while the cell is
 * registered, and starts over when its registration changes: what it learned as another
 * cell's impostor says nothing of its crowd as a registered one.
 */
export function subscriberSurge(): Rule {
  return {
    id: 'subscriber-surge',
    onAttach(e, ctx, cell) {
      const c = ctx.cfg['subscriber-surge'];
      const start = e.t - (e.t % c.windowMs);
      // The window lives on the cell's record (cell.surge).
      let w = cell.surge;
      if (!w) cell.surge = w = { start, imsis: new Set(), fired: false, baseline: 0, windows: 0, registered: cell.registered, tainted: false };
      if (start > w.start) {
        foldWindow(w, c.baselineAlpha);
        w.start = start;
        w.imsis = new Set();
        w.fired = false;
        w.tainted = false;
      } else if (start < w.start) {
        return; // an attach from a window already closed (late beyond the reorder limit)
      }
      w.imsis.add(e.imsi);
      // One finding per surging window (as ims-downgrade): the alert's count is the number of
      // windows that surged, not the number of strangers after the first one over the line.
      if (w.fired) return;
      const n = w.imsis.size;
      if (n <= c.homeCellMax) return;
      const registered = cell.registered;
      if (registered && w.windows < c.warmupWindows) return;
      const threshold = Math.max(c.homeCellMax, registered ? c.baselineFactor * w.baseline : 0);
      if (n <= threshold) return;
      w.fired = true;
      ctx.raise({
        rule: 'subscriber-surge',
        severity: c.severity,
        t: e.t,
        cellId: e.cellId,
        summary: `Cell ${e.cellId} served ${n} distinct subscribers within ${Math.round(c.windowMs / 60_000)} min, against a baseline of ${w.baseline.toFixed(1)}${registered ? '' : ' (unregistered cell)'}: a home femtocell serves a handful.`,
        evidence: { distinctSubscribers: n, windowStart: new Date(w.start).toISOString(), baseline: Number(w.baseline.toFixed(2)), baselineWindows: w.windows, threshold: Number(threshold.toFixed(2)), registered },
      });
    },
  };
}
