import type { FemtoReportEvent, FemtoSessionEvent } from '../../events/index.js';
import type { Rule, RuleContext } from '../rule.js';
import type { DeviceRuntime } from '../state.js';
import { quoted, quotedList } from '../text.js';

/** A session (or report) from an address outside the device's registered broadband prefixes. */
export function sourceIpMismatch(): Rule {
  const check = (e: FemtoSessionEvent | FemtoReportEvent, ip: string | undefined, ctx: RuleContext, dev: DeviceRuntime): void => {
    // A device sends from the same address event after event: one found inside its prefixes is
    // remembered on its record until the registry entry changes (the engine resets dev.ipOk).
    if (!ip || ip === dev.ipOk) return;
    const d = dev.reg;
    if (!d) return;
    if (d.prefixes.size === 0 || d.prefixes.contains(ip)) {
      dev.ipOk = ip;
      return;
    }
    ctx.raise({
      rule: 'source-ip-mismatch',
      severity: ctx.cfg['source-ip-mismatch'].severity,
      t: e.t,
      serial: e.serial,
      summary: `${quoted(e.serial)} connected from ${quoted(ip)}, outside its registered line (${quotedList(d.ipPrefixes)}): the unit moved or its credential is used elsewhere.`,
      evidence: { sourceIp: ip, ipPrefixes: d.ipPrefixes, event: e.type, eventId: e.id ?? null },
    });
  };
  return {
    id: 'source-ip-mismatch',
    onSession: (e, ctx, dev) => {
      if (e.phase === 'up') check(e, e.sourceIp, ctx, dev);
    },
    onReport: (e, ctx, dev) => check(e, e.sourceIp, ctx, dev),
  };
}
