import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { AppError } from '../core/errors.js';
import { actor, withBase } from './context.js';
import { printResult, table } from './output.js';

export function registerEnrollment(program: Command): void {
  const et = program.command('enroll-token').description('one-time EST enrollment tokens, bound to one serial');
  et.command('create')
    .requiredOption('--serial <serial>', 'the device this token may enroll')
    .option('--ttl <duration>', 'lifetime, e.g. 7d, 12h, 30m', '7d')
    .option('--json', 'print JSON')
    .action(async (o: { serial: string; ttl: string; json?: boolean }, cmd: Command) => {
      const { parseDuration } = await import('../api/index.js');
      await withBase(cmd, async (ctx) => {
        const t = await ctx.enrollment.createToken(o.serial, parseDuration(o.ttl), actor());
        printResult(!!o.json, t, () => t.token);
      });
    });
  et.command('list')
    .option('--serial <serial>')
    .option('--json', 'print JSON')
    .action(async (o: { serial?: string; json?: boolean }, cmd: Command) => {
      await withBase(cmd, async (ctx) => {
        const items = await ctx.enrollment.listTokens(o.serial);
        printResult(!!o.json, items, () => table(['id', 'serial', 'expires', 'used'], items.map((t) => [t.id, t.serial, t.expiresAt, t.usedAt])));
      });
    });

  const vr = program.command('vendor-root').description('vendor (factory) roots whose device certificates may authorise first enrollment');
  vr.command('add <file>')
    .option('--json', 'print JSON')
    .action(async (file: string, o: { json?: boolean }, cmd: Command) => {
      let data: Buffer;
      try {
        data = readFileSync(file);
      } catch (e) {
        throw new AppError('invalid', 'cli.file_unreadable', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
      }
      const { fromPemAll, pemOrDerToDerList } = await import('../pki/index.js');
      const ders = data.includes('-----BEGIN') ? fromPemAll(data.toString('latin1'), 'CERTIFICATE').map((b) => b.der) : pemOrDerToDerList(data);
      if (ders.length === 0) throw new AppError('invalid', 'est.vendor_root_pem', `${file} holds no certificate`);
      await withBase(cmd, async (ctx) => {
        const out: { fingerprint: string; subject: string; added: boolean }[] = [];
        for (const der of ders) out.push(await ctx.enrollment.addVendorRoot(der, actor()));
        printResult(!!o.json, out, () => out.map((r) => `${r.added ? 'added' : 'already present'}: ${r.subject} (sha256 ${r.fingerprint})`).join('\n'));
      });
    });
  vr.command('list')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      await withBase(cmd, async (ctx) => {
        const items = (await ctx.enrollment.vendorRoots()).map(({ der: _der, ...r }) => r);
        printResult(!!o.json, items, () => table(['fingerprint', 'subject', 'added'], items.map((r) => [r.fingerprint, r.subject, r.addedAt])));
      });
    });
}
