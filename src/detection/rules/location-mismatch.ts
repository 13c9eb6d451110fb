import type { Rule } from '../rule.js';
import { distanceM } from '../geo.js';

/**
 * A GPS fix outside the site radius (plus the fix's own accuracy and a margin), or a
 * neighbour scan that hears too few of the expected macro cells, `consecutiveScans` times
 * in a row: one odd fix or scan is noise, a run of them is a unit somewhere else.
 */
export function locationMismatch(): Rule {
  // Consecutive bad fixes and bad scans per device, in one entry: one lookup per report.
  const runs = new Map<string, { gps: number; scan: number }>();
  return {
    id: 'location-mismatch',
    onReport(e, ctx) {
      const d = ctx.registry.get(e.serial);
      if (!d) return;
      const c = ctx.cfg['location-mismatch'];
      let run = runs.get(e.serial);
      if (!run) runs.set(e.serial, (run = { gps: 0, scan: 0 }));
      if (e.gps && d.siteLat !== null && d.siteLon !== null) {
        const dist = distanceM(d.siteLat, d.siteLon, e.gps.lat, e.gps.lon);
        const allowed = d.siteRadiusM + (e.gps.accuracyM ?? 0) + c.marginM;
        const n = dist > allowed ? run.gps + 1 : 0;
        run.gps = n;
        if (n >= c.consecutiveScans) {
          ctx.raise({
            rule: 'location-mismatch',
            severity: c.severity,
            t: e.t,
            serial: e.serial,
            summary: `${e.serial} reports a GPS fix ${Math.round(dist)} m from its registered site (allowed ${Math.round(allowed)} m incl. accuracy): it is not where it was installed.`,
            evidence: { kind: 'gps', distanceM: Math.round(dist), allowedM: Math.round(allowed), gps: e.gps, site: { lat: d.siteLat, lon: d.siteLon, radiusM: d.siteRadiusM }, consecutive: n },
          });
        }
      }
      if (e.neighbors && e.neighbors.length > 0 && d.expectedNeighbors.size > 0) {
        let heard = 0;
        for (const x of e.neighbors) if (d.expectedNeighbors.has(x)) heard++;
        const overlap = heard / e.neighbors.length;
        const n = overlap < c.minNeighborOverlap ? run.scan + 1 : 0;
        run.scan = n;
        if (n >= c.consecutiveScans) {
          ctx.raise({
            rule: 'location-mismatch',
            severity: c.severity,
            t: e.t,
            serial: e.serial,
            summary: `${e.serial}'s radio scan hears ${heard} of ${e.neighbors.length} cells from its site's expected neighbours, ${n} scans in a row: it is operating away from its site.`,
            evidence: { kind: 'neighbors', neighbors: e.neighbors, expected: [...d.expectedNeighbors], overlap, consecutive: n },
          });
        }
      }
    },
    onRegistryUpdate(e) {
      // A relocation announced by the registry starts over.
      runs.delete(e.serial);
    },
  };
}
