import type { Command } from 'commander';
import { actor, withBase } from './context.js';
import { printResult, table } from './output.js';

/**
 * `femtoguard gateway`: the admission gateway address rotation. The CLI writes the rotation
 * state to the database; a running server picks it up within `admission.rotation.pollMs`.
 */
export function registerGateway(program: Command): void {
  const g = program.command('gateway').description('gateway address rotation (admission listeners)');
  g.command('status')
    .description('the current and next gateway address, and retired ones')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const { openGatewayRotation } = await import('../app/admission.js');
      await withBase(cmd, async (ctx) => {
        const view = await openGatewayRotation(ctx).refresh();
        const a = view.announcement();
        const value = { ...a, epoch: view.latest?.seq ?? null, pool: view.latest?.pool ?? [], retired: view.retired() };
        printResult(!!o.json, value, () =>
          view.latest === null
            ? 'no rotation yet (configure admission.rotation.pool and start the server, or run `gateway rotate`)'
            : [`current  ${a.current ?? ''}`, `next     ${a.next ?? ''}`, `rotates  ${a.rotatesAt ?? ''}`, '', table(['retired', 'retired at', 'stale since'], value.retired.map((r) => [r.endpoint, r.retiredAt, r.staleSince]))].join('\n'),
        );
      });
    });
  g.command('rotate')
    .description('retire the current address now: the announced next one becomes current')
    .option('--reason <text>', 'why (audit log)', 'operator request')
    .option('--json', 'print JSON')
    .action(async (o: { reason: string; json?: boolean }, cmd: Command) => {
      const { openGatewayRotation } = await import('../app/admission.js');
      await withBase(cmd, async (ctx) => {
        const rotation = openGatewayRotation(ctx);
        const before = (await rotation.refresh()).latest;
        const e = await rotation.rotate(actor(), o.reason);
        printResult(!!o.json, { ...e, retired: before?.current ?? null }, () => `gateway rotated: current ${e.current}, next ${e.next} (at ${e.rotatesAt}); retired ${before?.current ?? 'nothing'}`);
      });
    });
}
