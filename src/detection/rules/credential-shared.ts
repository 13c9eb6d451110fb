import type { Rule } from '../rule.js';
import { retireMovedSessions, sessionLastSeen, sessionLive } from '../state.js';
import { quoted } from '../text.js';

/**
 * One certificate used by two serials, or one serial holding sessions from two source
 * addresses at once. A reboot (down, then up from a new address) is not concurrency. A
 * session without a session id whose address has not been seen for `sessionLivenessMs` is
 * treated as gone (a crashed unit never sends its `down`); one with a session id (a gateway's,
 * which sends the `down`) lasts until its `down`, or `gatewaySessionMaxMs` of silence. A
 * relocation to new lines ends the sessions from the old line, unless their address is seen
 * again after it (`sessionLive`).
 */
export function credentialShared(): Rule {
  const fpSeen = new Map<string, string>();
  return {
    id: 'credential-shared',
    onSession(e, ctx, rt) {
      if (e.phase !== 'up') return;
      const c = ctx.cfg['credential-shared'];
      if (e.certFingerprint) {
        const owner = ctx.registry.fingerprintOwner(e.certFingerprint) ?? fpSeen.get(e.certFingerprint);
        if (owner !== undefined && owner !== e.serial) {
          ctx.raise({
            rule: 'credential-shared',
            severity: c.severity,
            t: e.t,
            serial: e.serial,
            summary: `Certificate ${quoted(e.certFingerprint, 16)} of ${quoted(owner)} was presented by ${quoted(e.serial)}: one credential, two devices. Revoke it and re-enroll both with their own keys.`,
            evidence: { kind: 'certificate', certFingerprint: e.certFingerprint, otherSerial: owner, sourceIp: e.sourceIp, eventId: e.id ?? null },
          });
        }
        if (!fpSeen.has(e.certFingerprint)) fpSeen.set(e.certFingerprint, e.serial);
      }
      const key = e.sessionId ?? e.sourceIp;
      const bounds = { livenessMs: c.sessionLivenessMs, gatewayMs: c.gatewaySessionMaxMs };
      for (const [otherKey, s] of rt.sessions) {
        if (otherKey === key || s.ip === e.sourceIp || !sessionLive(rt, s, e.t, bounds)) continue;
        const lastSeen = sessionLastSeen(rt, s);
        ctx.raise({
          rule: 'credential-shared',
          severity: c.severity,
          t: e.t,
          serial: e.serial,
          summary: `${quoted(e.serial)} brought a session up from ${quoted(e.sourceIp)} while its session from ${quoted(s.ip)} is still live: two devices are using one identity. Quarantine it and find the clone.`,
          evidence: { kind: 'concurrent-sessions', sourceIp: e.sourceIp, otherSourceIp: s.ip, otherSessionUp: new Date(s.upAt).toISOString(), otherLastSeen: new Date(lastSeen).toISOString(), cellIds: e.cellIds ?? [], eventId: e.id ?? null },
        });
        return;
      }
    },
    onRegistryUpdate(e, before, after, ctx) {
      // Called for relocations only. The move's time in the engine's order: a change put in force
      // at once (live, older than the watermark, or with no time) comes after every event the
      // device has sent so far, so only a later sighting of an old address brings its session back.
      const rt = ctx.runtime(after.serial);
      if (!before || !rt || rt.sessions.size === 0) return;
      retireMovedSessions(rt, before, after, Math.max(e.t, rt.lastSeen));
    },
  };
}
