import type { Command } from 'commander';
import { caSettings, resolvePassphrase } from '../app/index.js';
import { issuingCaExpiry } from '../app/pki-upkeep.js';
import { initCa, KEY_ALGORITHMS, nameToString, publicCaCertificates, type KeyAlgorithm, type ParsedCertificate } from '../pki/index.js';
import { actor, configFrom, withBase } from './context.js';
import { printResult, usage } from './output.js';

const DAY_MS = 86_400_000;

/** Whole days left until `notAfter` (rounded down; negative once it has passed). */
const daysLeft = (c: ParsedCertificate, now: Date): number => Math.floor((c.notAfter.getTime() - now.getTime()) / DAY_MS);

const describe = (c: ParsedCertificate, now: Date): Record<string, string | number> => ({
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
function expiryNotice(issuing: ParsedCertificate, now: Date, deviceValidityDays: number): string | null {
  const e = issuingCaExpiry(issuing.notAfter, now, deviceValidityDays);
  if (e.ended) return `the issuing CA ended at ${issuing.notAfter.toISOString()}: nothing can be issued until it is rolled over (docs/pki.md)`;
  if (e.expiring) return `the issuing CA ends in ${Math.floor(e.daysLeft)} day(s), under twice the device validity (${deviceValidityDays} days): new certificates are cut short at its end; roll it over (docs/pki.md)`;
  return null;
}

export function registerCa(program: Command): void {
  const ca = program.command('ca').description('the per-device certificate authority');
  ca.command('init')
    .description('create the root and issuing CA (keys encrypted with FEMTOGUARD_CA_PASSPHRASE or FEMTOGUARD_CA_PASSPHRASE_FILE)')
    .option('--key-algorithm <alg>', `one of ${KEY_ALGORITHMS.join(', ')}`)
    .option('--json', 'print JSON')
    .action(async (o: { keyAlgorithm?: string; json?: boolean }, cmd: Command) => {
      if (o.keyAlgorithm && !KEY_ALGORITHMS.includes(o.keyAlgorithm as KeyAlgorithm)) throw usage(`--key-algorithm must be one of ${KEY_ALGORITHMS.join(', ')}`);
      const config = configFrom(cmd, { 'ca.keyAlgorithm': o.keyAlgorithm });
      await withBase(cmd, async (base) => {
        const { passphrase, source } = resolvePassphrase(process.env, config.dataDir, { generateIfMissing: true });
        const u = await initCa({ store: base.stores.certs, audit: base.stores.audit, clock: base.clock }, caSettings(config), passphrase, actor());
        const now = base.clock.now();
        const res = { root: describe(u.root, now), issuing: describe(u.issuing, now), ocspResponder: describe(u.responder, now), passphraseSource: source };
        printResult(!!o.json, res, () =>
          [`CA created (passphrase ${source})`, `root     ${res.root.subject}  sha256 ${res.root.fingerprint}`, `issuing  ${res.issuing.subject}  sha256 ${res.issuing.fingerprint}`].join('\n'),
        );
      });
    });
  ca.command('show')
    .description('show the CA certificates')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      await withBase(cmd, async (base) => {
        const c = await publicCaCertificates(base.stores.certs);
        if (!c) throw usage('no CA in this data directory: run `femtoguard ca init`');
        const now = base.clock.now();
        const notice = expiryNotice(c.issuing, now, base.config.ca.deviceValidityDays);
        const certs = { root: describe(c.root, now), issuing: describe(c.issuing, now), ocspResponder: describe(c.responder, now) };
        const res = notice ? { ...certs, warning: notice } : certs;
        printResult(!!o.json, res, () =>
          [
            ...Object.entries(certs).map(([k, v]) => `${k}\n${Object.entries(v).map(([a, b]) => `  ${a.padEnd(12)} ${b}`).join('\n')}`),
            ...(notice ? [`warning: ${notice}`] : []),
          ].join('\n'),
        );
      });
    });
}
