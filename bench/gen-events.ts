/**
 * Seeded, streaming generator of a fleet registry and an event stream for bench/detect.ts:
 * a thin wrapper over the simulator (src/sim/, docs/simulator.md), so there is one generator.
 * Same seed, same options: byte-identical files.
 *
 *   npx tsx bench/gen-events.ts OUTDIR [--devices 20000] [--events 5000000] [--seed 1]
 *
 * writes OUTDIR/registry.csv, OUTDIR/events.ndjson, OUTDIR/truth.json and OUTDIR/incidents.json
 * (the injected incidents: serial, cells, start). The benchmark keeps its original four
 * incidents (lost-credential rogue, clone, unregistered unit, decommissioned return) and the
 * malformed lines; the time span follows from the event target (about 1.6 days for 5M
 * events at 20,000 devices).
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { generate as simulate, type SimResult } from '../src/sim/index.js';

export interface GenOptions {
  dir: string;
  devices?: number;
  events?: number;
  seed?: number;
}

export type GenResult = SimResult;

export function generate(opts: GenOptions): GenResult {
  const r = simulate({
    dir: opts.dir,
    devices: opts.devices ?? 20_000,
    events: opts.events ?? 5_000_000,
    seed: opts.seed ?? 1,
    scenarios: ['lost-credential-rogue', 'clone', 'unregistered-device', 'decommissioned-return'],
    malformed: true,
  });
  writeFileSync(join(opts.dir, 'incidents.json'), JSON.stringify(r.incidents, null, 2) + '\n');
  return r;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { devices: { type: 'string', default: '20000' }, events: { type: 'string', default: '5000000' }, seed: { type: 'string', default: '1' } },
  });
  const dir = positionals[0];
  if (!dir) {
    console.error('usage: npx tsx bench/gen-events.ts OUTDIR [--devices N] [--events M] [--seed S]');
    process.exit(2);
  }
  const r = generate({ dir, devices: Number(values.devices), events: Number(values.events), seed: Number(values.seed) });
  console.log(
    `${r.devices} devices, ${r.lines} event lines (${(r.bytes / 2 ** 20).toFixed(0)} MiB) over ${r.spanHours.toFixed(1)} h in ${r.seconds.toFixed(1)} s -> ${r.registryPath}, ${r.eventsPath}`,
  );
  for (const i of r.incidents) console.log(`  incident ${i.name}: ${i.serial} ${i.cellIds.join(' ')} from ${i.start}`);
}
