import type { Rule } from '../rule.js';
import { distanceM } from '../geo.js';

interface Track {
  fix?: { lat: number; lon: number; acc: number; t: number };
  scans: Set<string>[];
  moves: number[];
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
      if (!tr) tracks.set(e.serial, (tr = { scans: [], moves: [] }));
      const moved: string[] = [];
      if (e.gps) {
        const acc = e.gps.accuracyM ?? 0;
        if (tr.fix) {
          const d = distanceM(tr.fix.lat, tr.fix.lon, e.gps.lat, e.gps.lon);
          if (d > tr.fix.acc + acc + c.minMoveM) moved.push(`GPS moved ${Math.round(d)} m`);
        }
        tr.fix = { lat: e.gps.lat, lon: e.gps.lon, acc, t: e.t };
      }
      if (e.neighbors && e.neighbors.length > 0) {
        const scan = new Set(e.neighbors);
        if (tr.scans.length > 0) {
          let inter = 0;
          let union = 0;
          const seen = new Set<string>();
          for (const s of tr.scans) for (const x of s) seen.add(x);
          for (const x of scan) if (seen.has(x)) inter++;
          union = seen.size + scan.size - inter;
          if (inter / union <= c.maxNeighborJaccard && inter === 0) moved.push(`scan ${[...scan].join(' ')} shares nothing with the last ${tr.scans.length} scans`);
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
