/** Public shapes of the simulator: options, scenarios, the ground truth it writes. */

/** Attack scenarios the file-mode simulator can inject (docs/simulator.md describes each). */
export const SCENARIOS = ['lost-credential-rogue', 'clone', 'unregistered-device', 'decommissioned-return', 'shared-cert', 'spoofed-gps'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface SimOptions {
  /** output directory: registry.csv, events.ndjson, truth.json */
  dir: string;
  /** registered femtocells (default 20,000) */
  devices?: number;
  /** simulated days; when left out the span follows from `events` */
  days?: number;
  /** approximate event target, used to size the span when `days` is left out (default 5,000,000) */
  events?: number;
  seed?: number;
  /** scenarios to inject (default all of SCENARIOS) */
  scenarios?: readonly ScenarioName[];
  /** mix in malformed lines, an unknown type and a blank line (the benchmark wants them; default false) */
  malformed?: boolean;
  /** called every few thousand lines with the simulated time reached */
  onProgress?: (doneMs: number, spanMs: number, lines: number) => void;
}

/** One injected attack: the entities a detector must flag, and when it began. */
export interface Rogue {
  name: ScenarioName;
  serials: string[];
  cellIds: string[];
  /** RFC 3339 UTC: the first event of the attack */
  start: string;
  /** RFC 3339 UTC: the last moment of the attack window */
  end: string;
}

/** Ground truth, in the shape of the shared kt-small sample's expected.json (plus `end` per rogue). */
export interface Truth {
  seed: number;
  rogues: Rogue[];
  /** benign events that a detector must not mistake for attacks */
  expected: { name: string; serial: string; note: string }[];
  fraudTx: string[];
  /** per compromised cell, the IMSIs that attached to it during its attack window */
  exposedImsis: Record<string, string[]>;
  compromised: { serials: string[]; cellIds: string[] };
  benignSerials: string[];
  benignCellIds: string[];
  counts: { events: number; devices: number; fraudTx: number; exposed: number };
}

export interface SimResult {
  registryPath: string;
  eventsPath: string;
  truthPath: string;
  devices: number;
  /** lines written to events.ndjson (including any malformed and blank ones) */
  lines: number;
  bytes: number;
  seconds: number;
  spanHours: number;
  /** one line per rogue (first serial): the shape bench/detect.ts reads from incidents.json */
  incidents: { name: string; serial: string; cellIds: string[]; start: string }[];
  truth: Truth;
}
