import type { FemtoReportEvent, FemtoSessionEvent } from '../../events/index.js';
import type { Rule, RuleContext } from '../rule.js';
import type { DeviceRuntime, DeviceView } from '../state.js';
import { quoted } from '../text.js';

/** A registered device that is not `active` brings a session up or reports. */
export function inactiveDevice(): Rule {
  const check = (e: FemtoSessionEvent | FemtoReportEvent, ctx: RuleContext, dev: DeviceRuntime): void => {
    if (dev.status === undefined || dev.status === 'active') return;
    const d = dev.reg as DeviceView;
    const c = ctx.cfg['inactive-device'];
    const severity = d.status === 'provisioned' ? c.provisionedSeverity : d.status === 'suspended' ? c.suspendedSeverity : c.severity;
    const why =
      d.status === 'lost'
        ? 'it was reported lost: its credential is in unknown hands'
        : d.status === 'decommissioned'
          ? 'it was decommissioned: nobody should be operating it'
          : d.status === 'suspended'
            ? 'it is suspended'
            : 'it was never enrolled';
    ctx.raise({
      rule: 'inactive-device',
      severity,
      t: e.t,
      serial: e.serial,
      summary: `Femtocell ${quoted(e.serial)} is ${d.status} but ${e.type === 'femto.session' ? 'brought a session up' : 'reports'}${e.sourceIp ? ` from ${quoted(e.sourceIp)}` : ''}; ${why}.`,
      evidence: { status: d.status, event: e.type, sourceIp: e.sourceIp ?? null, cellIds: e.cellIds ?? [], eventId: e.id ?? null },
    });
  };
  return {
    id: 'inactive-device',
    onSession: (e, ctx, dev) => {
      if (e.phase === 'up') check(e, ctx, dev);
    },
    onReport: check,
  };
}
