import type { Rule } from '../rule.js';
import { distanceM, surelyWithinM } from '../geo.js';
import { resizeTrack, trackOf, TR_CELLS, TR_EXPECTED, TR_LENS, TR_ROOM, TR_SITE, type DeviceRuntime, type DeviceView } from '../state.js';
import { quoted } from '../text.js';

/** Expected neighbours up to this many are held as cell numbers on the device's track. */
const HELD_EXPECTED = 32;

/** Fills the track's site part from the registry entry (layout: state.ts, TR_*); the expected cells are interned at the first scan. */
function siteOf(dev: DeviceRuntime, d: DeviceView): Float64Array {
  let tr = trackOf(dev);
  const size = d.expectedNeighbors.size;
  const room = size <= HELD_EXPECTED ? size : 0;
  if (room !== tr[TR_ROOM]) {
    const scans = (tr[TR_LENS] as number) + (tr[TR_LENS + 1] as number) + (tr[TR_LENS + 2] as number);
    tr = resizeTrack(dev, tr, room, Math.max(scans, tr.length - TR_CELLS - (tr[TR_ROOM] as number)));
  }
  const known = d.siteLat !== null && d.siteLon !== null;
  tr[TR_SITE] = known ? 1 : 0;
  tr[TR_SITE + 1] = d.siteLat ?? NaN;
  tr[TR_SITE + 2] = d.siteLon ?? NaN;
  tr[TR_SITE + 3] = d.siteRadiusM;
  tr[TR_EXPECTED] = size === 0 ? 0 : size <= HELD_EXPECTED ? -2 : -1;
  dev.siteFresh = true;
  return tr;
}

/**
 * A GPS fix outside the site radius (plus the fix's own accuracy and a margin), or a
 * neighbour scan that hears too few of the expected macro cells, `consecutiveScans` times
 * in a row: one odd fix or scan is noise, a run of them is a unit somewhere else.
 */
export function locationMismatch(): Rule {
  return {
    id: 'location-mismatch',
    onReport(e, ctx, dev) {
      // The runs of consecutive bad fixes and scans live on the device's record (dev.locGps,
      // dev.locScan), and so does what this reads of the registry entry (dev.track): every report
      // of the fleet comes here.
      const d = dev.reg;
      if (d === undefined) return;
      const c = ctx.cfg['location-mismatch'];
      const loc = dev.siteFresh ? (dev.track as Float64Array) : siteOf(dev, d);
      // The fix as numbers (ctx.gpsFix): e.gps is read only into evidence.
      const fix = ctx.gpsFix;
      if (fix[0] === 1 && loc[TR_SITE] === 1) {
        const siteLat = loc[TR_SITE + 1] as number;
        const siteLon = loc[TR_SITE + 2] as number;
        const lat = fix[1] as number;
        const lon = fix[2] as number;
        const allowed = (loc[TR_SITE + 3] as number) + (fix[3] as number) + c.marginM;
        // The exact distance only when the cheap bound cannot rule a mismatch out.
        const dist = surelyWithinM(siteLat, siteLon, lat, lon, allowed) ? 0 : distanceM(siteLat, siteLon, lat, lon);
        const n = dist > allowed ? dev.locGps + 1 : 0;
        dev.locGps = n;
        if (n >= c.consecutiveScans) {
          ctx.raise({
            rule: 'location-mismatch',
            severity: c.severity,
            t: e.t,
            serial: e.serial,
            summary: `${quoted(e.serial)} reports a GPS fix ${Math.round(dist)} m from its registered site (allowed ${Math.round(allowed)} m incl. accuracy): it is not where it was installed.`,
            evidence: { kind: 'gps', distanceM: Math.round(dist), allowedM: Math.round(allowed), gps: e.gps, site: { lat: d.siteLat, lon: d.siteLon, radiusM: d.siteRadiusM }, consecutive: n },
          });
        }
      }
      // The scan as the engine's cell numbers (ctx.neighborIds): e.neighbors is read only into evidence.
      const count = ctx.neighborCount;
      let expected = loc[TR_EXPECTED] as number;
      if (count > 0 && expected !== 0) {
        let heard = 0;
        // As numbers: the expected cells are a handful, scanned in one small array; a long list
        // (unusual) is asked of the registry's set.
        if (expected === -2) {
          let i = TR_CELLS;
          for (const x of d.expectedNeighbors) loc[i++] = ctx.cellNo(x);
          loc[TR_EXPECTED] = expected = d.expectedNeighbors.size;
        }
        const nb = ctx.neighborIds;
        if (expected > 0) {
          const end = TR_CELLS + expected;
          for (let i = 0; i < count; i++) {
            const x = nb[i] as number;
            for (let j = TR_CELLS; j < end; j++) {
              if (loc[j] === x) {
                heard++;
                break;
              }
            }
          }
        } else for (let i = 0; i < count; i++) if (d.expectedNeighbors.has(ctx.cellName(nb[i] as number))) heard++;
        const overlap = heard / count;
        const n = overlap < c.minNeighborOverlap ? dev.locScan + 1 : 0;
        dev.locScan = n;
        if (n >= c.consecutiveScans) {
          ctx.raise({
            rule: 'location-mismatch',
            severity: c.severity,
            t: e.t,
            serial: e.serial,
            summary: `The radio scan of ${quoted(e.serial)} hears ${heard} of ${count} cells from its site's expected neighbours, ${n} scans in a row: it is operating away from its site.`,
            evidence: { kind: 'neighbors', neighbors: e.neighbors, expected: [...d.expectedNeighbors], overlap, consecutive: n },
          });
        }
      }
    },
    onRegistryUpdate(e, _before, _after, ctx) {
      // A relocation announced by the registry starts over.
      const dev = ctx.runtime(e.serial);
      if (dev) {
        dev.locGps = 0;
        dev.locScan = 0;
      }
    },
  };
}
