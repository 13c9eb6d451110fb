import type { Command } from 'commander';
import { createReadStream, statSync } from 'node:fs';
import { AppError } from '../core/errors.js';
import type { Device } from '../registry/index.js';
import { DEVICE_STATUSES, type DeviceStatus } from './choices.js';
import { actor, withBase } from './context.js';
import { list, printResult, table, usage } from './output.js';
import { progressBar } from './progress.js';

const num = (s: string | undefined): number | undefined => (s === undefined ? undefined : Number(s));

function showDevice(d: Device): string {
  return [
    `serial              ${d.serial}`,
    `status              ${d.status}`,
    `owner               ${d.owner ?? ''}`,
    `cell ids            ${d.cellIds.join('; ')}`,
    `site                ${d.siteLat ?? ''} ${d.siteLon ?? ''} (radius ${d.siteRadiusM} m)`,
    `ip prefixes         ${d.ipPrefixes.join('; ')}`,
    `expected neighbors  ${d.expectedNeighbors.join('; ')}`,
    `cert fingerprints   ${d.certFingerprints.join('; ')}`,
    `created / updated   ${d.createdAt} / ${d.updatedAt}`,
  ].join('\n');
}

export function registerDevice(program: Command): void {
  const dev = program.command('device').description('the fleet registry');

  dev
    .command('import <file>')
    .description('import a registry CSV (FORMATS.md §2); bad rows are reported with their line numbers, the rest imported')
    .option('--json', 'print JSON')
    .action(async (file: string, o: { json?: boolean }, cmd: Command) => {
      let size: number;
      try {
        size = statSync(file).size;
      } catch (e) {
        throw new AppError('invalid', 'cli.file_unreadable', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
      }
      await withBase(cmd, async (ctx) => {
        const bar = progressBar(size, 'bytes');
        const res = await ctx.registry.importCsv(createReadStream(file), actor(), (rows, bytes) => bar.update(bytes, `${rows} rows`));
        bar.stop();
        printResult(!!o.json, res, () =>
          [
            `${res.rows} rows: ${res.inserted} added, ${res.updated} updated, ${res.unchanged} unchanged, ${res.errors.length ? res.errors.filter((e) => e.line > 0).length : 0} rejected` +
              (res.certificatesRevoked ? `, ${res.certificatesRevoked} certificates revoked` : ''),
            ...res.errors.map((e) => (e.line > 0 ? `  line ${e.line}: ${e.message}` : `  ${e.message}`)),
          ].join('\n'),
        );
        if (res.errors.length) process.exitCode = 3;
      });
    });

  dev
    .command('add <serial>')
    .description('add one device')
    .option('--status <status>', DEVICE_STATUSES.join('|'), 'provisioned')
    .option('--cell-ids <list>', 'cells it may serve, ; or , separated')
    .option('--site-lat <deg>')
    .option('--site-lon <deg>')
    .option('--site-radius-m <m>')
    .option('--ip-prefixes <list>', 'CIDR prefixes it may connect from')
    .option('--expected-neighbors <list>', 'macro cells a scan at the site hears')
    .option('--owner <text>')
    .option('--json', 'print JSON')
    .action(async (serial: string, o: Record<string, string | boolean | undefined>, cmd: Command) => {
      const input = {
        serial,
        status: o.status,
        cellIds: list(o.cellIds as string | undefined),
        siteLat: num(o.siteLat as string | undefined),
        siteLon: num(o.siteLon as string | undefined),
        siteRadiusM: num(o.siteRadiusM as string | undefined),
        ipPrefixes: list(o.ipPrefixes as string | undefined),
        expectedNeighbors: list(o.expectedNeighbors as string | undefined),
        owner: o.owner,
      };
      const { deviceCreateSchema, formatZodError } = await import('../registry/index.js');
      const parsed = deviceCreateSchema.safeParse(Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)));
      if (!parsed.success) throw usage(formatZodError(parsed.error));
      await withBase(cmd, async (ctx) => {
        const d = await ctx.registry.add(parsed.data, actor());
        printResult(!!o.json, d, () => showDevice(d));
      });
    });

  dev
    .command('list')
    .description('list devices')
    .option('--status <status>', DEVICE_STATUSES.join('|'))
    .option('--owner <owner>')
    .option('--serial-prefix <prefix>')
    .option('--cell-id <cellId>', 'devices allowed to serve this cell')
    .option('--limit <n>', 'at most this many', '1000')
    .option('--json', 'print JSON')
    .action(async (o: { status?: string; owner?: string; serialPrefix?: string; cellId?: string; limit: string; json?: boolean }, cmd: Command) => {
      if (o.status && !DEVICE_STATUSES.includes(o.status as DeviceStatus)) throw usage(`--status must be one of ${DEVICE_STATUSES.join(', ')}`);
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1) throw usage('--limit must be a positive integer');
      await withBase(cmd, async (ctx) => {
        const items = await ctx.registry.list({ status: o.status as DeviceStatus | undefined, owner: o.owner, serialPrefix: o.serialPrefix, cellId: o.cellId, limit });
        printResult(!!o.json, items, () =>
          table(['serial', 'status', 'owner', 'cells', 'prefixes'], items.map((d) => [d.serial, d.status, d.owner, d.cellIds.join(';'), d.ipPrefixes.join(';')])),
        );
      });
    });

  dev
    .command('show <serial>')
    .description('one device, its certificates and its status history')
    .option('--json', 'print JSON')
    .action(async (serial: string, o: { json?: boolean }, cmd: Command) => {
      await withBase(cmd, async (ctx) => {
        const d = await ctx.registry.mustGet(serial);
        const certificates = await ctx.stores.certs.list({ deviceSerial: serial, limit: 1000 });
        const history = await ctx.registry.history(serial);
        printResult(!!o.json, { ...d, certificates, history }, () =>
          [
            showDevice(d),
            '',
            'certificates',
            table(['serial', 'status', 'not after', 'fingerprint'], certificates.map((c) => [c.serialHex, c.status, c.notAfter, c.fingerprint])),
            '',
            'status history',
            table(['at', 'from', 'to', 'actor', 'reason'], history.map((h) => [h.at, h.from, h.to, h.actor, h.reason])),
          ].join('\n'),
        );
      });
    });

  dev
    .command('set-status <serial> <status>')
    .description('lifecycle transition; lost and decommissioned revoke all certificates, suspended puts them on hold')
    .requiredOption('--reason <text>', 'why (recorded in the history and the audit log)')
    .option('--json', 'print JSON')
    .action(async (serial: string, status: string, o: { reason: string; json?: boolean }, cmd: Command) => {
      if (!DEVICE_STATUSES.includes(status as DeviceStatus)) throw usage(`status must be one of ${DEVICE_STATUSES.join(', ')}`);
      await withBase(cmd, async (ctx) => {
        const res = await ctx.registry.setStatus(serial, status as DeviceStatus, actor(), o.reason);
        printResult(!!o.json, res, () => `${serial} is now ${res.device.status}` + (res.certificatesChanged ? `; ${res.certificatesChanged} certificate(s) updated` : ''));
      });
    });
}
