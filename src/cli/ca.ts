import type { Command } from 'commander';
import { caSettings, resolvePassphrase } from '../app/index.js';
import { initCa, KEY_ALGORITHMS, nameToString, publicCaCertificates, type KeyAlgorithm, type ParsedCertificate } from '../pki/index.js';
import { actor, configFrom, withBase } from './context.js';
import { printResult, usage } from './output.js';

const describe = (c: ParsedCertificate): Record<string, string> => ({
  subject: nameToString(c.subject),
  serial: c.serialHex,
  fingerprint: c.fingerprint,
  notBefore: c.notBefore.toISOString(),
  notAfter: c.notAfter.toISOString(),
  key: `${c.keyInfo.type}${c.keyInfo.curve ? ' ' + c.keyInfo.curve : ''}${c.keyInfo.bits ? ' ' + c.keyInfo.bits : ''}`,
});

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
        const res = { root: describe(u.root), issuing: describe(u.issuing), ocspResponder: describe(u.responder), passphraseSource: source };
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
        const res = { root: describe(c.root), issuing: describe(c.issuing), ocspResponder: describe(c.responder) };
        printResult(!!o.json, res, () =>
          Object.entries(res)
            .map(([k, v]) => `${k}\n${Object.entries(v).map(([a, b]) => `  ${a.padEnd(12)} ${b}`).join('\n')}`)
            .join('\n'),
        );
      });
    });
}
