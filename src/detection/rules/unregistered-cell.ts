import type { Rule, RuleContext } from '../rule.js';

/** A cell that no registered device may serve, announced by a femtocell or seen in an attach. */
export function unregisteredCell(): Rule {
  let pattern: RegExp | null | undefined;
  const femto = (cellId: string, ctx: RuleContext): boolean => {
    if (pattern === undefined) {
      const p = ctx.cfg['unregistered-cell'].femtoCellPattern;
      pattern = p ? new RegExp(p) : null;
    }
    return pattern === null || pattern.test(cellId);
  };
  const check = (cellId: string, t: number, ctx: RuleContext, source: string, serial?: string, eventId?: string): void => {
    if (ctx.registry.cellRegistered(cellId) || !femto(cellId, ctx)) return;
    ctx.raise({
      rule: 'unregistered-cell',
      severity: ctx.cfg['unregistered-cell'].severity,
      t,
      cellId,
      ...(serial ? { serial } : {}),
      summary: `Cell ${cellId} is not in any registered femtocell's allowed cells but ${source}: treat every subscriber on it as exposed and block the device announcing it.`,
      evidence: { source, serial: serial ?? null, eventId: eventId ?? null },
    });
  };
  return {
    id: 'unregistered-cell',
    onSession: (e, ctx) => {
      if (e.phase === 'up' && e.cellIds) for (const c of e.cellIds) check(c, e.t, ctx, `was announced by ${e.serial} at session start`, e.serial, e.id);
    },
    onReport: (e, ctx, dev) => {
      if (!e.cellIds) return;
      // The engine has set dev.announced to these cells; a device announces the same ones report
      // after report (the set is then the same object), so once found all registered they are not
      // looked up again until the registry changes.
      if (dev.cellsOk === dev.announced && dev.cellsOkVersion === ctx.registry.version) return;
      let ok = true;
      for (const c of e.cellIds) {
        if (!ctx.registry.cellRegistered(c)) ok = false;
        check(c, e.t, ctx, `is announced by ${e.serial}`, e.serial, e.id);
      }
      if (ok) {
        dev.cellsOk = dev.announced;
        dev.cellsOkVersion = ctx.registry.version;
      }
    },
    onAttach: (e, ctx, cell) => {
      if (!cell.registered) check(e.cellId, e.t, ctx, 'serves subscribers', undefined, e.id);
    },
  };
}
