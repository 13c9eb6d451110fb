import { SeqHeap } from '../../core/heap.js';
import type { Rule, RuleContext } from '../rule.js';
import { quoted } from '../text.js';

const SCAN_EVERY_MS = 10 * 60_000;

/**
 * An `active` device not seen for longer than `idleMs` (counted from the start of the stream for one never seen).
 *
 * A scan does not visit the whole registry (every ten minutes of event time, for every device):
 * the devices still seen lately wait in a min-heap by the last sighting it knows of, which is
 * never later than their real one (sightings only move forward), so the scan takes from it only
 * those that may have gone silent and puts back, with their new time, those seen since. The
 * silent ones wait in `silent`, looked at in every scan until they are seen again: they are
 * judged as before, in registry order, on the status and flag of the moment.
 */
export function idleDevice(): Rule {
  let nextScan = -Infinity;
  const flagged = new Map<string, number>();
  /** each registered serial's position in the registry's order (the order findings are raised in) */
  const order = new Map<string, number>();
  let knownVersion = -1;
  // The heap of serials, keyed by the last sighting it knows of: SeqHeap's number is that time
  // (equal times come out in any order: the silent are sorted into registry order below).
  const heap = new SeqHeap<string>((_a, lastA, _b, lastB) => lastA < lastB);
  let silent: string[] = [];

  const lastOf = (serial: string, ctx: RuleContext): number => ctx.runtime(serial)?.lastSeen ?? ctx.startT;

  return {
    id: 'idle-device',
    onTick(t, ctx, final) {
      // Scans are throttled, but the end of input always scans: a replay must not miss a device
      // that crossed the limit less than one scan interval before its last event.
      if (t < nextScan && !final) return;
      nextScan = t + SCAN_EVERY_MS;
      const c = ctx.cfg['idle-device'];
      // Devices put in the registry since the last scan join the heap (the registry only grows).
      if (knownVersion !== ctx.registry.version) {
        knownVersion = ctx.registry.version;
        for (const serial of ctx.registry.devices.keys()) {
          if (order.has(serial)) continue;
          order.set(serial, order.size);
          heap.push(serial, lastOf(serial, ctx));
        }
      }
      // Silent now: those silent at the last scan and not seen since, and those of the heap
      // whose last sighting is older than the limit; the others go (back) to the heap.
      const idle: string[] = [];
      for (const serial of silent) {
        const last = lastOf(serial, ctx);
        if (t - last > c.idleMs) idle.push(serial);
        else heap.push(serial, last);
      }
      while (heap.size > 0 && t - heap.peekSeq() > c.idleMs) {
        const serial = heap.pop();
        const last = lastOf(serial, ctx);
        if (t - last > c.idleMs) idle.push(serial);
        else heap.push(serial, last);
      }
      idle.sort((a, b) => (order.get(a) as number) - (order.get(b) as number));
      silent = idle;
      for (const serial of idle) {
        const d = ctx.registry.get(serial);
        if (d === undefined || d.status !== 'active') continue;
        const last = lastOf(serial, ctx);
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
