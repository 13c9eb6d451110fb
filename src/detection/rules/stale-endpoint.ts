import type { Rule } from '../rule.js';

/** A device connects to a gateway address that was rotated out (its grace period over). */
export function staleEndpoint(): Rule {
  let retired: Map<string, number> | null = null;
  return {
    id: 'stale-endpoint',
    onSession(e, ctx) {
      if (e.phase !== 'up' || !e.endpoint) return;
      retired ??= new Map(ctx.cfg['stale-endpoint'].retired.map((r) => [r.endpoint, Date.parse(r.retiredAt)]));
      const at = retired.get(e.endpoint);
      if (at === undefined || Number.isNaN(at) || e.t < at) return;
      ctx.raise({
        rule: 'stale-endpoint',
        severity: ctx.cfg['stale-endpoint'].severity,
        t: e.t,
        serial: e.serial,
        summary: `${e.serial} connected to ${e.endpoint}, a gateway address retired at ${new Date(at).toISOString()}: a live device would have learned the new address; this one is replaying old configuration.`,
        evidence: { endpoint: e.endpoint, retiredAt: new Date(at).toISOString(), sourceIp: e.sourceIp, eventId: e.id ?? null },
      });
    },
  };
}
