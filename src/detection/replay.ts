import { forEachNdjsonLine, validateEvent, type NdjsonLine } from '../events/index.js';
import { readRegistryCsv, type DeviceInput } from '../registry/index.js';
import type { Alert } from './alerts.js';
import type { DetectionConfig, RuleId } from './config.js';
import { createEngine, type EngineStats } from './engine.js';
import { RegistryView } from './state.js';

export interface LineError {
  line: number;
  error: string;
}

export interface ReplaySummary {
  registry: { devices: number; rejected: LineError[] };
  events: { lines: number; accepted: number; rejected: LineError[]; rejectedCount: number; unknownTypes: Record<string, number>; duplicates: number; late: number; tooOld: number };
  alerts: { total: number; byRule: Partial<Record<RuleId, number>>; bySeverity: Record<string, number> };
  engine: EngineStats;
}

const MAX_LISTED_ERRORS = 1000;

/** Loads a registry CSV into the engine's view; bad rows are reported and skipped. */
export async function loadRegistry(input: AsyncIterable<Buffer | string>): Promise<{ view: RegistryView; devices: number; rejected: LineError[] }> {
  const devices: DeviceInput[] = [];
  const rejected: LineError[] = [];
  for await (const r of readRegistryCsv(input)) {
    if (r.ok) devices.push(r.device);
    else rejected.push({ line: r.line, error: r.errors.map((e) => e.replace(/^line \d+: /, '')).join('; ') });
  }
  return { view: RegistryView.from(devices), devices: devices.length, rejected };
}

/**
 * Offline replay (`femtoguard detect`): the same engine the server runs, fed from NDJSON.
 * Malformed lines are reported with their line numbers and skipped; processing goes on.
 */
export async function replay(opts: {
  registry: AsyncIterable<Buffer | string>;
  events: AsyncIterable<Buffer | string>;
  config: DetectionConfig;
  onProgress?: (bytes: number, events: number) => void;
}): Promise<{ alerts: Alert[]; summary: ReplaySummary }> {
  const reg = await loadRegistry(opts.registry);
  const engine = createEngine({ registry: reg.view, config: opts.config });
  const ev = { lines: 0, accepted: 0, rejected: [] as LineError[], rejectedCount: 0, unknownTypes: {} as Record<string, number>, duplicates: 0, late: 0, tooOld: 0 };
  const onLine = (l: NdjsonLine): void => {
    ev.lines++;
    if ('error' in l) return reject(l.line, l.error);
    const v = validateEvent(l.value);
    if (v.ok) {
      ev.accepted++;
      engine.push(v.event);
    } else if ('unknownType' in v) {
      ev.unknownTypes[v.unknownType] = (ev.unknownTypes[v.unknownType] ?? 0) + 1;
    } else reject(l.line, v.error);
  };
  const reject = (line: number, error: string): void => {
    ev.rejectedCount++;
    if (ev.rejected.length < MAX_LISTED_ERRORS) ev.rejected.push({ line, error });
  };
  await forEachNdjsonLine(opts.events, onLine, (bytes) => opts.onProgress?.(bytes, ev.accepted));
  engine.finish();
  const stats = engine.stats();
  ev.duplicates = stats.duplicates;
  ev.late = stats.late;
  ev.tooOld = stats.tooOld;
  const alerts = engine.alerts();
  const byRule: Partial<Record<RuleId, number>> = {};
  const bySeverity: Record<string, number> = {};
  for (const a of alerts) {
    byRule[a.rule] = (byRule[a.rule] ?? 0) + 1;
    bySeverity[a.severity] = (bySeverity[a.severity] ?? 0) + 1;
  }
  return { alerts, summary: { registry: { devices: reg.devices, rejected: reg.rejected }, events: ev, alerts: { total: alerts.length, byRule, bySeverity }, engine: stats } };
}
