import type { Command } from 'commander';
import { AppError } from '../core/errors.js';
import type { ChainAnchor, ChainReport } from '../audit-log/index.js';
import { CRL_REASONS } from './choices.js';
import { actor, withBase } from './context.js';
import { printResult, table, usage } from './output.js';
import { progressBar } from './progress.js';

export function registerCert(program: Command): void {
  const c = program.command('cert').description('issued certificates and revocation');
  c.command('revoke')
    .description('revoke one certificate (--cert) or every certificate of a device (--serial)')
    .option('--serial <serial>', 'device serial: revoke all its certificates')
    .option('--cert <hexserial>', 'certificate serial number in hex')
    .option('--reason <reason>', `one of ${Object.keys(CRL_REASONS).filter((r) => r !== 'removeFromCRL').join(', ')}`, 'unspecified')
    .option('--json', 'print JSON')
    .action(async (o: { serial?: string; cert?: string; reason: string; json?: boolean }, cmd: Command) => {
      if (!!o.serial === !!o.cert) throw usage('give exactly one of --serial or --cert');
      const { normalizeSerialHex, parseCrlReason } = await import('../pki/index.js');
      const reason = parseCrlReason(o.reason);
      if (reason === CRL_REASONS.removeFromCRL) throw usage('removeFromCRL is not a revocation reason');
      await withBase(cmd, async (ctx) => {
        if (o.cert) {
          const hex = normalizeSerialHex(o.cert);
          if (!hex) throw usage('--cert must be a hex serial number');
          await ctx.revocation.revokeCertificate(hex, reason, actor());
          printResult(!!o.json, { revoked: [hex] }, () => `certificate ${hex} revoked (${o.reason})`);
        } else {
          const serial = o.serial as string;
          await ctx.registry.mustGet(serial);
          const revoked = await ctx.revocation.revokeDevice(serial, reason, actor());
          printResult(!!o.json, { revoked }, () => `${revoked.length} certificate(s) of ${serial} revoked (${o.reason})`);
        }
      });
    });
  c.command('list')
    .option('--device <serial>')
    .option('--status <status>', 'valid|revoked')
    .option('--limit <n>', 'at most this many', '1000')
    .option('--json', 'print JSON')
    .action(async (o: { device?: string; status?: string; limit: string; json?: boolean }, cmd: Command) => {
      if (o.status && o.status !== 'valid' && o.status !== 'revoked') throw usage('--status must be valid or revoked');
      await withBase(cmd, async (ctx) => {
        const items = await ctx.stores.certs.list({ deviceSerial: o.device, status: o.status as 'valid' | 'revoked' | undefined, limit: Number(o.limit) || 1000 });
        printResult(!!o.json, items, () => table(['serial', 'device', 'status', 'not after', 'fingerprint'], items.map((x) => [x.serialHex, x.deviceSerial, x.status, x.notAfter, x.fingerprint])));
      });
    });
  c.command('show <hexserial>')
    .option('--pem', 'print the certificate as PEM')
    .option('--json', 'print JSON')
    .action(async (hex: string, o: { pem?: boolean; json?: boolean }, cmd: Command) => {
      const { normalizeSerialHex, toPem } = await import('../pki/index.js');
      await withBase(cmd, async (ctx) => {
        const h = normalizeSerialHex(hex);
        if (!h) throw usage('give a hex serial number');
        const rec = await ctx.stores.certs.get(h);
        const der = rec ? await ctx.stores.certs.getDer(h) : null;
        if (!rec || !der) throw new AppError('not_found', 'cert.not_found', `no certificate with serial ${hex}`);
        if (o.pem) return void process.stdout.write(toPem('CERTIFICATE', der));
        printResult(!!o.json, rec, () => Object.entries(rec).map(([k, v]) => `${k.padEnd(12)} ${v ?? ''}`).join('\n'));
      });
    });

  program
    .command('audit-log')
    .description('the audit log, newest first; --verify checks its hash chain instead')
    .option('--action <action>', 'e.g. est.enroll, credential-shared, device.* ')
    .option('--subject <subject>')
    .option('--limit <n>', 'at most this many', '100')
    .option('--verify', 'check the hash chain of the whole log: exit 0 when intact, 1 when broken (names the first breaks)')
    .option('--anchor <id:hash>', 'with --verify: a head recorded earlier (printed by every --verify); the log must still hold it')
    .option('--json', 'print JSON')
    .action(async (o: { action?: string; subject?: string; limit: string; verify?: boolean; anchor?: string; json?: boolean }, cmd: Command) => {
      if (o.anchor !== undefined && !o.verify) throw usage('--anchor goes with --verify');
      const anchor = o.anchor === undefined ? undefined : parseAnchor(o.anchor);
      await withBase(cmd, async (ctx) => {
        if (o.verify) {
          const bar = progressBar(await ctx.stores.audit.count(), 'events');
          const r = await ctx.stores.audit.verify({ anchor, onProgress: (n) => bar.update(n) });
          bar.stop();
          printResult(!!o.json, r, () => chainText(r));
          if (!r.ok) process.exitCode = 1;
          return;
        }
        const items = await ctx.stores.audit.list({ action: o.action, subject: o.subject, limit: Number(o.limit) || 100 });
        printResult(!!o.json, items, () => table(['id', 'at', 'action', 'outcome', 'actor', 'subject'], items.map((e) => [e.id, e.at, e.action, e.outcome, e.actor, e.subject])));
      });
    });
}

function parseAnchor(text: string): ChainAnchor {
  const m = /^(\d+):([0-9a-f]{64})$/.exec(text.trim());
  if (!m) throw usage(`--anchor: "${text}" is not ID:HASH (an event id, a colon, 64 lowercase hex digits) as --verify prints it`);
  return { id: Number(m[1]), hash: m[2] as string };
}

function chainText(r: ChainReport): string {
  const head = r.head ? `head ${r.head.id}:${r.head.hash}` : 'no events';
  if (r.ok) return `audit log: ${r.events} events, hash chain intact; ${head}\n(keep the head outside this machine; later: femtoguard audit-log --verify --anchor ${r.head ? `${r.head.id}:${r.head.hash}` : 'ID:HASH'})`;
  const more = r.breakCount > r.breaks.length ? `\n... and ${r.breakCount - r.breaks.length} more` : '';
  return `audit log: ${r.events} events, hash chain BROKEN at ${r.breakCount} point(s); ${head}\n${r.breaks.map((b) => `  event ${b.id}: ${b.problem}: ${b.detail}`).join('\n')}${more}`;
}
