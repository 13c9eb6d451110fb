import type { Rule } from '../rule.js';
import { quoted } from '../text.js';

const SCAN_EVERY_MS = 10 * 60_000;

/** An `active` device not seen for longer than `idleMs` (counted from the start of the stream for one never seen). */
export function idleDevice(): Rule {
  let nextScan = -Infinity;
  const flagged = new Map<string, number>();
  return {
    id: 'idle-device',
    onTick(t, ctx, final) {
      // Scans are throttled, but the end of input always scans: a replay must not miss a device
      // that crossed the limit less than one scan interval before its last event.
      if (t < nextScan && !final) return;
      nextScan = t + SCAN_EVERY_MS;
      const c = ctx.cfg['idle-device'];
      for (const d of ctx.registry.devices.values()) {
        if (d.status !== 'active') continue;
        const last = ctx.runtime(d.serial)?.lastSeen ?? ctx.startT;
        if (t - last <= c.idleMs) continue;
        if ((flagged.get(d.serial) ?? -Infinity) >= last) continue;
        flagged.set(d.serial, last);
        ctx.raise({
          rule: 'idle-device',
          severity: c.severity,
          t,
          serial: d.serial,
          summary: `${quoted(d.serial)} is active in the registry but has not been seen for ${Math.round((t - last) / 3_600_000)} h: recover it or mark it lost or decommissioned so its credential stops working.`,
          evidence: { lastSeen: new Date(last).toISOString(), idleHours: Math.round((t - last) / 3_600_000) },
        });
      }
    },
  };
}
