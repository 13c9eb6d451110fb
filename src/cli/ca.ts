import type { Command } from 'commander';
import { KEY_ALGORITHMS, type KeyAlgorithm } from './choices.js';
import { actor, configFrom, withBase } from './context.js';
import { printResult, usage } from './output.js';

export function registerCa(program: Command): void {
  const ca = program.command('ca').description('the per-device certificate authority');
  ca.command('init')
    .description('create the root and issuing CA (keys encrypted with FEMTOGUARD_CA_PASSPHRASE or FEMTOGUARD_CA_PASSPHRASE_FILE)')
    .option('--key-algorithm <alg>', `one of ${KEY_ALGORITHMS.join(', ')}`)
    .option('--json', 'print JSON')
    .action(async (o: { keyAlgorithm?: string; json?: boolean }, cmd: Command) => {
      if (o.keyAlgorithm && !KEY_ALGORITHMS.includes(o.keyAlgorithm as KeyAlgorithm)) throw usage(`--key-algorithm must be one of ${KEY_ALGORITHMS.join(', ')}`);
      const config = await configFrom(cmd, { 'ca.keyAlgorithm': o.keyAlgorithm });
      const { caSettings, resolvePassphrase } = await import('../app/index.js');
      const { initCa } = await import('../pki/index.js');
      const { describe } = await import('./ca-view.js');
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
      const { publicCaCertificates } = await import('../pki/index.js');
      const { describe, expiryNotice } = await import('./ca-view.js');
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
