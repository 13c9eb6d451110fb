import type { Rule } from '../rule.js';
import { distanceM } from '../geo.js';

interface Track {
  /** the last GPS fix, kept in place (no object per report: this runs for every report) */
  hasFix: boolean;
  fixLat: number;
  fixLon: number;
  fixAcc: number;
  /** the last three scans, each its distinct cells in the order first heard */
  scans: string[][];
  moves: number[];
}

/** Scans up to this many cells (the norm: a handful of neighbours) are searched linearly. */
const SMALL_SCAN = 16;

/** The copy held in `scans` of the cell `x`, if one of them heard it. */
function heldCopy(scans: readonly string[][], x: string): string | undefined {
  for (const s of scans) {
    const i = s.indexOf(x);
    if (i >= 0) return s[i];
  }
  return undefined;
}

/** Number of distinct cells over the scans (each scan is distinct within itself). */
function unionSize(scans: readonly string[][]): number {
  const seen = new Set<string>();
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
  const tracks = new Map<string, Track>();
  return {
    id: 'device-moving',
    onReport(e, ctx) {
      const c = ctx.cfg['device-moving'];
      let tr = tracks.get(e.serial);
      if (!tr) tracks.set(e.serial, (tr = { hasFix: false, fixLat: NaN, fixLon: NaN, fixAcc: NaN, scans: [], moves: [] }));
      const moved: string[] = [];
      if (e.gps) {
        const acc = e.gps.accuracyM ?? 0;
        if (tr.hasFix) {
          const d = distanceM(tr.fixLat, tr.fixLon, e.gps.lat, e.gps.lon);
          if (d > tr.fixAcc + acc + c.minMoveM) moved.push(`GPS moved ${Math.round(d)} m`);
        }
        tr.hasFix = true;
        tr.fixLat = e.gps.lat;
        tr.fixLon = e.gps.lon;
        tr.fixAcc = acc;
      }
      if (e.neighbors && e.neighbors.length > 0) {
        // Hot path (every report of the fleet). The scan is kept as its distinct cells, each the
        // copy already held when one of the last scans heard it: one string per cell per device
        // whatever the number of reports. The overlap is counted while doing so, and the exact
        // union is computed only when the overlap could be below the bound.
        const scan: string[] = [];
        let inter = 0;
        const big = e.neighbors.length > SMALL_SCAN || tr.scans.some((s) => s.length > SMALL_SCAN);
        const held = big ? new Map<string, string>() : undefined;
        if (held) for (const s of tr.scans) for (const x of s) held.set(x, x);
        const inScan = big ? new Set<string>() : undefined;
        for (const raw of e.neighbors) {
          const h = held ? held.get(raw) : heldCopy(tr.scans, raw);
          const x = h ?? raw;
          if (inScan ? inScan.has(x) : scan.includes(x)) continue;
          inScan?.add(x);
          scan.push(x);
          if (h !== undefined) inter++;
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
            moved.push(`scan ${scan.join(' ')} shares ${inter === 0 ? 'nothing' : `${inter} of ${union} cells`} with the last ${tr.scans.length} scans`);
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
          summary: `${e.serial} moved ${tr.moves.length} times in ${Math.round(c.windowMs / 60_000)} min (${moved.join('; ')}): a femtocell is fixed equipment; this one is being driven around.`,
          evidence: { moves: tr.moves.map((m) => new Date(m).toISOString()), latest: moved, gps: e.gps ?? null, neighbors: e.neighbors ?? [] },
        });
      }
    },
    onRegistryUpdate(e) {
      tracks.delete(e.serial);
    },
  };
}
