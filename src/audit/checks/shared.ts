/**
 * Shared credentials: the incident's root cause. One certificate or one key pair in
 * several devices means any one unit, lost or opened, speaks for all of them, and no
 * revocation can cut it off without cutting off the whole fleet.
 */
import { createHash } from 'node:crypto';
import { makeFinding, plural, shortFp, type CheckInfo } from '../finding.js';
import { isLive, lists, type Fleet } from '../fleet.js';
import type { Finding } from '../types.js';
import type { Check } from './check.js';

const certificateShared: CheckInfo = {
  id: 'certificate-shared',
  summary: 'one certificate is held by more than one device',
  severities: ['critical'],
  needsSessions: false,
  why:
    'Every device holding this certificate can authenticate as every other. Whoever extracts it from one unit (a lost, stolen or resold femtocell) ' +
    'can bring up a trusted tunnel from anywhere, and the credential cannot be revoked without disconnecting the whole group. ' +
    'This is how a unit lost in 2020 was used to intercept subscribers in 2025.',
  fix:
    'Give each device its own key and certificate: enroll every unit with femtoguard (EST simpleenroll with a one-time token or its vendor ' +
    'factory certificate), switch the security gateway to trust femtoguard\'s issuing CA with revocation checking, then revoke or distrust ' +
    'the shared certificate. See "Migrating from a shared certificate" in docs/audit.md.',
};

const publicKeyShared: CheckInfo = {
  id: 'public-key-shared',
  summary: 'one key pair is certified for more than one device',
  severities: ['critical'],
  needsSessions: false,
  why:
    'Different certificates over the same public key share one private key: every device holding it can sign as the others. ' +
    'Revoking one certificate does not help while another over the same key is trusted.',
  fix:
    'Re-enroll each affected device with a key generated on the device (femtoguard refuses a public key already bound to another device), ' +
    'then revoke every certificate over the shared key.',
};

const severalLive: CheckInfo = {
  id: 'serial-several-live-certificates',
  summary: 'a device holds several certificates that are valid at the same time',
  severities: ['medium', 'low'],
  needsSessions: false,
  why:
    'Each extra valid certificate is one more credential that can be copied and that must be revoked when the unit is lost. ' +
    'Two is normal for a short while after a renewal; more points to re-issuance without revocation or to copies.',
  fix: 'Revoke the superseded certificates (femtoguard cert revoke --cert SERIAL) and renew so that a new certificate replaces the old one.',
};

const identityMismatch: CheckInfo = {
  id: 'certificate-identity-mismatch',
  summary: "a device's listed certificate names another device, or none",
  severities: ['medium'],
  needsSessions: false,
  why:
    'The gateway cannot tie a session to the unit that opened it when the certificate does not name that unit: alerts, revocation and ' +
    'the registry then speak about the wrong device. A generic subject is typical of shared factory credentials.',
  fix: 'Re-enroll the device so its certificate names its own serial (femtoguard puts it in the subject and in the SAN urn:femtoguard:device:<serial>).',
};

function sharedCertificates(fleet: Fleet): Finding[] {
  const out: Finding[] = [];
  for (const [fp, serials] of fleet.holders) {
    if (serials.length < 2) continue;
    const cert = fleet.certs.get(fp);
    const notes = new Map<string, string>();
    let listed = 0;
    for (const s of serials) {
      if (lists(fleet, s, fp)) {
        listed += 1; // the common case needs no note
        continue;
      }
      notes.set(s, cert?.claimedSerial === s ? 'named in the certificate' : 'presented it in a session');
    }
    const presenters = fleet.history?.presenters.get(fp)?.length ?? 0;
    out.push(
      makeFinding(certificateShared, 'critical', `Certificate ${shortFp(fp)} is used by ${plural(serials.length, 'device')}`, serials, [fp], {
        subject: fp,
        deviceNotes: notes,
        evidence: {
          fingerprint: fp,
          inDump: cert !== undefined,
          ...(cert !== undefined ? { subject: cert.subject, issuer: cert.issuer, notAfter: new Date(cert.notAfter).toISOString(), source: cert.source } : {}),
          listedBy: listed,
          presentedBy: presenters,
        },
      }),
    );
  }
  return out;
}

function sharedKeys(fleet: Fleet): Finding[] {
  const bySpki = new Map<string, string[]>();
  for (const c of fleet.deviceCerts) {
    const list = bySpki.get(c.spkiKey);
    if (list === undefined) bySpki.set(c.spkiKey, [c.fingerprint]);
    else list.push(c.fingerprint);
  }
  const out: Finding[] = [];
  for (const [spki, fps] of bySpki) {
    if (fps.length < 2) continue;
    const identities = new Set<string>();
    const devices = new Set<string>();
    for (const fp of fps) {
      const held = fleet.holders.get(fp) ?? [];
      for (const s of held) {
        identities.add(s);
        devices.add(s);
      }
      // A certificate no device holds still names someone (or, anonymous, counts as itself).
      if (held.length === 0) identities.add(fleet.certs.get(fp)?.claimedSerial ?? `certificate ${fp}`);
    }
    if (identities.size < 2) continue; // the same device re-certified over its own key
    const keyId = createHash('sha256').update(Buffer.from(spki, 'latin1')).digest('hex');
    out.push(
      makeFinding(publicKeyShared, 'critical', `One key pair (SPKI SHA-256 ${shortFp(keyId)}) is in ${plural(fps.length, 'certificate')} for ${plural(identities.size, 'identity', 'identities')}`, devices, fps, {
        subject: keyId,
        evidence: { spkiSha256: keyId, identities: [...identities].sort() },
      }),
    );
  }
  return out;
}

function severalLiveCertificates(fleet: Fleet): Finding[] {
  const devices: Record<'low' | 'medium', { serials: string[]; certs: string[]; notes: Map<string, string> }> = {
    low: { serials: [], certs: [], notes: new Map() },
    medium: { serials: [], certs: [], notes: new Map() },
  };
  for (const [serial, held] of fleet.certsOf) {
    if (held.length < 2 || !fleet.devices.has(serial)) continue; // most devices hold one: no work
    const live = held.filter((fp) => {
      const c = fleet.certs.get(fp);
      return c !== undefined && isLive(c, fleet.now);
    });
    if (live.length < 2) continue;
    const b = devices[live.length > 2 ? 'medium' : 'low'];
    b.serials.push(serial);
    b.certs.push(...live);
    b.notes.set(serial, `${live.length} valid certificates`);
  }
  return (['medium', 'low'] as const)
    .filter((s) => devices[s].serials.length > 0)
    .map((s) =>
      makeFinding(severalLive, s, `${plural(devices[s].serials.length, 'device holds', 'devices hold')} ${s === 'low' ? 'two' : 'three or more'} valid certificates at once`, devices[s].serials, devices[s].certs, {
        deviceNotes: devices[s].notes,
      }),
    );
}

function identityMismatches(fleet: Fleet): Finding[] {
  const serials: string[] = [];
  const certs: string[] = [];
  const notes = new Map<string, string>();
  for (const c of fleet.deviceCerts) {
    const held = fleet.holders.get(c.fingerprint);
    if (held === undefined || held.length !== 1) continue; // orphan, or shared: reported as such
    const serial = held[0] as string;
    if (c.claimedSerial === serial || !lists(fleet, serial, c.fingerprint)) continue;
    serials.push(serial);
    certs.push(c.fingerprint);
    const what = c.claimedSerial === null ? 'names no device' : `names ${c.claimedSerial}`;
    notes.set(serial, `certificate ${shortFp(c.fingerprint)} ${what}`);
  }
  if (serials.length === 0) return [];
  return [makeFinding(identityMismatch, 'medium', `${plural(serials.length, 'device uses a certificate', 'devices use certificates')} naming another identity`, serials, certs, { deviceNotes: notes })];
}

export const SHARED_CHECKS: readonly Check[] = [
  { info: certificateShared, run: sharedCertificates },
  { info: publicKeyShared, run: sharedKeys },
  { info: severalLive, run: severalLiveCertificates },
  { info: identityMismatch, run: identityMismatches },
];
