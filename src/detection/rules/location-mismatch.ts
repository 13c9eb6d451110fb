import type { Rule } from '../rule.js';
import { distanceM, surelyWithinM } from '../geo.js';
import { quoted } from '../text.js';

/**
 * A GPS fix outside the site radius (plus the fix's own accuracy and a margin), or a
 * neighbour scan that hears too few of the expected macro cells, `consecutiveScans` times
 * in a row: one odd fix or scan is noise, a run of them is a unit somewhere else.
 */
export function locationMismatch(): Rule {
  return {
    id: 'location-mismatch',
    onReport(e, ctx, dev) {
      // The runs of consecutive bad fixes and scans live on the device's record (dev.locGps, dev.locScan).
      const d = dev.reg;
      if (!d) return;
      const c = ctx.cfg['location-mismatch'];
      if (e.gps && d.siteLat !== null && d.siteLon !== null) {
        const allowed = d.siteRadiusM + (e.gps.accuracyM ?? 0) + c.marginM;
        // The exact distance only when the cheap bound cannot rule a mismatch out.
        const dist = surelyWithinM(d.siteLat, d.siteLon, e.gps.lat, e.gps.lon, allowed) ? 0 : distanceM(d.siteLat, d.siteLon, e.gps.lat, e.gps.lon);
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
      if (e.neighbors && e.neighbors.length > 0 && d.expectedNeighbors.size > 0) {
        let heard = 0;
        // As numbers: the expected cells are a handful, scanned in one small array; a long list
        // (unusual) is asked of the registry's set.
        if (d.expectedNeighbors.size <= 32) {
          const exp = (dev.expectedNos ??= Int32Array.from(d.expectedNeighbors, ctx.cellNo));
          const nb = ctx.neighborIds;
          for (let i = 0; i < e.neighbors.length; i++) {
            const x = nb[i] as number;
            for (let j = 0; j < exp.length; j++) {
              if (exp[j] === x) {
                heard++;
                break;
              }
            }
          }
        } else for (const x of e.neighbors) if (d.expectedNeighbors.has(x)) heard++;
        const overlap = heard / e.neighbors.length;
        const n = overlap < c.minNeighborOverlap ? dev.locScan + 1 : 0;
        dev.locScan = n;
        if (n >= c.consecutiveScans) {
          ctx.raise({
            rule: 'location-mismatch',
            severity: c.severity,
            t: e.t,
            serial: e.serial,
            summary: `The radio scan of ${quoted(e.serial)} hears ${heard} of ${e.neighbors.length} cells from its site's expected neighbours, ${n} scans in a row: it is operating away from its site.`,
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
