import type { Rule, RuleContext } from '../rule.js';
import { quoted } from '../text.js';

/** Where the cell was seen: announced at session start, announced in a report, or in an attach. */
type Seen = 'session' | 'report' | 'attach';

/**
 * How the cell was seen, once as the evidence's `source` (the serial as sent) and once for the
 * summary (the serial quoted: a rogue chooses it).
 */
function seenText(seen: Seen, serial: string | undefined, show: (v: string) => string): string {
  if (seen === 'attach' || serial === undefined) return 'serves subscribers';
  return seen === 'session' ? `was announced by ${show(serial)} at session start` : `is announced by ${show(serial)}`;
}

const asIs = (v: string): string => v;

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
  // The event, not its id: the id is read only when a finding is raised (a replayed report reads
  // it from the line's bytes when asked: EventDecoder.decodeForEngine).
  const check = (cellId: string, t: number, ctx: RuleContext, seen: Seen, serial: string | undefined, event: { readonly id?: string | undefined }): void => {
    if (ctx.registry.cellRegistered(cellId) || !femto(cellId, ctx)) return;
    const source = seenText(seen, serial, asIs);
    ctx.raise({
      rule: 'unregistered-cell',
      severity: ctx.cfg['unregistered-cell'].severity,
      t,
      cellId,
      ...(serial ? { serial } : {}),
      summary: `Cell ${quoted(cellId)} is not in any registered femtocell's allowed cells but ${seenText(seen, serial, quoted)}: treat every subscriber on it as exposed and block the device announcing it.`,
      evidence: { source, serial: serial ?? null, eventId: event.id ?? null },
    });
  };
  return {
    id: 'unregistered-cell',
    onSession: (e, ctx) => {
      if (e.phase === 'up' && e.cellIds) for (const c of e.cellIds) check(c, e.t, ctx, 'session', e.serial, e);
    },
    onReport: (e, ctx, dev) => {
      if (e.cellIds === undefined) return;
      // The engine has set dev.announced to these cells; a device announces the same ones report
      // after report (the set is then the same object), so once found all registered they are not
      // looked up again until the registry changes.
      if (dev.cellsOk === dev.announced && dev.cellsOkVersion === ctx.registry.version) return;
      let ok = true;
      for (const c of e.cellIds) {
        if (!ctx.registry.cellRegistered(c)) ok = false;
        check(c, e.t, ctx, 'report', e.serial, e);
      }
      if (ok) {
        dev.cellsOk = dev.announced;
        dev.cellsOkVersion = ctx.registry.version;
      }
    },
    onAttach: (e, ctx, cell) => {
      if (!cell.registered) check(e.cellId, e.t, ctx, 'attach', undefined, e);
    },
  };
}
