import type { Command } from 'commander';
import { ROLES, type Role } from './choices.js';
import { actor, withBase } from './context.js';
import { printResult, table, usage } from './output.js';

export function registerToken(program: Command): void {
  const t = program.command('token').description('API bearer tokens (stored hashed; shown once)');
  t.command('create')
    .requiredOption('--role <role>', ROLES.join('|'))
    .option('--label <text>', 'what the token is for')
    .option('--expires-in <duration>', 'the token stops being valid after this long (90d, 12h, 30m; at least 60 s); default: valid until revoked')
    .option('--json', 'print JSON')
    .action(async (o: { role: string; label?: string; expiresIn?: string; json?: boolean }, cmd: Command) => {
      if (!ROLES.includes(o.role as Role)) throw usage(`--role must be one of ${ROLES.join(', ')}`);
      let ttlSeconds: number | undefined;
      if (o.expiresIn !== undefined) {
        const { parseDuration } = await import('../api/index.js');
        try {
          ttlSeconds = parseDuration(o.expiresIn);
        } catch {
          throw usage(`--expires-in: "${o.expiresIn}" is not a duration like 90d, 12h or 30m`);
        }
      }
      await withBase(cmd, async (ctx) => {
        const { token, record } = await ctx.tokens.create(o.role as Role, actor(), o.label, ttlSeconds === undefined ? {} : { ttlSeconds });
        printResult(!!o.json, { ...record, token }, () => token);
      });
    });
  t.command('list')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      await withBase(cmd, async (ctx) => {
        const items = await ctx.tokens.list();
        printResult(!!o.json, items, () => table(['id', 'role', 'label', 'created', 'expires', 'revoked'], items.map((i) => [i.id, i.role, i.label, i.createdAt, i.expiresAt, i.revokedAt])));
      });
    });
  t.command('revoke <id>').action(async (id: string, _o: unknown, cmd: Command) => {
    await withBase(cmd, async (ctx) => {
      await ctx.tokens.revoke(id, actor());
      process.stdout.write(`token ${id} revoked\n`);
    });
  });
}
