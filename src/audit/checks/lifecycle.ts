/**
 * Lifecycle against credentials: a `lost` or `decommissioned` unit whose certificate has
 * not expired still holds a working credential that nobody controls; and inventory and
 * dump that do not account for each other (orphans both ways).
 */
import { isoDate } from '../event-time.js';
import { SeverityBuckets, makeFinding, plural, shortFp, type CheckInfo } from '../finding.js';
import { notExpired, type Fleet } from '../fleet.js';
import type { Finding } from '../types.js';
import type { Check } from './check.js';

const inactiveLive: CheckInfo = {
  id: 'inactive-device-live-certificate',
  summary: 'lost or decommissioned device whose certificate has not expired',
  severities: ['critical', 'high'],
  needsSessions: false,
  why:
    'The unit is out of the operator\'s hands but its credential still works: a lost unit is exactly what was reused in the incident, and a ' +
    'decommissioned one may be resold or scrapped with its key inside. The audit cannot see revocation: if the gateway checks OCSP or a CRL ' +
    'and these certificates are revoked, they are dead; a shared certificate cannot be revoked without cutting off every unit on it.',
  fix:
    'Revoke the certificates (femtoguard device set-status SERIAL lost revokes with keyCompromise, decommissioned with cessationOfOperation) ' +
    'and make sure the security gateway checks OCSP or the CRL with revocation = strict. Devices on a shared certificate need migrating first.',
};

const orphanCert: CheckInfo = {
  id: 'orphan-certificate',
  summary: 'device certificate that no inventory device accounts for',
  severities: ['medium', 'low'],
  needsSessions: false,
  why:
    'A valid certificate naming a serial the inventory does not know is a credential with no owner: nobody will revoke it when the unit ' +
    'is lost, and its sessions cannot be tied to a site, a line or a customer.',
  fix: 'Find the unit: add it to the inventory with its real status and cert_fingerprints, or revoke the certificate.',
};

const noCert: CheckInfo = {
  id: 'device-without-certificate',
  summary: 'active device with no certificate in the dump',
  severities: ['medium'],
  needsSessions: false,
  why:
    'An active device must authenticate with something. If the dump is complete, it uses a credential the operator does not know about, ' +
    'most often a shared one.',
  fix: 'Add its certificate to the dump and to cert_fingerprints, or enroll it with femtoguard so it gets its own.',
};

function runInactiveLive(fleet: Fleet): Finding[] {
  const b = new SeverityBuckets();
  for (const d of fleet.devices.values()) {
    if (d.status !== 'lost' && d.status !== 'decommissioned') continue;
    for (const fp of fleet.certsOf.get(d.serial) ?? []) {
      const c = fleet.certs.get(fp);
      if (c === undefined || !notExpired(c, fleet.now)) continue;
      const shared = (fleet.holders.get(fp)?.length ?? 0) > 1;
      b.add(d.status === 'lost' ? 'critical' : 'high', [d.serial], [fp], {
        serials: [d.serial],
        text: `${d.status}; certificate ${shortFp(fp)} valid until ${isoDate(c.notAfter)}${shared ? ' (shared)' : ''}`,
      });
    }
  }
  return b.findings(inactiveLive, (s, _n, devs) => `${plural(devs, s === 'critical' ? 'lost device holds' : 'decommissioned device holds', s === 'critical' ? 'lost devices hold' : 'decommissioned devices hold')} a certificate that has not expired`);
}

function runOrphans(fleet: Fleet): Finding[] {
  const b = new SeverityBuckets();
  const claimed: Record<string, Set<string>> = { medium: new Set(), low: new Set() };
  for (const c of fleet.deviceCerts) {
    if ((fleet.holders.get(c.fingerprint)?.length ?? 0) > 0) continue;
    const severity = notExpired(c, fleet.now) ? 'medium' : 'low';
    b.add(severity, [], [c.fingerprint]);
    claimed[severity]?.add(c.claimedSerial ?? '(none)');
  }
  return b.findings(
    orphanCert,
    (s, n) => `${plural(n, s === 'medium' ? 'valid certificate' : 'expired certificate')} that no inventory device holds`,
    (s) => ({ claimedSerials: [...(claimed[s] ?? [])].sort().slice(0, 1000), claimedSerialCount: claimed[s]?.size ?? 0 }),
  );
}

function runNoCert(fleet: Fleet): Finding[] {
  const serials: string[] = [];
  const notes = new Map<string, string>();
  for (const d of fleet.devices.values()) {
    if (d.status !== 'active') continue;
    if ((fleet.certsOf.get(d.serial) ?? []).some((fp) => fleet.certs.has(fp))) continue;
    const missing = fleet.listedNotInDump.get(d.serial) ?? [];
    serials.push(d.serial);
    notes.set(d.serial, missing.length > 0 ? `lists ${plural(missing.length, 'fingerprint')} missing from the dump` : 'no certificate listed or naming it');
  }
  if (serials.length === 0) return [];
  return [makeFinding(noCert, 'medium', `${plural(serials.length, 'active device has', 'active devices have')} no certificate in the dump`, serials, [], { deviceNotes: notes })];
}

export const LIFECYCLE_CHECKS: readonly Check[] = [
  { info: inactiveLive, run: runInactiveLive },
  { info: orphanCert, run: runOrphans },
  { info: noCert, run: runNoCert },
];
