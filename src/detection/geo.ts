const R = 6_371_008.8; // mean Earth radius, metres
const RAD = Math.PI / 180;

/** Great-circle distance in metres (haversine). */
export function distanceM(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const dLat = (lat2 - lat1) * RAD;
  const dLon = (lon2 - lon1) * RAD;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * RAD) * Math.cos(lat2 * RAD) * Math.sin(dLon / 2) ** 2;
  return 2 * R * Math.asin(Math.min(1, Math.sqrt(a)));
}

/** Jaccard overlap of two sets of ids (1 = same, 0 = disjoint; two empty sets count as 1). */
export function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0 && b.size === 0) return 1;
  let inter = 0;
  for (const x of a) if (b.has(x)) inter++;
  return inter / (a.size + b.size - inter);
}

/**
 * True when the great-circle distance is surely at most `limitM`, from a bound that needs no
 * trigonometry (every report of the fleet asks this twice; a GPS jitter of tens of metres is
 * far below limits of hundreds). Haversine: a = sin²(Δφ/2) + cos φ1 cos φ2 sin²(Δλ/2) ≤
 * (Δφ/2)² + (Δλ/2)² = s², and d = 2R asin(√a) ≤ 2R asin(s) ≤ 2R s / √(1 − s²). The relative
 * margin of 1e-9 dwarfs the rounding of either formula, so `distanceM(...) > limitM` is false
 * whenever this is true. False means only "compute the distance".
 */
export function surelyWithinM(lat1: number, lon1: number, lat2: number, lon2: number, limitM: number): boolean {
  const dLat = (lat2 - lat1) * RAD;
  const dLon = (lon2 - lon1) * RAD;
  const s2 = (dLat * dLat + dLon * dLon) / 4;
  if (!(s2 < 0.25)) return false;
  return 2 * R * Math.sqrt(s2 / (1 - s2)) < limitM * (1 - 1e-9);
}
