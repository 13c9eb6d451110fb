import { describe, expect, it } from 'vitest';
import { DistinctImsis } from './distinct-imsis.js';
import { foldWindow, levelAt, type SurgeWindow } from './cell-records.js';

const HOUR = 3_600_000;
const settings = { baselineFactor: 4, maxDailyGrowth: 3, levelHalfLifeMs: HOUR, warmupWindows: 0 };
const window = (start: number, n: number, fired: boolean, baseline: number, levelT: number): SurgeWindow => ({
  start,
  imsis: new DistinctImsis(Array.from({ length: n }, (_, i) => `i${i}`)),
  fired,
  settings,
  baseline,
  levelT,
  windows: 5,
  week: undefined,
  registered: true,
  tainted: false,
});

describe('foldWindow: the learned level', () => {
  it('fail/a level faded to nothing (months quiet, a one-hour half-life) still rises after a window that surged', () => {
    const w = window(200 * 24 * HOUR, 50, true, 20, 0);
    expect(levelAt(w, w.start)).toBe(0);
    foldWindow(w, 0.2);
    expect(w.baseline).toBe(4);
    expect(Number.isFinite(w.baseline)).toBe(true);
  });

  it('ok/a quiet window does not lift the level past maxDailyGrowth per day', () => {
    const w = window(24 * HOUR, 100, false, 10, 0);
    foldWindow(w, 0.2);
    // one day since the level was last set: at most 3x, from what it was (not from its faded value)
    expect(w.baseline).toBe(30);
  });
});
