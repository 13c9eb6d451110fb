import type { Rule } from '../rule.js';

/**
 * One certificate used by two serials, or one serial holding sessions from two source
 * addresses at once. A reboot (down, then up from a new address) is not concurrency; a
 * session whose address has not been seen for `sessionLivenessMs` is treated as gone (a
 * crashed unit never sends its `down`).
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
            summary: `Certificate ${e.certFingerprint.slice(0, 16)}… of ${owner} was presented by ${e.serial}: one credential, two devices. Revoke it and re-enroll both with their own keys.`,
            evidence: { kind: 'certificate', certFingerprint: e.certFingerprint, otherSerial: owner, sourceIp: e.sourceIp, eventId: e.id ?? null },
          });
        }
        if (!fpSeen.has(e.certFingerprint)) fpSeen.set(e.certFingerprint, e.serial);
      }
      const key = e.sessionId ?? e.sourceIp;
      for (const [otherKey, s] of rt.sessions) {
        if (otherKey === key || s.ip === e.sourceIp) continue;
        const lastSeen = Math.max(s.upAt, rt.ipSeen.get(s.ip) ?? 0);
        if (e.t - lastSeen > c.sessionLivenessMs) continue;
        ctx.raise({
          rule: 'credential-shared',
          severity: c.severity,
          t: e.t,
          serial: e.serial,
          summary: `${e.serial} brought a session up from ${e.sourceIp} while its session from ${s.ip} is still live: two devices are using one identity. Quarantine it and find the clone.`,
          evidence: { kind: 'concurrent-sessions', sourceIp: e.sourceIp, otherSourceIp: s.ip, otherSessionUp: new Date(s.upAt).toISOString(), otherLastSeen: new Date(lastSeen).toISOString(), cellIds: e.cellIds ?? [], eventId: e.id ?? null },
        });
        return;
      }
    },
  };
}
