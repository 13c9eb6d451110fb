import { describe, expect, it } from 'vitest';
import { distanceM, surelyWithinM } from './geo.js';

describe('surelyWithinM', () => {
  it('ok/never claims "within" when the haversine distance is above the limit (randomized, near and far)', () => {
    let seed = 42;
    const rnd = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
    let within = 0;
    for (let i = 0; i < 200_000; i++) {
      const lat1 = -89 + 178 * rnd();
      const lon1 = -180 + 360 * rnd();
      // Mostly small offsets (GPS jitter to a few km), some large, some across the antimeridian.
      const scale = [1e-5, 1e-3, 1e-2, 1, 200][i % 5] as number;
      const lat2 = Math.max(-90, Math.min(90, lat1 + (rnd() - 0.5) * scale));
      const lon2 = lon1 + (rnd() - 0.5) * scale;
      const d = distanceM(lat1, lon1, lat2, lon2);
      // Limits around the true distance, where a loose bound would go wrong.
      for (const limit of [d * (1 - 1e-12), d, d * 1.001, d * 1.5, d * 3, 500]) {
        if (surelyWithinM(lat1, lon1, lat2, lon2, limit)) {
          within++;
          expect(d > limit).toBe(false);
        }
      }
    }
    // The bound is useful: it answers most GPS-jitter cases without trigonometry.
    expect(within).toBeGreaterThan(200_000);
  });

  it('fail/far apart, across the antimeridian, or a non-positive limit: not surely within', () => {
    expect(surelyWithinM(37.5, 127, 37.6, 127.1, 500)).toBe(false);
    expect(surelyWithinM(0, 179.9999, 0, -179.9999, 100)).toBe(false);
    expect(surelyWithinM(37.5, 127, 37.5, 127, 0)).toBe(false);
    expect(surelyWithinM(37.5, 127, 37.5001, 127.0001, 500)).toBe(true);
  });
});
