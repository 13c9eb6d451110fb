import type { Rule } from '../rule.js';
import { distanceM, surelyWithinM } from '../geo.js';
import { quoted, quotedList } from '../text.js';

/** Scans up to this many cells (the norm: a handful of neighbours) are searched linearly. */
const SMALL_SCAN = 16;

/** Did one of the scans hear the cell `x`? */
function heard(scans: readonly number[][], x: number): boolean {
  for (let k = 0; k < scans.length; k++) if ((scans[k] as number[]).includes(x)) return true;
  return false;
}

/** Number of distinct cells over the scans (each scan is distinct within itself). */
function unionSize(scans: readonly number[][]): number {
  const seen = new Set<number>();
  for (const s of scans) for (const x of s) seen.add(x);
  return seen.size;
}

/**
 * Successive GPS fixes, or successive neighbour scans, that show the device travelling.
 * A scan counts as a move when it shares (almost) nothing with the cells heard in the last
 * three scans: a unit at home hears subsets of the same few macro cells. `moves` moves
 * within `windowMs` raise the alert. A relocation announced by the registry starts over.
 */
export function deviceMoving(): Rule {
  return {
    id: 'device-moving',
    onReport(e, ctx, dev) {
      const c = ctx.cfg['device-moving'];
      // The track lives on the device's record (dev.moving).
      let tr = dev.moving;
      if (!tr) dev.moving = tr = { hasFix: false, fixLat: NaN, fixLon: NaN, fixAcc: NaN, scans: [], moves: [] };
      // Each move twice: as evidence (cell ids as sent) and for the summary (quoted: a rogue
      // chooses the neighbour list it reports).
      const moved: string[] = [];
      const told: string[] = [];
      if (e.gps) {
        const acc = e.gps.accuracyM ?? 0;
        const limit = tr.fixAcc + acc + c.minMoveM;
        // The exact distance only when the cheap bound cannot rule a move out.
        if (tr.hasFix && !surelyWithinM(tr.fixLat, tr.fixLon, e.gps.lat, e.gps.lon, limit)) {
          const d = distanceM(tr.fixLat, tr.fixLon, e.gps.lat, e.gps.lon);
          if (d > limit) {
            const gpsMove = `GPS moved ${Math.round(d)} m`;
            moved.push(gpsMove);
            told.push(gpsMove);
          }
        }
        tr.hasFix = true;
        tr.fixLat = e.gps.lat;
        tr.fixLon = e.gps.lon;
        tr.fixAcc = acc;
      }
      if (e.neighbors && e.neighbors.length > 0) {
        // Hot path (every report of the fleet). The scan is kept as its distinct cells, as cell
        // numbers (the engine interned them: ctx.neighborIds), so the last three scans are a few
        // small arrays of integers. The overlap is counted while doing so, and the exact union is
        // computed only when the overlap could be below the bound.
        const scan: number[] = [];
        let inter = 0;
        const nb = ctx.neighborIds;
        const big = e.neighbors.length > SMALL_SCAN || tr.scans.some((s) => s.length > SMALL_SCAN);
        const held = big ? new Set<number>() : undefined;
        if (held) for (const s of tr.scans) for (const x of s) held.add(x);
        const inScan = big ? new Set<number>() : undefined;
        for (let i = 0; i < e.neighbors.length; i++) {
          const x = nb[i] as number;
          const h = held ? held.has(x) : heard(tr.scans, x);
          if (inScan ? inScan.has(x) : scan.includes(x)) continue;
          inScan?.add(x);
          scan.push(x);
          if (h) inter++;
        }
        if (tr.scans.length > 0) {
          let union = 0;
          let near = inter === 0;
          if (!near) {
            let bound = scan.length - inter;
            for (const s of tr.scans) bound += s.length;
            // bound >= union, so inter / bound <= the overlap: when even that clears the bound, no move.
            if (inter / bound < c.maxNeighborJaccard) {
              union = unionSize(tr.scans) + scan.length - inter;
              near = inter / union < c.maxNeighborJaccard;
            }
          }
          // Disjoint is always a move; a near-disjoint scan is one when its Jaccard overlap is below
          // the configured bound (a subset of the cells heard before has a high overlap and is not).
          if (near) {
            const shares = `shares ${inter === 0 ? 'nothing' : `${inter} of ${union} cells`} with the last ${tr.scans.length} scans`;
            const cells = scan.map(ctx.cellName);
            moved.push(`scan ${cells.join(' ')} ${shares}`);
            told.push(`scan of ${quotedList(cells)} ${shares}`);
          }
        }
        tr.scans.push(scan);
        if (tr.scans.length > 3) tr.scans.shift();
      }
      if (moved.length === 0) return;
      tr.moves.push(e.t);
      while (tr.moves.length > 0 && (tr.moves[0] as number) < e.t - c.windowMs) tr.moves.shift();
      if (tr.moves.length >= c.moves) {
        ctx.raise({
          rule: 'device-moving',
          severity: c.severity,
          t: e.t,
          serial: e.serial,
          summary: `${quoted(e.serial)} moved ${tr.moves.length} times in ${Math.round(c.windowMs / 60_000)} min (${told.join('; ')}): a femtocell is fixed equipment; this one is being driven around.`,
          evidence: { moves: tr.moves.map((m) => new Date(m).toISOString()), latest: moved, gps: e.gps ?? null, neighbors: e.neighbors ?? [] },
        });
      }
    },
    onRegistryUpdate(e, _before, _after, ctx) {
      const dev = ctx.runtime(e.serial);
      if (dev) dev.moving = undefined;
    },
  };
}
