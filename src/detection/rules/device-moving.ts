import type { Rule } from '../rule.js';
import { MV_CELLS, MV_FIX, MV_LENS } from '../state.js';
import { distanceM, surelyWithinM } from '../geo.js';
import { quoted, quotedList } from '../text.js';

/** Scans up to this many cells (the norm: a handful of neighbours) are searched linearly. */
const SMALL_SCAN = 16;
/** cells a new track has room for (three scans of a handful of neighbours) */
const TRACK_CELLS = 24;

/** A track with no fix and no scan (layout: state.ts, MV_*). */
function newTrack(): Float64Array {
  return new Float64Array(MV_CELLS + TRACK_CELLS);
}

/** The held scans' cells as a set (scans of more than SMALL_SCAN cells, and the exact union: rare). */
function heldSet(tr: Float64Array, end: number): Set<number> {
  const seen = new Set<number>();
  for (let i = MV_CELLS; i < end; i++) seen.add(tr[i] as number);
  return seen;
}

/**
 * Keeps `scan[0, m)` as the newest scan, dropping the oldest. Returns the track, a new array
 * when the scans outgrew it or left most of it unused (a device sending one scan of a thousand
 * cells must not keep that much for ever).
 */
function keep(tr: Float64Array, scan: Int32Array, m: number): Float64Array {
  const n0 = tr[MV_LENS] as number;
  const n1 = tr[MV_LENS + 1] as number;
  const n2 = tr[MV_LENS + 2] as number;
  const need = MV_CELLS + n1 + n2 + m;
  let to = tr;
  if (need > tr.length || (tr.length > MV_CELLS + 4 * TRACK_CELLS && 4 * need < tr.length)) {
    to = new Float64Array(need + TRACK_CELLS);
    for (let i = 0; i < MV_LENS; i++) to[i] = tr[i] as number;
  }
  // The two newer scans move down over the oldest (copied forwards: the target is below the source).
  for (let i = 0; i < n1 + n2; i++) to[MV_CELLS + i] = tr[MV_CELLS + n0 + i] as number;
  const at = MV_CELLS + n1 + n2;
  for (let i = 0; i < m; i++) to[at + i] = scan[i] as number;
  to[MV_LENS] = n1;
  to[MV_LENS + 1] = n2;
  to[MV_LENS + 2] = m;
  return to;
}

/**
 * Successive GPS fixes, or successive neighbour scans, that show the device travelling.
 * A scan counts as a move when it shares (almost) nothing with the cells heard in the last
 * three scans: a unit at home hears subsets of the same few macro cells. `moves` moves
 * within `windowMs` raise the alert. A relocation announced by the registry starts over.
 */
export function deviceMoving(): Rule {
  /** the scan being judged, as its distinct cells (reused: valid only within one report) */
  let scan = new Int32Array(64);
  return {
    id: 'device-moving',
    onReport(e, ctx, dev) {
      // Hot path (every report of the fleet): nothing is allocated unless a move is found.
      const c = ctx.cfg['device-moving'];
      // The track lives on the device's record (dev.moving).
      let tr = dev.moving;
      if (!tr) dev.moving = tr = newTrack();
      // A move, as evidence (cell ids as sent) and for the summary (quoted: a rogue chooses the
      // neighbour list it reports).
      let gpsMove: string | undefined;
      let scanMove: string | undefined;
      let scanTold: string | undefined;
      const gps = e.gps;
      if (gps) {
        const acc = gps.accuracyM ?? 0;
        const lat = tr[MV_FIX + 1] as number;
        const lon = tr[MV_FIX + 2] as number;
        const limit = (tr[MV_FIX + 3] as number) + acc + c.minMoveM;
        // The exact distance only when the cheap bound cannot rule a move out.
        if (tr[MV_FIX] === 1 && !surelyWithinM(lat, lon, gps.lat, gps.lon, limit)) {
          const d = distanceM(lat, lon, gps.lat, gps.lon);
          if (d > limit) gpsMove = `GPS moved ${Math.round(d)} m`;
        }
        tr[MV_FIX] = 1;
        tr[MV_FIX + 1] = gps.lat;
        tr[MV_FIX + 2] = gps.lon;
        tr[MV_FIX + 3] = acc;
      }
      const neighbors = e.neighbors;
      if (neighbors && neighbors.length > 0) {
        // The scan is kept as its distinct cells, as cell numbers (the engine interned them:
        // ctx.neighborIds), so the last three scans are a few numbers on the track. The overlap
        // is counted while doing so, and the exact union is computed only when the overlap could
        // be below the bound.
        const len = neighbors.length;
        const nb = ctx.neighborIds;
        if (scan.length < len) scan = new Int32Array(len);
        const n0 = tr[MV_LENS] as number;
        const n1 = tr[MV_LENS + 1] as number;
        const n2 = tr[MV_LENS + 2] as number;
        const end = MV_CELLS + n0 + n1 + n2;
        let m = 0;
        let inter = 0;
        if (len > SMALL_SCAN || n0 > SMALL_SCAN || n1 > SMALL_SCAN || n2 > SMALL_SCAN) {
          const held = heldSet(tr, end);
          const inScan = new Set<number>();
          for (let i = 0; i < len; i++) {
            const x = nb[i] as number;
            if (inScan.has(x)) continue;
            inScan.add(x);
            scan[m++] = x;
            if (held.has(x)) inter++;
          }
        } else {
          next: for (let i = 0; i < len; i++) {
            const x = nb[i] as number;
            for (let j = 0; j < m; j++) if (scan[j] === x) continue next;
            scan[m++] = x;
            for (let k = MV_CELLS; k < end; k++) {
              if (tr[k] === x) {
                inter++;
                break;
              }
            }
          }
        }
        const count = (n0 > 0 ? 1 : 0) + (n1 > 0 ? 1 : 0) + (n2 > 0 ? 1 : 0);
        if (count > 0) {
          let union = 0;
          let near = inter === 0;
          if (!near) {
            // bound >= union, so inter / bound <= the overlap: when even that clears the bound, no move.
            const bound = m - inter + n0 + n1 + n2;
            if (inter / bound < c.maxNeighborJaccard) {
              union = heldSet(tr, end).size + m - inter;
              near = inter / union < c.maxNeighborJaccard;
            }
          }
          // Disjoint is always a move; a near-disjoint scan is one when its Jaccard overlap is below
          // the configured bound (a subset of the cells heard before has a high overlap and is not).
          if (near) {
            const shares = `shares ${inter === 0 ? 'nothing' : `${inter} of ${union} cells`} with the last ${count} scans`;
            const names: string[] = [];
            for (let i = 0; i < m; i++) names.push(ctx.cellName(scan[i] as number));
            scanMove = `scan ${names.join(' ')} ${shares}`;
            scanTold = `scan of ${quotedList(names)} ${shares}`;
          }
        }
        const kept = keep(tr, scan, m);
        if (kept !== tr) dev.moving = kept;
      }
      if (gpsMove === undefined && scanMove === undefined) return;
      const moved: string[] = [];
      const told: string[] = [];
      if (gpsMove !== undefined) {
        moved.push(gpsMove);
        told.push(gpsMove);
      }
      if (scanMove !== undefined) {
        moved.push(scanMove);
        told.push(scanTold as string);
      }
      const moves = (dev.moves ??= []);
      moves.push(e.t);
      while (moves.length > 0 && (moves[0] as number) < e.t - c.windowMs) moves.shift();
      if (moves.length >= c.moves) {
        ctx.raise({
          rule: 'device-moving',
          severity: c.severity,
          t: e.t,
          serial: e.serial,
          summary: `${quoted(e.serial)} moved ${moves.length} times in ${Math.round(c.windowMs / 60_000)} min (${told.join('; ')}): a femtocell is fixed equipment; this one is being driven around.`,
          evidence: { moves: moves.map((m) => new Date(m).toISOString()), latest: moved, gps: e.gps ?? null, neighbors: e.neighbors ?? [] },
        });
      }
    },
    onRegistryUpdate(e, _before, _after, ctx) {
      const dev = ctx.runtime(e.serial);
      if (dev) {
        dev.moving = undefined;
        dev.moves = undefined;
      }
    },
  };
}
