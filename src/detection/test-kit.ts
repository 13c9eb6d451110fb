/**
 * Test kit for the detection rules and the engine (used by `*.test.ts` beside the code, not
 * by the product): a registry from a few devices, events with sensible defaults that pass
 * the real validator (FORMATS.md §1), and a run through `createEngine` with `push` +
 * `finish`, exactly as `femtoguard detect` drives it.
 */
import type { z } from 'zod';
import { validateEvent, type FgEvent } from '../events/index.js';
import type { DeviceInput } from '../registry/index.js';
import type { Alert } from './alerts.js';
import { detectionConfigSchema, type RuleId } from './config.js';
import { createEngine, type Engine } from './engine.js';
import { RegistryView } from './state.js';

/** Time zero of every test stream: 2025-08-05T00:00:00Z. Event times are minutes after it. */
export const T0 = Date.parse('2025-08-05T00:00:00.000Z');
export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;

/** Epoch ms of `minutes` after T0. */
export const at = (minutes: number): number => T0 + Math.round(minutes * MIN);
/** The alert `ts` (RFC 3339 UTC) of an event `minutes` after T0. */
export const iso = (minutes: number): string => new Date(at(minutes)).toISOString();

/** 15-digit IMSI / E.164 MSISDN / 15-digit IMEI numbered `n` (stable, distinct per n). */
export const imsi = (n: number): string => `45008${String(n).padStart(10, '0')}`;
export const msisdn = (n: number): string => `+8210${String(n).padStart(8, '0')}`;
export const imei = (n: number): string => `35${String(n).padStart(13, '0')}`;
/** A lowercase hex SHA-256 fingerprint derived from a label. */
export const fp = (label: string): string => Buffer.from(label.padEnd(32, '.').slice(0, 32)).toString('hex');

/** A registered device: active, no cells, no site, no prefixes unless given. */
export function device(serial: string, fields: Partial<Omit<DeviceInput, 'serial'>> = {}): DeviceInput {
  return {
    serial,
    status: 'active',
    cellIds: [],
    siteLat: null,
    siteLon: null,
    siteRadiusM: 300,
    ipPrefixes: [],
    expectedNeighbors: [],
    certFingerprints: [],
    owner: null,
    ...fields,
  };
}

/** What a test may override in the detection config (the schema's input: any subset). */
export type ConfigOverrides = z.input<typeof detectionConfigSchema>;

/** Runs a raw event object through the real validator; a kit event that fails it is a test bug. */
function make(raw: Record<string, unknown>): FgEvent {
  const v = validateEvent(raw);
  if (!v.ok) throw new Error(`test-kit built an invalid event: ${'error' in v ? v.error : v.unknownType}: ${JSON.stringify(raw)}`);
  return v.event;
}

type Fields<K extends string> = Record<K, unknown> & Record<string, unknown>;

/**
 * Event builders: the first argument is minutes after T0 (fractions allowed), the second the
 * event's fields. `ts` is written as RFC 3339 UTC unless the fields give one.
 */
export const ev = {
  session: (minutes: number, f: Fields<'serial' | 'sourceIp'>): FgEvent => make({ type: 'femto.session', ts: iso(minutes), phase: 'up', ...f }),
  down: (minutes: number, f: Fields<'serial' | 'sourceIp'>): FgEvent => make({ type: 'femto.session', ts: iso(minutes), ...f, phase: 'down' }),
  report: (minutes: number, f: Fields<'serial'>): FgEvent => make({ type: 'femto.report', ts: iso(minutes), ...f }),
  attach: (minutes: number, f: Fields<'cellId' | 'imsi'>): FgEvent => make({ type: 'ue.attach', ts: iso(minutes), ...f }),
  ims: (minutes: number, f: Fields<'imsi' | 'ipsec'>): FgEvent => make({ type: 'ims.register', ts: iso(minutes), ...f }),
  payment: (minutes: number, f: Fields<'txId' | 'msisdn'>): FgEvent => make({ type: 'payment.auth', ts: iso(minutes), amountMinor: 9900, currency: 'KRW', method: 'sms-otp', ...f }),
  update: (minutes: number, f: Fields<'serial'>): FgEvent => make({ type: 'registry.update', ts: iso(minutes), ...f }),
};

export interface RunResult {
  alerts: Alert[];
  engine: Engine;
  /** the alerts of one rule */
  of(rule: RuleId): Alert[];
  /** the single alert of a rule; throws when there is not exactly one */
  one(rule: RuleId): Alert;
}

/**
 * Pushes `events` (in the given order) through a fresh engine over a registry of `devices`
 * with `detectionConfigSchema.parse(overrides)`, then `finish`es and returns the alerts.
 */
export function detect(devices: readonly DeviceInput[], events: readonly FgEvent[], overrides: ConfigOverrides = {}): RunResult {
  const engine = createEngine({ registry: RegistryView.from(devices), config: detectionConfigSchema.parse(overrides) });
  for (const e of events) engine.push(e);
  engine.finish();
  const alerts = engine.alerts();
  const of = (rule: RuleId): Alert[] => alerts.filter((a) => a.rule === rule);
  return {
    alerts,
    engine,
    of,
    one(rule) {
      const hits = of(rule);
      if (hits.length !== 1) throw new Error(`expected one ${rule} alert, got ${hits.length}: ${JSON.stringify(alerts.map((a) => [a.rule, a.serial ?? a.cellId ?? a.txId]))}`);
      return hits[0] as Alert;
    },
  };
}

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32), for property-style tests. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** A point `metres` north of (lat, lon): enough geometry for distance thresholds. */
export function north(lat: number, lon: number, metres: number): { lat: number; lon: number } {
  return { lat: lat + metres / 111_195, lon };
}
