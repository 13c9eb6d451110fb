/** The ground truth written beside the data (truth.json), in the shape of kt-small's expected.json. */
import type { Device } from './scenarios.js';
import type { Rogue, Truth } from './types.js';

/** `events`: valid event lines written (malformed, unknown-type and blank lines left out). */
export function buildTruth(seed: number, rogues: Rogue[], relocated: string[], fraudTx: string[], exposed: Map<string, Set<string>>, devices: readonly Device[], events: number): Truth {
  const badSerials = new Set(rogues.flatMap((r) => r.serials));
  // A rogue serial's own registered cells are compromised too (a detector rightly names them).
  const badCells = new Set([...rogues.flatMap((r) => r.cellIds), ...devices.filter((d) => badSerials.has(d.serial)).map((d) => d.cell)]);
  const exposedImsis: Record<string, string[]> = {};
  for (const r of rogues) for (const c of r.cellIds) exposedImsis[c] = [...(exposed.get(c) ?? [])].sort();
  const all = new Set(Object.values(exposedImsis).flat());
  return {
    seed,
    rogues,
    expected: relocated.map((serial) => ({ name: 'announced-relocation', serial, note: 'benign: must not raise medium+ alerts' })),
    fraudTx: [...fraudTx].sort(),
    exposedImsis,
    compromised: { serials: [...badSerials], cellIds: [...badCells] },
    benignSerials: devices.filter((d) => !badSerials.has(d.serial)).map((d) => d.serial),
    benignCellIds: devices.filter((d) => !badCells.has(d.cell)).map((d) => d.cell),
    counts: { events, devices: devices.length, fraudTx: fraudTx.length, exposed: all.size },
  };
}
