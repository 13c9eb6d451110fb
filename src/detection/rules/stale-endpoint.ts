import type { FemtoSessionEvent } from '../../events/index.js';
import type { Rule } from '../rule.js';
import { quoted } from '../text.js';

/**
 * A `femto.session` may carry `endpointRetiredAt` (an added field, FORMATS.md §1 allows
 * them): femtoguard's admission sets it when a device used a gateway address whose grace
 * period is over, so the live engine learns retired addresses from the rotation state, not
 * only from `rules['stale-endpoint'].retired` in the config.
 */
type Session = FemtoSessionEvent & { endpointRetiredAt?: unknown };

/** A device connects to a gateway address that was rotated out (its grace period over). */
export function staleEndpoint(): Rule {
  let retired: Map<string, number> | null = null;
  return {
    id: 'stale-endpoint',
    onSession(e: Session, ctx) {
      if (e.phase !== 'up' || !e.endpoint) return;
      retired ??= new Map(ctx.cfg['stale-endpoint'].retired.map((r) => [r.endpoint, Date.parse(r.retiredAt)]));
      let at = retired.get(e.endpoint);
      if (at === undefined && typeof e.endpointRetiredAt === 'string') at = Date.parse(e.endpointRetiredAt);
      if (at === undefined || Number.isNaN(at) || e.t < at) return;
      ctx.raise({
        rule: 'stale-endpoint',
        severity: ctx.cfg['stale-endpoint'].severity,
        t: e.t,
        serial: e.serial,
        summary: `${quoted(e.serial)} connected to ${quoted(e.endpoint)}, a gateway address retired at ${new Date(at).toISOString()}: a live device would have learned the new address; this one is replaying old configuration.`,
        evidence: { endpoint: e.endpoint, retiredAt: new Date(at).toISOString(), sourceIp: e.sourceIp, eventId: e.id ?? null },
      });
    },
  };
}
