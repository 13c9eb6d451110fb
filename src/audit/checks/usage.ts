/**
 * Checks over the session/report history: how the fleet is actually used. Idle units
 * (the incident's operator had 43,000 to recover), units connecting from the wrong line or
 * away from their site, units that should be dead still connecting, and one serial up
 * twice at once.
 */
import { DAY_MS, isoDate, isoTime } from '../event-time.js';
import { SeverityBuckets, makeFinding, plural, type CheckInfo } from '../finding.js';
import type { Fleet } from '../fleet.js';
import type { Finding } from '../types.js';
import type { Check } from './check.js';

const inactiveConnecting: CheckInfo = {
  id: 'inactive-device-connecting',
  summary: 'lost, decommissioned or suspended device still connecting or reporting',
  severities: ['critical', 'high'],
  needsSessions: true,
  why:
    'A unit the registry says is lost or decommissioned is in someone else\'s hands, and it is on the network: this is the incident as it ' +
    'happened. The audit compares against the current status; check the times against when the status changed.',
  fix: 'Revoke its certificates now (femtoguard device set-status SERIAL lost), make the gateway check revocation, and find where it connects from.',
};

const unregistered: CheckInfo = {
  id: 'unregistered-device-connecting',
  summary: 'serial that is not in the inventory connecting or reporting',
  severities: ['high'],
  needsSessions: true,
  why: 'A serial nobody registered authenticated to the gateway: a unit missing from the inventory, or a credential used under a made-up identity.',
  fix: 'Identify the unit from its source address and certificate; register it with its status, or revoke the certificate it used.',
};

const idle: CheckInfo = {
  id: 'idle-device',
  summary: 'active device not seen for longer than the idle limit (default 90 days)',
  severities: ['medium'],
  needsSessions: true,
  why:
    'An "active" unit that never connects is out of anyone\'s sight but keeps a valid credential: unplugged in a closet, moved, resold, or ' +
    'lost without being reported. The incident\'s operator had 43,000 such units to recover.',
  fix: 'Contact the hosting party; recover the unit or set its status to lost or decommissioned so its certificates are revoked.',
};

const outsidePrefix: CheckInfo = {
  id: 'source-outside-prefix',
  summary: 'device connecting from an address outside its registered ip_prefixes',
  severities: ['high'],
  needsSessions: true,
  why:
    'A femtocell belongs on its customer\'s broadband line. The same serial from another network is a moved unit or a cloned credential; ' +
    'either way it is no longer where the operator thinks it is.',
  fix: 'Confirm with the customer; if the unit moved, update ip_prefixes; if not, treat the credential as compromised and revoke it.',
};

const gpsDrift: CheckInfo = {
  id: 'gps-drift',
  summary: 'device reporting GPS fixes outside its site radius',
  severities: ['high'],
  needsSessions: true,
  why:
    'A femtocell away from its registered site serves subscribers where no one planned it to: the pattern of a unit carried around to ' +
    'capture phones. Fixes count only when even their accuracy circle lies outside the site radius.',
  fix: 'Suspend the device until its location is confirmed; update the site if it moved legitimately.',
};

const severalCerts: CheckInfo = {
  id: 'serial-several-certificates',
  summary: 'one serial presenting different certificates in sessions up at the same time',
  severities: ['high'],
  needsSessions: true,
  why: 'One unit holds one tunnel. Two tunnels at once with two certificates mean two devices claim the same serial: a clone.',
  fix: 'Revoke every certificate of the serial, re-enroll the genuine unit, and find the other one from its source address.',
};

const concurrent: CheckInfo = {
  id: 'serial-concurrent-sessions',
  summary: 'one serial with sessions up at the same time from different addresses',
  severities: ['high'],
  needsSessions: true,
  why: 'A femtocell has one broadband line. The same serial up from two addresses at once is a copied credential in use.',
  fix: 'Revoke the certificate and re-enroll the genuine unit; the address outside the device\'s prefixes is usually the copy.',
};

function runInactiveConnecting(fleet: Fleet): Finding[] {
  const b = new SeverityBuckets();
  for (const [serial, u] of fleet.history?.usage ?? []) {
    const status = fleet.devices.get(serial)?.status;
    if (status !== 'lost' && status !== 'decommissioned' && status !== 'suspended') continue;
    if (u.connects === 0) continue;
    b.add(status === 'suspended' ? 'high' : 'critical', [serial], u.certs, { serials: [serial], text: `${status}; connected ${plural(u.connects, 'time')}, last ${isoTime(u.lastSeen)}` });
  }
  return b.findings(inactiveConnecting, (s, _n, devs) => `${plural(devs, 'device')} ${s === 'critical' ? 'marked lost or decommissioned' : 'suspended'} still connecting`);
}

function runUnregistered(fleet: Fleet): Finding[] {
  const serials: string[] = [];
  const certs: string[] = [];
  const notes = new Map<string, string>();
  for (const [serial, u] of fleet.history?.usage ?? []) {
    if (fleet.devices.has(serial) || u.connects === 0) continue;
    serials.push(serial);
    certs.push(...u.certs);
    notes.set(serial, `connected ${plural(u.connects, 'time')}, last ${isoTime(u.lastSeen)}`);
  }
  if (serials.length === 0) return [];
  return [makeFinding(unregistered, 'high', `${plural(serials.length, 'serial')} not in the inventory connected`, serials, certs, { deviceNotes: notes })];
}

function runIdle(fleet: Fleet): Finding[] {
  const h = fleet.history;
  if (h === null || h.firstTs === null) return [];
  const limitMs = fleet.policy.idleDays * DAY_MS;
  // A device absent from the whole history is idle only if the history covers the limit.
  const coversLimit = fleet.now - h.firstTs >= limitMs;
  const serials: string[] = [];
  const notes = new Map<string, string>();
  for (const d of fleet.devices.values()) {
    if (d.status !== 'active') continue;
    const u = h.usage.get(d.serial);
    if (u === undefined) {
      if (!coversLimit) continue;
      serials.push(d.serial);
      notes.set(d.serial, `never seen since ${isoDate(h.firstTs)}`);
    } else if (fleet.now - u.lastSeen > limitMs) {
      serials.push(d.serial);
      notes.set(d.serial, `last seen ${isoDate(u.lastSeen)}, ${Math.floor((fleet.now - u.lastSeen) / DAY_MS)} days ago`);
    }
  }
  if (serials.length === 0) return [];
  const certs = serials.flatMap((s) => (fleet.certsOf.get(s) ?? []).filter((fp) => fleet.certs.has(fp)));
  return [
    makeFinding(idle, 'medium', `${plural(serials.length, 'active device')} not seen for more than ${fleet.policy.idleDays} days`, serials, certs, {
      deviceNotes: notes,
      evidence: { idleDays: fleet.policy.idleDays, historyFrom: isoTime(h.firstTs) },
    }),
  ];
}

function runOutsidePrefix(fleet: Fleet): Finding[] {
  const serials: string[] = [];
  const notes = new Map<string, string>();
  for (const [serial, u] of fleet.history?.usage ?? []) {
    if (u.outsidePrefix === undefined) continue;
    serials.push(serial);
    const prefixes = fleet.devices.get(serial)?.ipPrefixes.join(' ') ?? '';
    notes.set(serial, `from ${[...u.outsidePrefix].map(([ip, n]) => `${ip} (${n}x)`).join(', ')}; registered ${prefixes}`);
  }
  if (serials.length === 0) return [];
  return [makeFinding(outsidePrefix, 'high', `${plural(serials.length, 'device')} connected from outside ${serials.length === 1 ? 'its' : 'their'} registered prefixes`, serials, [], { deviceNotes: notes })];
}

function runGpsDrift(fleet: Fleet): Finding[] {
  const serials: string[] = [];
  const notes = new Map<string, string>();
  for (const [serial, u] of fleet.history?.usage ?? []) {
    if (u.drift === undefined) continue;
    serials.push(serial);
    const radius = fleet.devices.get(serial)?.siteRadiusM ?? 0;
    const km = (u.drift.maxM / 1000).toFixed(u.drift.maxM < 10_000 ? 2 : 0);
    notes.set(serial, `${km} km from its site (radius ${radius} m) at ${isoTime(u.drift.at)}; ${plural(u.drift.fixes, 'fix', 'fixes')} outside`);
  }
  if (serials.length === 0) return [];
  return [makeFinding(gpsDrift, 'high', `${plural(serials.length, 'device')} reported positions away from ${serials.length === 1 ? 'its' : 'their'} site`, serials, [], { deviceNotes: notes })];
}

function runOverlaps(fleet: Fleet, which: 'certs' | 'ips'): Finding[] {
  const serials: string[] = [];
  const certs: string[] = [];
  const notes = new Map<string, string>();
  for (const [serial, u] of fleet.history?.usage ?? []) {
    const o = u.overlap;
    if (o === undefined || o[which].size === 0) continue;
    serials.push(serial);
    if (which === 'certs') certs.push(...o.certs);
    notes.set(serial, which === 'certs' ? `${plural(o.certs.size, 'certificate')} up at once from ${isoTime(o.at)}` : `up at once from ${[...o.ips].join(', ')} at ${isoTime(o.at)}`);
  }
  if (serials.length === 0) return [];
  const check = which === 'certs' ? severalCerts : concurrent;
  const title = which === 'certs' ? 'presented several certificates at once' : 'had sessions up from two addresses at once';
  return [makeFinding(check, 'high', `${plural(serials.length, 'serial')} ${title}`, serials, certs, { deviceNotes: notes })];
}

export const USAGE_CHECKS: readonly Check[] = [
  { info: inactiveConnecting, run: runInactiveConnecting },
  { info: unregistered, run: runUnregistered },
  { info: idle, run: runIdle },
  { info: outsidePrefix, run: runOutsidePrefix },
  { info: gpsDrift, run: runGpsDrift },
  { info: severalCerts, run: (f) => runOverlaps(f, 'certs') },
  { info: concurrent, run: (f) => runOverlaps(f, 'ips') },
];
