import type { FemtoReportEvent, FemtoSessionEvent } from '../../events/index.js';
import type { Rule, RuleContext } from '../rule.js';
import type { DeviceRuntime } from '../state.js';
import { quoted } from '../text.js';

/** A session or report from a serial that no registry entry holds. */
export function unregisteredDevice(): Rule {
  const check = (e: FemtoSessionEvent | FemtoReportEvent, ctx: RuleContext, dev: DeviceRuntime): void => {
    // Compared with undefined, not tested for truth: that would load the entry itself (a cold
    // object on every report of the fleet) only to learn it is an object.
    if (dev.reg !== undefined) return;
    ctx.raise({
      rule: 'unregistered-device',
      severity: ctx.cfg['unregistered-device'].severity,
      t: e.t,
      serial: e.serial,
      summary: `Femtocell ${quoted(e.serial)} is not in the registry but ${e.type === 'femto.session' ? 'brought a session up' : 'reports'}${e.sourceIp ? ` from ${quoted(e.sourceIp)}` : ''}: block it and find where its credential came from.`,
      evidence: { event: e.type, sourceIp: e.sourceIp ?? null, cellIds: e.cellIds ?? [], eventId: e.id ?? null },
    });
  };
  return {
    id: 'unregistered-device',
    onSession: (e, ctx, dev) => {
      if (e.phase === 'up') check(e, ctx, dev);
    },
    onReport: check,
  };
}
