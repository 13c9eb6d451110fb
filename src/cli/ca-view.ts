/** How `ca init` and `ca show` describe the CA certificates (loaded when one of them runs). */
import { issuingCaExpiry } from '../app/pki-upkeep.js';
import { nameToString, type ParsedCertificate } from '../pki/index.js';

const DAY_MS = 86_400_000;

/** Whole days left until `notAfter` (rounded down; negative once it has passed). */
const daysLeft = (c: ParsedCertificate, now: Date): number => Math.floor((c.notAfter.getTime() - now.getTime()) / DAY_MS);

export const describe = (c: ParsedCertificate, now: Date): Record<string, string | number> => ({
  subject: nameToString(c.subject),
  serial: c.serialHex,
  fingerprint: c.fingerprint,
  notBefore: c.notBefore.toISOString(),
  notAfter: c.notAfter.toISOString(),
  daysLeft: daysLeft(c, now),
  key: `${c.keyInfo.type}${c.keyInfo.curve ? ' ' + c.keyInfo.curve : ''}${c.keyInfo.bits ? ' ' + c.keyInfo.bits : ''}`,
});

/**
 * The line `ca show` ends with when the issuing CA is near its end (fewer than two device
 * lifetimes left, as the server warns) or past it; null otherwise.
 */
export function expiryNotice(issuing: ParsedCertificate, now: Date, deviceValidityDays: number): string | null {
  const e = issuingCaExpiry(issuing.notAfter, now, deviceValidityDays);
  if (e.ended) return `the issuing CA ended at ${issuing.notAfter.toISOString()}: nothing can be issued until it is rolled over (docs/pki.md)`;
  if (e.expiring) return `the issuing CA ends in ${Math.floor(e.daysLeft)} day(s), under twice the device validity (${deviceValidityDays} days): new certificates are cut short at its end; roll it over (docs/pki.md)`;
  return null;
}
