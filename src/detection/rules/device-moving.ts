import type { Rule } from '../rule.js';
import { trackOf, TR_CELLS, TR_FIX, TR_LENS, TR_ROOM, type DeviceRuntime } from '../state.js';
import { distanceM, surelyWithinM } from '../geo.js';
import { quoted, quotedList } from '../text.js';

/** Scans up to this many cells (the norm: a handful of neighbours) are searched linearly. */
const SMALL_SCAN = 16;
/** the least room for scans a track is given when it must grow or shrink */
const SCAN_ROOM = 24;

/** The held scans' cells (tr[at, end)) as a set (scans of more than SMALL_SCAN cells, and the exact union: rare). */
function heldSet(tr: Float64Array, at: number, end: number): Set<number> {
  const seen = new Set<number>();
  for (let i = at; i < end; i++) seen.add(tr[i] as number);
  return seen;
}

/**
 * Keeps `scan[0, m)` as the newest scan of the device's track, dropping the oldest. The track
 * is replaced when the scans outgrow it or leave most of it unused (a device sending one scan
 * of a thousand cells must not keep that much for ever).
 */
function keep(dev: DeviceRuntime, tr: Float64Array, scan: Int32Array, m: number): void {
  const n0 = tr[TR_LENS] as number;
  const n1 = tr[TR_LENS + 1] as number;
  const n2 = tr[TR_LENS + 2] as number;
  const base = TR_CELLS + (tr[TR_ROOM] as number);
  const kept = n1 + n2 + m;
  let to = tr;
  if (base + kept > tr.length || (tr.length - base > 4 * SCAN_ROOM && 4 * kept < tr.length - base)) {
    to = new Float64Array(base + kept + SCAN_ROOM);
    to.set(tr.subarray(0, base));
    dev.track = to;
  }
  // The two newer scans move down over the oldest (copied forwards: the target is below the source).
  for (let i = 0; i < n1 + n2; i++) to[base + i] = tr[base + n0 + i] as number;
  const at = base + n1 + n2;
  for (let i = 0; i < m; i++) to[at + i] = scan[i] as number;
  to[TR_LENS] = n1;
  to[TR_LENS + 1] = n2;
  to[TR_LENS + 2] = m;
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
      // The track lives on the device's record (dev.track).
      const tr = trackOf(dev);
      // A move, as evidence (cell ids as sent) and for the summary (quoted: a rogue chooses the
      // neighbour list it reports).
      let gpsMove: string | undefined;
      let scanMove: string | undefined;
      let scanTold: string | undefined;
      // The fix as numbers (ctx.gpsFix): e.gps is read only into evidence.
      const fix = ctx.gpsFix;
      if (fix[0] === 1) {
        const acc = fix[3] as number;
        const toLat = fix[1] as number;
        const toLon = fix[2] as number;
        const lat = tr[TR_FIX + 1] as number;
        const lon = tr[TR_FIX + 2] as number;
        const limit = (tr[TR_FIX + 3] as number) + acc + c.minMoveM;
        // The exact distance only when the cheap bound cannot rule a move out.
        if (tr[TR_FIX] === 1 && !surelyWithinM(lat, lon, toLat, toLon, limit)) {
          const d = distanceM(lat, lon, toLat, toLon);
          if (d > limit) gpsMove = `GPS moved ${Math.round(d)} m`;
        }
        tr[TR_FIX] = 1;
        tr[TR_FIX + 1] = toLat;
        tr[TR_FIX + 2] = toLon;
        tr[TR_FIX + 3] = acc;
      }
      const len = ctx.neighborCount;
      if (len > 0) {
        // The scan is kept as its distinct cells, as cell numbers (the engine interned them:
        // ctx.neighborIds; e.neighbors is read only into evidence), so the last three scans are
        // a few numbers on the track. The overlap is counted while doing so, and the exact union
        // is computed only when the overlap could be below the bound.
        const nb = ctx.neighborIds;
        if (scan.length < len) scan = new Int32Array(len);
        const n0 = tr[TR_LENS] as number;
        const n1 = tr[TR_LENS + 1] as number;
        const n2 = tr[TR_LENS + 2] as number;
        const base = TR_CELLS + (tr[TR_ROOM] as number);
        const end = base + n0 + n1 + n2;
        let m = 0;
        let inter = 0;
        if (len > SMALL_SCAN || n0 > SMALL_SCAN || n1 > SMALL_SCAN || n2 > SMALL_SCAN) {
          const held = heldSet(tr, base, end);
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
            for (let k = base; k < end; k++) {
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
              union = heldSet(tr, base, end).size + m - inter;
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
        keep(dev, tr, scan, m);
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
      const tr = dev?.track;
      if (dev && tr) {
        // The fix and the scans are forgotten (location-mismatch's part of the track stays).
        tr[TR_FIX] = 0;
        tr[TR_LENS] = tr[TR_LENS + 1] = tr[TR_LENS + 2] = 0;
        dev.moves = undefined;
      }
    },
  };
}
