/**
 * CA certificates found in the dump (chains and bundles): expiry, key and signature
 * strength, path length and key usage. A CA problem reaches every device under it.
 */
import { DAY_MS, isoDate } from '../event-time.js';
import { KU } from '../cert-facts.js';
import { makeFinding, type CheckInfo } from '../finding.js';
import { notExpired, type Fleet } from '../fleet.js';
import { severityRank, type CertFacts, type Finding, type Severity } from '../types.js';
import type { Check } from './check.js';
import { judgeKey, judgeSignature } from './crypto.js';

const caExpiring: CheckInfo = {
  id: 'ca-expiring',
  summary: 'CA certificate expired or expiring (default within 180 days)',
  severities: ['high', 'medium'],
  needsSessions: false,
  why:
    'When a CA certificate expires, every device certificate under it stops validating at once: the whole fleet below it drops off ' +
    'together. Replacing a CA takes planning (new chain on every gateway, devices re-enrolled before the old one ends).',
  fix: 'Create the successor CA now, distribute its chain to the gateways, and re-enroll devices under it well before the expiry date.',
};

const caWeakKey: CheckInfo = {
  id: 'ca-weak-key',
  summary: 'CA key too weak (RSA below 2048 bits, curves below P-256, bad exponents)',
  severities: ['critical', 'high', 'medium'],
  needsSessions: false,
  why: 'Whoever breaks a CA key can issue certificates for any device, and the gateway will trust them all. One weak CA key undoes per-device credentials.',
  fix: 'Create a new CA with an ECDSA P-256/P-384 or RSA-3072 key, re-enroll the devices under it, then remove the old CA from the gateways\' trust stores.',
};

const caWeakSignature: CheckInfo = {
  id: 'ca-weak-signature',
  summary: 'intermediate CA certificate signed with SHA-1 or MD5',
  severities: ['critical', 'high'],
  needsSessions: false,
  why:
    'A collision on the hash that signs a CA certificate is how a rogue CA was made in 2008 (MD5). Root self-signatures are not checked ' +
    'by anyone and are not flagged; an intermediate\'s signature is.',
  fix: 'Re-issue the intermediate with SHA-256 or better from its root.',
};

const caPathLength: CheckInfo = {
  id: 'ca-path-length',
  summary: 'path length mistakes: device-issuing CA without pathLen 0, a CA under a pathLen 0 CA, root issuing devices, basicConstraints not critical',
  severities: ['high', 'medium', 'low'],
  needsSessions: false,
  why:
    'pathLenConstraint (RFC 5280 §4.2.1.9) limits what a CA key can create: a device-issuing CA with pathLen 0 cannot make sub-CAs even if ' +
    'misused. A root that issues devices directly must be online, which defeats the point of a root. basicConstraints MUST be critical in CA certificates.',
  fix: 'Issue device-issuing CAs with basicConstraints critical, cA=TRUE, pathLen 0 (as femtoguard does), and keep the root offline above them.',
};

const caKeyUsage: CheckInfo = {
  id: 'ca-key-usage',
  summary: 'CA certificate without keyUsage, or without keyCertSign',
  severities: ['high', 'medium'],
  needsSessions: false,
  why:
    'RFC 5280 §4.2.1.3: a CA certificate MUST carry keyUsage, and keyCertSign is what allows it to sign certificates. Without it strict ' +
    'validators reject the chain; without the extension at all the key may be used for anything.',
  fix: 'Re-issue the CA certificate with keyUsage critical keyCertSign, cRLSign.',
};

interface Issue {
  severity: Severity;
  text: string;
}

type IssuedIndex = Map<string, { devices: Set<string>; certs: number }>;
/** Built once per fleet, and only when some CA has an issue: it walks every device certificate. */
const issuedCache = new WeakMap<Fleet, IssuedIndex>();

/** Inventory devices and fingerprints of the device certificates each CA subject issued. */
function issuedIndex(fleet: Fleet): IssuedIndex {
  const cached = issuedCache.get(fleet);
  if (cached !== undefined) return cached;
  const out: IssuedIndex = new Map();
  issuedCache.set(fleet, out);
  const caNames = new Set(fleet.caCerts.map((c) => c.subjectKey));
  for (const c of fleet.deviceCerts) {
    if (!caNames.has(c.issuerKey)) continue;
    let e = out.get(c.issuerKey);
    if (e === undefined) {
      e = { devices: new Set(), certs: 0 };
      out.set(c.issuerKey, e);
    }
    e.certs += 1;
    if (notExpired(c, fleet.now)) for (const s of fleet.holders.get(c.fingerprint) ?? []) if (fleet.devices.has(s)) e.devices.add(s);
  }
  return out;
}

/** One finding per CA certificate with issues, at the worst issue's severity. */
function perCa(fleet: Fleet, check: CheckInfo, judge: (c: CertFacts) => Issue[], withDevices: boolean): Finding[] {
  const out: Finding[] = [];
  for (const c of fleet.caCerts) {
    const issues = judge(c);
    if (issues.length === 0) continue;
    const worst = issues.reduce((a, b) => (severityRank(b.severity) > severityRank(a.severity) ? b : a));
    const under = withDevices ? issuedIndex(fleet).get(c.subjectKey) : undefined;
    out.push(
      makeFinding(check, worst.severity, `CA "${c.subject}": ${issues.map((i) => i.text).join('; ')}`, under?.devices ?? [], [c.fingerprint], {
        subject: c.fingerprint,
        evidence: { subject: c.subject, source: c.source, notAfter: new Date(c.notAfter).toISOString(), issues, ...(under !== undefined ? { deviceCertificatesIssued: under.certs } : {}) },
      }),
    );
  }
  return out;
}

function runExpiring(fleet: Fleet): Finding[] {
  return perCa(fleet, caExpiring, (c) => {
    const left = c.notAfter - fleet.now;
    if (left < 0) return [{ severity: 'high', text: `expired ${isoDate(c.notAfter)}` }];
    if (left < 30 * DAY_MS) return [{ severity: 'high', text: `expires ${isoDate(c.notAfter)}, in ${Math.floor(left / DAY_MS)} days` }];
    if (left < fleet.policy.caExpiringDays * DAY_MS) return [{ severity: 'medium', text: `expires ${isoDate(c.notAfter)}, in ${Math.floor(left / DAY_MS)} days` }];
    return [];
  }, true);
}

function runWeakKey(fleet: Fleet): Finding[] {
  return perCa(fleet, caWeakKey, (c) => {
    const j = judgeKey(c);
    return j === null ? [] : [j];
  }, true);
}

function runWeakSignature(fleet: Fleet): Finding[] {
  return perCa(fleet, caWeakSignature, (c) => {
    const j = c.selfIssued ? null : judgeSignature(c);
    return j === null ? [] : [j];
  }, true);
}

function runPathLength(fleet: Fleet): Finding[] {
  const issuesDevices = new Set(fleet.deviceCerts.map((c) => c.issuerKey));
  const pathLenZero = new Set(fleet.caCerts.filter((c) => c.basicConstraints?.pathLen === 0).map((c) => c.subjectKey));
  return perCa(fleet, caPathLength, (c) => {
    const issues: Issue[] = [];
    const bc = c.basicConstraints;
    if (!c.selfIssued && pathLenZero.has(c.issuerKey)) issues.push({ severity: 'high', text: 'issued by a CA whose pathLen is 0 (the chain is invalid)' });
    if (issuesDevices.has(c.subjectKey)) {
      if (c.selfIssued) issues.push({ severity: 'medium', text: 'self-signed root issues device certificates directly' });
      else if (bc?.pathLen === undefined || bc.pathLen > 0) issues.push({ severity: 'medium', text: `issues device certificates with pathLen ${bc?.pathLen ?? 'unlimited'} (should be 0)` });
    }
    if (bc !== null && !bc.critical) issues.push({ severity: 'low', text: 'basicConstraints is not critical' });
    return issues;
  }, false);
}

function runKeyUsage(fleet: Fleet): Finding[] {
  return perCa(fleet, caKeyUsage, (c) => {
    if (c.keyUsage === null) return [{ severity: 'medium', text: 'no keyUsage extension' }];
    if ((c.keyUsage & KU.keyCertSign) === 0) return [{ severity: 'high', text: 'keyUsage without keyCertSign' }];
    return [];
  }, false);
}

export const CA_CHECKS: readonly Check[] = [
  { info: caExpiring, run: runExpiring },
  { info: caWeakKey, run: runWeakKey },
  { info: caWeakSignature, run: runWeakSignature },
  { info: caPathLength, run: runPathLength },
  { info: caKeyUsage, run: runKeyUsage },
];
