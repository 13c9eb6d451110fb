/**
 * Test kit for the byte scanner and decoder (used by fast-scan.test.ts and fast-decode.test.ts,
 * not by the product): the ordinary path as the reader runs it, and sample lines of every type.
 */
import { createRecords, scanEvent, type EventRecords } from './fast-scan.js';
import type { EventDecoder } from './fast-decode.js';
import type { FgEvent } from './types.js';
import { validateEvent } from './validate.js';

/** The slow path, exactly as the caller runs it: UTF-8 text, JSON.parse, validateEvent. */
export function slowPath(line: Buffer): FgEvent | null {
  let value: unknown;
  try {
    value = JSON.parse(line.toString('utf8'));
  } catch {
    return null;
  }
  const r = validateEvent(value);
  return r.ok ? r.event : null;
}

/** The decoded event without its undefined-valued keys (the slow path has none). */
export function defined(event: FgEvent): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(event)) {
    if (v === undefined) continue;
    out[k] = k === 'gps' ? defined(v as FgEvent) : v;
  }
  return out;
}

/** Scans one line into a fresh record table; returns the table, or null when the scanner refused it. */
export function scanOne(line: string): EventRecords | null {
  const rec = createRecords(1);
  return scanEvent(Buffer.from(line, 'utf8'), 0, Buffer.byteLength(line), rec, 0) ? rec : null;
}

export const TS = '"2025-08-05T02:14:09.123Z"';
export const FP = 'ab'.repeat(32);
export const REPORT = `{"type":"femto.report","serial":"KTF000057","sourceIp":"175.201.247.182","cellIds":["45008-200000057"],"swVersion":"FW-4.2.1","gps":{"lat":37.600591,"lon":126.788551,"accuracyM":32.1},"neighbors":["45008-100000581","45008-100000582"],"configHash":"sha256:00ff","ts":${TS},"id":"e9895"}`;
export const SESSION = `{"type":"femto.session","serial":"KTF000001","phase":"up","sourceIp":"175.198.195.7","certFingerprint":"${FP}","cellIds":["45008-200000001"],"endpoint":"segw.example.net:500","sessionId":"s-1","ts":${TS},"id":"e1"}`;
export const ATTACH = `{"type":"ue.attach","cellId":"45008-200000103","imsi":"450080000000626","imei":"351082645176936","msisdn":"+821010000626","ts":${TS},"id":"e17727"}`;
export const IMS = `{"type":"ims.register","imsi":"450080000002060","msisdn":"+821010002060","cellId":"45008-200000078","ipsec":true,"ts":1754003493715,"id":"e13837"}`;
export const PAY = `{"type":"payment.auth","txId":"tx550841893052","msisdn":"+821010002033","amountMinor":100000,"currency":"KRW","method":"sms-otp","merchant":"game-b","ts":${TS},"id":"e20946"}`;

/** Scans and decodes one line the scanner must take. */
export function decodeLine(d: EventDecoder, line: string): FgEvent {
  const rec = scanOne(line);
  if (!rec) throw new Error(`not scanned: ${line}`);
  return d.decode(Buffer.from(line), rec, 0);
}

/** The five sample lines above, each of which carries every optional field of its type. */
export const SAMPLES: readonly string[] = [REPORT, SESSION, ATTACH, IMS, PAY];

/** Optional string fields of the fast-path types (FORMATS.md §1): `null` or `""` there means absent. */
const OPTIONAL_STRINGS = new Set(['id', 'sourceIp', 'swVersion', 'configHash', 'certFingerprint', 'endpoint', 'sessionId', 'imei', 'msisdn', 'cellId', 'method', 'merchant']);
/** Optional fields of other kinds: `null` there means absent (`""` is a wrong type). */
const OPTIONAL_OTHERS = new Set(['cellIds', 'neighbors', 'gps']);
/** Required fields per type: `null` and `""` stay refused there. */
const REQUIRED: Record<string, readonly string[]> = {
  'femto.report': ['serial'],
  'femto.session': ['serial', 'phase', 'sourceIp'],
  'ue.attach': ['cellId', 'imsi'],
  'ims.register': ['imsi', 'ipsec'],
  'payment.auth': ['txId', 'msisdn', 'amountMinor', 'currency'],
};

export interface AbsentVariant {
  name: string;
  /** a sample line with one optional field written as `null` or `""` */
  line: string;
  /** the same line without that field: what the variant must read as */
  without: string;
}

/**
 * Every way of writing an absent optional field of the samples as `null` (or `""` for a
 * string field), including `gps.accuracyM`, each beside the line that leaves it out. Built from
 * the samples' own text, so a new optional field in them is covered without a change here.
 */
export function absentVariants(): AbsentVariant[] {
  const out: AbsentVariant[] = [];
  for (const sample of SAMPLES) {
    const base = JSON.parse(sample) as Record<string, unknown>;
    for (const key of Object.keys(base)) {
      const string = OPTIONAL_STRINGS.has(key) && !(REQUIRED[base.type as string] ?? []).includes(key);
      if (!string && !OPTIONAL_OTHERS.has(key)) continue;
      const without = { ...base };
      delete without[key];
      for (const written of string ? [null, ''] : [null]) {
        out.push({ name: `${String(base.type)} ${key}: ${JSON.stringify(written)}`, line: JSON.stringify({ ...base, [key]: written }), without: JSON.stringify(without) });
      }
    }
    if (typeof base.gps === 'object' && base.gps !== null && 'accuracyM' in base.gps) {
      const { accuracyM: _, ...gps } = base.gps as Record<string, unknown>;
      out.push({ name: `${String(base.type)} gps.accuracyM: null`, line: JSON.stringify({ ...base, gps: { ...gps, accuracyM: null } }), without: JSON.stringify({ ...base, gps }) });
    }
  }
  return out;
}

/** The samples with one required field written as `null` or `""`: refused by both paths. */
export function requiredWrittenEmpty(): { name: string; line: string }[] {
  const out: { name: string; line: string }[] = [];
  for (const sample of SAMPLES) {
    const base = JSON.parse(sample) as Record<string, unknown>;
    for (const key of REQUIRED[base.type as string] ?? []) {
      for (const written of [null, '']) out.push({ name: `${String(base.type)} ${key}: ${JSON.stringify(written)}`, line: JSON.stringify({ ...base, [key]: written }) });
    }
  }
  return out;
}

/** Times with more than nine fraction digits (RFC 3339 §5.6 allows any number), kept to the millisecond. */
export const LONG_FRACTION_TS: readonly string[] = [
  '"2025-08-05T02:14:09.1234567891Z"',
  '"2025-08-05T11:14:09.123456789012345+09:00"',
  '"2025-08-05 02:14:09.000000000000000000000000000001Z"',
  `"2025-08-05T02:14:09.${'9'.repeat(200)}Z"`,
  '"2016-12-31T23:59:60.1234567891Z"',
];
