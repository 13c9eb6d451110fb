import { readRegistryCsvRows, type DeviceInput } from '../registry/index.js';
import { AlertBook, type Alert, type FoldedAlert } from './alerts.js';
import type { DetectionConfig, RuleId } from './config.js';
import { createEngine, type EngineStats } from './engine.js';
import type { EnginePartition } from './partition.js';
import { RegistryView } from './state.js';
import { ReplayFeed } from './replay-feed.js';
import { ReplayReader, type EventsSummary, type LineError, type OrderedBatch } from './replay-reader.js';

export type { LineError, EventsSummary } from './replay-reader.js';

export interface ReplaySummary {
  registry: { devices: number; rejected: LineError[] };
  events: EventsSummary;
  alerts: { total: number; byRule: Partial<Record<RuleId, number>>; bySeverity: Record<string, number> };
  engine: EngineStats;
}

/** Reads a registry CSV; bad rows are reported and skipped. */
export async function readRegistry(input: AsyncIterable<Buffer | string>): Promise<{ devices: DeviceInput[]; rejected: LineError[] }> {
  const devices: DeviceInput[] = [];
  const rejected: LineError[] = [];
  /** the line each serial was first read on: FORMATS.md §2 makes the serial unique */
  const lineOf = new Map<string, number>();
  for await (const rows of readRegistryCsvRows(input)) {
    for (const r of rows) {
      if (!r.ok) {
        rejected.push({ line: r.line, error: r.errors.map((e) => e.replace(/^line \d+: /, '')).join('; ') });
        continue;
      }
      const first = lineOf.get(r.device.serial);
      // A second row of a serial is refused, not merged or taken over: which of two records is
      // the device's is for the operator to say, and the first one read is kept.
      if (first !== undefined) rejected.push({ line: r.line, error: `serial ${r.device.serial} is already on line ${first} (serials are unique)` });
      else {
        lineOf.set(r.device.serial, r.line);
        devices.push(r.device);
      }
    }
  }
  return { devices, rejected };
}

/** Loads a registry CSV into the engine's view; bad rows are reported and skipped. */
export async function loadRegistry(input: AsyncIterable<Buffer | string>): Promise<{ view: RegistryView; devices: number; rejected: LineError[] }> {
  const { devices, rejected } = await readRegistry(input);
  return { view: RegistryView.from(devices), devices: devices.length, rejected };
}

/** What an engine of a replay hands back at the end: its alerts with their folding order, its findings count. */
export interface ReplayEngineResult {
  folds: FoldedAlert[];
  findings: number;
}

/**
 * The engine's side of a replay: an engine over the registry, fed ordered batches; with a
 * partition, one of the two engines of a two-thread replay (see EngineOptions.partition).
 */
export function createReplayEngine(registry: RegistryView, config: DetectionConfig, partition?: EnginePartition) {
  const engine = createEngine({ registry, config, ...(partition ? { partition } : {}) });
  const feed = new ReplayFeed(engine, partition?.side);
  return {
    consume(b: OrderedBatch): void {
      feed.consume(b);
      // The subscriber side takes in the device side's flags of this batch and before now.
      engine.absorbFlags(b.base + b.rows);
    },
    /** end of input: the engine's final pass */
    finish(): ReplayEngineResult {
      engine.finish();
      return { folds: engine.alertBook().folds(), findings: engine.stats().findings };
    },
  };
}

/** The alerts and summary of a replay from its reader's counts and its engines' results. */
export function replayResult(reg: ReplaySummary['registry'], reader: ReplayReader, engines: readonly ReplayEngineResult[]): { alerts: Alert[]; summary: ReplaySummary } {
  const events = reader.summary();
  const alerts = AlertBook.merge(engines.map((e) => e.folds));
  const byRule: Partial<Record<RuleId, number>> = {};
  const bySeverity: Record<string, number> = {};
  for (const a of alerts) {
    byRule[a.rule] = (byRule[a.rule] ?? 0) + 1;
    bySeverity[a.severity] = (bySeverity[a.severity] ?? 0) + 1;
  }
  // Ordering and deduplication happened in the reader, and it counted what it handed on.
  const byType = reader.emittedByType();
  const stats: EngineStats = {
    events: Object.values(byType).reduce((x, y) => x + y, 0),
    byType,
    duplicates: events.duplicates,
    late: events.late,
    tooOld: events.tooOld,
    findings: engines.reduce((x, e) => x + e.findings, 0),
  };
  return { alerts, summary: { registry: reg, events, alerts: { total: alerts.length, byRule, bySeverity }, engine: stats } };
}

/**
 * Offline replay (`femtoguard detect`): the same engine the server runs, fed from NDJSON.
 * Malformed lines are reported with their line numbers and skipped; processing goes on.
 * In process (stdin); over files the reader and the engine run on two threads
 * (replay-thread.ts) with the same result.
 */
export async function replay(opts: {
  registry: AsyncIterable<Buffer | string>;
  events: AsyncIterable<Buffer | string>;
  config: DetectionConfig;
  onProgress?: (bytes: number, events: number) => void;
  /** false: every line through JSON.parse and validateEvent (the reference the scanner is checked against) */
  fastScan?: boolean;
}): Promise<{ alerts: Alert[]; summary: ReplaySummary }> {
  const reg = await loadRegistry(opts.registry);
  const side = createReplayEngine(reg.view, opts.config);
  // The engine keeps nothing of a batch once it has consumed it: its memory takes a later batch.
  const reader: ReplayReader = new ReplayReader(
    opts.config,
    (b) => {
      side.consume(b);
      reader.reuse(b);
    },
    { fastScan: opts.fastScan !== false },
  );
  let bytes = 0;
  for await (const chunk of opts.events) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    bytes += buf.length;
    reader.push(buf);
    opts.onProgress?.(bytes, reader.summary().accepted);
  }
  reader.end();
  return replayResult({ devices: reg.devices, rejected: reg.rejected }, reader, [side.finish()]);
}
