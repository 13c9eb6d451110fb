/**
 * The fleet as the checks see it: inventory devices, certificates, and who holds which.
 *
 * A device holds a certificate when (1) its inventory row lists the fingerprint in
 * `cert_fingerprints`, (2) the certificate names it (SAN `urn:femtoguard:device:<serial>`,
 * subject serialNumber or CN), or (3) the session history shows it presenting the
 * certificate. A certificate with cA set that no device holds is a CA certificate; every
 * other certificate is a device certificate.
 */
import type { DeviceInput } from '../registry/index.js';
import { isCaFlagged } from './cert-facts.js';
import type { SessionHistory } from './sessions.js';
import type { AuditPolicy, CertFacts } from './types.js';

export interface Fleet {
  /** The audit time, epoch milliseconds. */
  now: number;
  policy: AuditPolicy;
  devices: ReadonlyMap<string, DeviceInput>;
  /** Every certificate of the dump, by fingerprint. */
  certs: ReadonlyMap<string, CertFacts>;
  deviceCerts: CertFacts[];
  caCerts: CertFacts[];
  /** Fingerprint (in the dump or not) → serials holding it, first-seen order, no repeats. */
  holders: ReadonlyMap<string, readonly string[]>;
  /** Serial → fingerprints it holds (in the dump or not). */
  certsOf: ReadonlyMap<string, readonly string[]>;
  /** Fingerprints listed in the inventory but missing from the dump, by serial. */
  listedNotInDump: ReadonlyMap<string, readonly string[]>;
  history: SessionHistory | null;
}

function push(map: Map<string, string[]>, key: string, value: string): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else if (!list.includes(value)) list.push(value);
}

export function buildFleet(o: {
  now: number;
  policy: AuditPolicy;
  devices: ReadonlyMap<string, DeviceInput>;
  certs: ReadonlyMap<string, CertFacts>;
  history: SessionHistory | null;
}): Fleet {
  const holders = new Map<string, string[]>();
  const certsOf = new Map<string, string[]>();
  const listedNotInDump = new Map<string, string[]>();
  const hold = (fp: string, serial: string): void => {
    push(holders, fp, serial);
    push(certsOf, serial, fp);
  };
  for (const d of o.devices.values()) {
    for (const fp of d.certFingerprints) {
      hold(fp, d.serial);
      if (!o.certs.has(fp)) push(listedNotInDump, d.serial, fp);
    }
  }
  for (const c of o.certs.values()) {
    if (c.claimedSerial !== null && o.devices.has(c.claimedSerial)) hold(c.fingerprint, c.claimedSerial);
  }
  if (o.history !== null) {
    for (const [fp, serials] of o.history.presenters) for (const s of serials) hold(fp, s);
  }
  const deviceCerts: CertFacts[] = [];
  const caCerts: CertFacts[] = [];
  for (const c of o.certs.values()) {
    if (isCaFlagged(c) && !holders.has(c.fingerprint)) caCerts.push(c);
    else deviceCerts.push(c);
  }
  return { now: o.now, policy: o.policy, devices: o.devices, certs: o.certs, deviceCerts, caCerts, holders, certsOf, listedNotInDump, history: o.history };
}

/** Whether the certificate is within its validity period at `now` (RFC 5280 §4.1.2.5). */
export function isLive(c: CertFacts, now: number): boolean {
  return c.notBefore <= now && now <= c.notAfter;
}

/** Not yet expired at `now` (valid now or later). */
export function notExpired(c: CertFacts, now: number): boolean {
  return now <= c.notAfter;
}

/** Whether the device's inventory row lists the fingerprint in `cert_fingerprints`. */
export function lists(fleet: Fleet, serial: string, fp: string): boolean {
  return fleet.devices.get(serial)?.certFingerprints.includes(fp) === true;
}

/** The dump's certificates a serial holds. */
export function heldCerts(fleet: Fleet, serial: string): CertFacts[] {
  const out: CertFacts[] = [];
  for (const fp of fleet.certsOf.get(serial) ?? []) {
    const c = fleet.certs.get(fp);
    if (c !== undefined) out.push(c);
  }
  return out;
}
