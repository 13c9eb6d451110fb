/**
 * Device certificate validity: lifetime beyond policy, expired, expiring soon, and age
 * since issue. A long-lived credential outlives the custody of the unit holding it; a
 * short one forces renewal, which is where a lost unit gets noticed.
 */
import { DAY_MS, isoDate } from '../event-time.js';
import { SeverityBuckets, plural, type CheckInfo } from '../finding.js';
import { notExpired, isLive, type Fleet } from '../fleet.js';
import type { CertFacts, Finding, Severity } from '../types.js';
import type { Check } from './check.js';

/** Lifetimes at or above this are critical: the incident's certificate was valid for ten years. */
export const CRITICAL_LIFETIME_DAYS = 5 * 365;
/** Above this is high: longer than even the public Web PKI allows (CA/B Forum BR §6.3.2). */
export const HIGH_LIFETIME_DAYS = 398;

const lifetime: CheckInfo = {
  id: 'lifetime-beyond-policy',
  summary: 'device certificate valid for longer than the policy allows (default 90 days)',
  severities: ['critical', 'high', 'medium'],
  needsSessions: false,
  why:
    'A certificate keeps working as long as it is valid, whoever holds the unit. A ten-year certificate issued at the factory is still good ' +
    'years after the unit was lost or resold; a short one dies on its own unless the device keeps renewing from its own line.',
  fix:
    'Issue short-lived device certificates and renew them automatically: femtoguard issues 30-day certificates over EST and devices ' +
    're-enroll with simplereenroll. Until then, revoke long-lived certificates as their devices are migrated.',
};

const expired: CheckInfo = {
  id: 'certificate-expired',
  summary: 'expired certificate of a device still in service',
  severities: ['medium', 'low'],
  needsSessions: false,
  why:
    'A device whose only certificate has expired cannot authenticate, unless the gateway does not check validity, in which case expiry ' +
    'protects nothing. Expired certificates left beside newer ones are clutter that hides real problems.',
  fix: 'Renew the device (EST simplereenroll, or enroll with a one-time token), and check that the security gateway rejects expired certificates.',
};

const expiring: CheckInfo = {
  id: 'certificate-expiring',
  summary: 'device certificate expiring soon with no successor',
  severities: ['medium'],
  needsSessions: false,
  why:
    'When it expires the device drops off the network. "Soon" is the expiring window (default 30 days) or the last third of the ' +
    'certificate\'s lifetime, whichever is shorter, so a 30-day certificate is flagged when its renewal is overdue.',
  fix: 'Check why the device has not renewed (it should re-enroll at two thirds of its lifetime) and renew it.',
};

const age: CheckInfo = {
  id: 'certificate-age',
  summary: 'valid certificate issued longer ago than the age limit (default 365 days)',
  severities: ['medium'],
  needsSessions: false,
  why:
    'The longer one key stays in the field, the more chances someone had to copy it: repairs, returns, resale, a unit opened in a lab. ' +
    'An old key still in use has never been rotated.',
  fix: 'Rotate the key: re-enroll the device with a new key pair and revoke the old certificate.',
};

const days = (ms: number): number => Math.floor(ms / DAY_MS);
const IN_SERVICE = new Set(['active', 'suspended', 'provisioned']);

/** Serials of inventory devices holding `c`. */
function inventoryHolders(fleet: Fleet, c: CertFacts): string[] {
  return (fleet.holders.get(c.fingerprint) ?? []).filter((s) => fleet.devices.has(s));
}

function runLifetime(fleet: Fleet): Finding[] {
  const b = new SeverityBuckets();
  const max = fleet.policy.maxLifetimeDays;
  for (const c of fleet.deviceCerts) {
    if (!notExpired(c, fleet.now)) continue;
    const d = days(c.notAfter - c.notBefore);
    if (d <= max) continue;
    const severity: Severity = d >= CRITICAL_LIFETIME_DAYS ? 'critical' : d > HIGH_LIFETIME_DAYS ? 'high' : 'medium';
    const holders = fleet.holders.get(c.fingerprint) ?? [];
    b.add(severity, holders, [c.fingerprint], { serials: holders, text: `valid ${d} days, until ${isoDate(c.notAfter)}` });
  }
  const limit: Record<Severity, string> = { critical: `${CRITICAL_LIFETIME_DAYS / 365} years or more`, high: `more than ${HIGH_LIFETIME_DAYS} days`, medium: `more than ${max} days`, low: '' };
  return b.findings(lifetime, (s, n, devs) => `${plural(n, 'device certificate')} valid for ${limit[s]} (${plural(devs, 'device')})`, (s) => ({ policyDays: max, lifetimeDays: limit[s] }));
}

function runExpired(fleet: Fleet): Finding[] {
  const b = new SeverityBuckets();
  for (const c of fleet.deviceCerts) {
    if (notExpired(c, fleet.now)) continue;
    const serials = inventoryHolders(fleet, c).filter((s) => IN_SERVICE.has(fleet.devices.get(s)?.status ?? ''));
    if (serials.length === 0) continue;
    for (const s of serials) {
      const hasLive = (fleet.certsOf.get(s) ?? []).some((fp) => {
        const other = fleet.certs.get(fp);
        return other !== undefined && isLive(other, fleet.now);
      });
      b.add(hasLive ? 'low' : 'medium', [s], [c.fingerprint], { serials: [s], text: `expired ${isoDate(c.notAfter)}${hasLive ? ', has a newer certificate' : ', no valid certificate'}` });
    }
  }
  return b.findings(expired, (s, _n, devs) =>
    s === 'medium' ? `${plural(devs, 'device in service has', 'devices in service have')} only expired certificates` : `${plural(devs, 'device keeps', 'devices keep')} expired certificates beside a valid one`,
  );
}

function runExpiring(fleet: Fleet): Finding[] {
  const b = new SeverityBuckets();
  const windowMs = fleet.policy.expiringDays * DAY_MS;
  for (const c of fleet.deviceCerts) {
    if (!isLive(c, fleet.now)) continue;
    const soon = Math.min(windowMs, (c.notAfter - c.notBefore) / 3);
    if (c.notAfter - fleet.now >= soon) continue;
    for (const s of inventoryHolders(fleet, c)) {
      if (!IN_SERVICE.has(fleet.devices.get(s)?.status ?? '')) continue;
      const successor = (fleet.certsOf.get(s) ?? []).some((fp) => (fleet.certs.get(fp)?.notAfter ?? 0) > c.notAfter);
      if (successor) continue;
      b.add('medium', [s], [c.fingerprint], { serials: [s], text: `expires ${isoDate(c.notAfter)} (${days(c.notAfter - fleet.now)} days left)` });
    }
  }
  return b.findings(expiring, (_s, n) => `${plural(n, 'certificate expires', 'certificates expire')} soon with no successor`, () => ({ expiringDays: fleet.policy.expiringDays }));
}

function runAge(fleet: Fleet): Finding[] {
  const b = new SeverityBuckets();
  const max = fleet.policy.maxAgeDays;
  for (const c of fleet.deviceCerts) {
    if (!isLive(c, fleet.now)) continue;
    const d = days(fleet.now - c.notBefore);
    if (d <= max) continue;
    const holders = fleet.holders.get(c.fingerprint) ?? [];
    b.add('medium', holders, [c.fingerprint], { serials: holders, text: `issued ${isoDate(c.notBefore)}, ${(d / 365).toFixed(1)} years ago` });
  }
  return b.findings(age, (_s, n, devs) => `${plural(n, 'valid certificate')} issued more than ${max} days ago (${plural(devs, 'device')})`, () => ({ maxAgeDays: max }));
}

export const LIFETIME_CHECKS: readonly Check[] = [
  { info: lifetime, run: runLifetime },
  { info: expired, run: runExpired },
  { info: expiring, run: runExpiring },
  { info: age, run: runAge },
];
