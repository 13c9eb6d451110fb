/**
 * Validation of one device's registry data (FORMATS.md §2 CSV rows, §1 `registry.update`
 * events, and the REST bodies). Every path runs the same field rules below, so a value the
 * CSV import refuses is refused by the API too.
 */
import { z } from 'zod';
import { AppError } from '../core/errors.js';
import { readCsvRecords, type CsvReadOptions } from './csv.js';
import { DEVICE_STATUSES, type DeviceStatus } from './device-statuses.js';
import { normalizePrefix } from './prefix.js';

export { DEVICE_STATUSES, type DeviceStatus };

/** One device's registry data, validated and normalised. */
export interface DeviceInput {
  serial: string;
  status: DeviceStatus;
  cellIds: string[];
  siteLat: number | null;
  siteLon: number | null;
  siteRadiusM: number;
  ipPrefixes: string[];
  expectedNeighbors: string[];
  certFingerprints: string[];
  owner: string | null;
}

/** Fields a `registry.update` event or a PATCH may change; absent fields keep their value. */
export type DevicePatch = Partial<Omit<DeviceInput, 'serial'>>;

export const DEFAULT_SITE_RADIUS_M = 300;
export const MAX_SITE_RADIUS_M = 100_000;
/** Upper bound on each list, so one row or body cannot grow a device without limit. */
export const MAX_LIST_ITEMS = 1024;

// ---------------------------------------------------------------------------------------
// Field rules. Each takes an already-typed value and returns the normalised value or a
// message that names the bad value (the caller adds the field name).

/** `shown` is the value as the user wrote it (a CSV cell), when that differs from `value`. */
type Rule<I, O> = (value: I, shown?: string) => { ok: true; value: O } | { ok: false; message: string };

const ok = <O>(value: O): { ok: true; value: O } => ({ ok: true, value });
const bad = (message: string): { ok: false; message: string } => ({ ok: false, message });

/** A value quoted for an error message: JSON-escaped (no raw control characters) and cut short. */
export function quoteValue(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}

const SERIAL = /^[A-Za-z0-9._:-]{1,64}$/;
// eslint-disable-next-line no-control-regex -- control characters are what this refuses
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const FINGERPRINT_SEPARATORS = /:/g;
const HEX64 = /^[0-9a-f]{64}$/;

export const serialRule: Rule<string, string> = (v) => {
  const t = v.trim();
  return SERIAL.test(t) ? ok(t) : bad(`${quoteValue(v)} must be 1..64 characters of A-Z a-z 0-9 . _ : -`);
};

export const statusRule: Rule<string, DeviceStatus> = (v) => {
  const t = v.trim().toLowerCase();
  return (DEVICE_STATUSES as readonly string[]).includes(t)
    ? ok(t as DeviceStatus)
    : bad(`${quoteValue(v)} is not one of ${DEVICE_STATUSES.join(', ')}`);
};

const rangeRule =
  (min: number, max: number): Rule<number, number> =>
  (v, shown = String(v)) =>
    Number.isFinite(v) && v >= min && v <= max ? ok(v) : bad(`${quoteValue(shown)} is out of range ${min}..${max}`);

export const latRule = rangeRule(-90, 90);
export const lonRule = rangeRule(-180, 180);

export const radiusRule: Rule<number, number> = (v, shown = String(v)) =>
  Number.isFinite(v) && v > 0 && v <= MAX_SITE_RADIUS_M
    ? ok(v)
    : bad(`${quoteValue(shown)} must be a positive number of metres up to ${MAX_SITE_RADIUS_M}`);

/** Cell ids and neighbour cell ids: opaque operator strings (FORMATS.md §1). */
export const cellIdRule: Rule<string, string> = (v) => {
  const t = v.trim();
  if (t.length === 0) return bad('must not be empty');
  if (t.length > 64) return bad(`${quoteValue(t)} is longer than 64 characters`);
  if (t.includes(';') || CONTROL.test(t)) return bad(`${quoteValue(t)} must not contain ';' or control characters`);
  return ok(t);
};

export const prefixRule: Rule<string, string> = (v) => {
  try {
    return ok(normalizePrefix(v));
  } catch (e) {
    return bad(e instanceof AppError ? e.message : `${quoteValue(v)} is not a CIDR prefix`);
  }
};

/** SHA-256 of the DER certificate as lowercase hex without separators (FORMATS.md §1). */
export const fingerprintRule: Rule<string, string> = (v) => {
  const t = v.trim().replace(FINGERPRINT_SEPARATORS, '').toLowerCase();
  return HEX64.test(t) ? ok(t) : bad(`${quoteValue(v)} is not a SHA-256 fingerprint (64 hex digits)`);
};

/** Owner: free text up to 200 characters; empty means none. */
export const ownerRule: Rule<string | null, string | null> = (v) => {
  if (v === null) return ok(null);
  const t = v.trim();
  if (t.length === 0) return ok(null);
  if (t.length > 200) return bad(`${quoteValue(t)} is longer than 200 characters`);
  if (CONTROL.test(t)) return bad(`${quoteValue(t)} must not contain control characters`);
  return ok(t);
};

/** Applies `item` to each element, then drops duplicates (after normalisation), keeping order. */
export function listRule(item: Rule<string, string>): Rule<readonly string[], string[]> {
  return (values) => {
    if (values.length > MAX_LIST_ITEMS) return bad(`has ${values.length} items; at most ${MAX_LIST_ITEMS} allowed`);
    const seen = new Set<string>();
    const problems: string[] = [];
    for (const v of values) {
      const r = item(v);
      if (!r.ok) problems.push(r.message);
      else seen.add(r.value);
    }
    return problems.length > 0 ? bad(problems.join('; ')) : ok([...seen]);
  };
}

/** Both coordinates or neither: a site with one coordinate is meaningless. */
export function siteRule(lat: number | null, lon: number | null): string | null {
  return (lat === null) === (lon === null) ? null : 'site_lat and site_lon must be given together, or both left empty';
}

// ---------------------------------------------------------------------------------------
// zod schemas for JSON bodies and events, built on the same rules.

// eslint-disable-next-line @typescript-eslint/explicit-function-return-type -- zod's pipe type is best inferred
function ruled<I extends z.ZodType, O>(schema: I, rule: Rule<z.output<I>, O>) {
  return schema.transform((value, ctx) => {
    const r = rule(value);
    if (r.ok) return r.value;
    ctx.addIssue(r.message);
    return z.NEVER;
  });
}

const listOf = (item: Rule<string, string>): z.ZodType<string[], string[]> =>
  ruled(z.array(z.string()), listRule(item));

/** Field schemas, for modules (events, api) that compose their own objects from them. */
export const deviceFieldSchemas = {
  serial: ruled(z.string(), serialRule),
  status: ruled(z.string(), statusRule),
  cellIds: listOf(cellIdRule),
  siteLat: ruled(z.number(), latRule).nullable(),
  siteLon: ruled(z.number(), lonRule).nullable(),
  siteRadiusM: ruled(z.number(), radiusRule),
  ipPrefixes: listOf(prefixRule),
  expectedNeighbors: listOf(cellIdRule),
  certFingerprints: listOf(fingerprintRule),
  owner: ruled(z.string().nullable(), ownerRule),
};

const f = deviceFieldSchemas;

/** POST body for a new device; omitted optional fields take their defaults. Unknown keys are refused. */
export const deviceCreateSchema = z
  .strictObject({
    serial: f.serial,
    status: f.status.default('provisioned'),
    cellIds: f.cellIds.default([]),
    siteLat: f.siteLat.default(null),
    siteLon: f.siteLon.default(null),
    siteRadiusM: f.siteRadiusM.default(DEFAULT_SITE_RADIUS_M),
    ipPrefixes: f.ipPrefixes.default([]),
    expectedNeighbors: f.expectedNeighbors.default([]),
    certFingerprints: f.certFingerprints.default([]),
    owner: f.owner.default(null),
  })
  .superRefine((d, ctx) => {
    const problem = siteRule(d.siteLat, d.siteLon);
    if (problem !== null) ctx.addIssue({ code: 'custom', message: problem, path: ['siteLat'] });
  });

/**
 * PATCH body / `registry.update` changes (without `serial`): every field optional, absent
 * fields keep their value. Whether the site stays a pair is checked after merging, by
 * {@link applyDevicePatch}.
 */
export const devicePatchSchema = z.strictObject({
  status: f.status.optional(),
  cellIds: f.cellIds.optional(),
  siteLat: f.siteLat.optional(),
  siteLon: f.siteLon.optional(),
  siteRadiusM: f.siteRadiusM.optional(),
  ipPrefixes: f.ipPrefixes.optional(),
  expectedNeighbors: f.expectedNeighbors.optional(),
  certFingerprints: f.certFingerprints.optional(),
  owner: f.owner.optional(),
});

/**
 * Merges a validated patch into a device. Keys whose value is `undefined` keep the old value.
 * @throws AppError invalid `registry.site` when the result has only one coordinate
 */
export function applyDevicePatch(device: DeviceInput, patch: DevicePatch): DeviceInput {
  const next: DeviceInput = { ...device };
  for (const [key, value] of Object.entries(patch) as [keyof DevicePatch, unknown][]) {
    if (value !== undefined && key !== ('serial' as string)) (next as unknown as Record<string, unknown>)[key] = value;
  }
  const problem = siteRule(next.siteLat, next.siteLon);
  if (problem !== null) throw new AppError('invalid', 'registry.site', `${device.serial}: ${problem}`, { serial: device.serial });
  return next;
}

/** `field: message; field2: message`, with the JSON path of each issue (`cellIds[2]`). */
export function formatZodError(err: z.ZodError): string {
  return err.issues
    .map((issue) => {
      let path = '';
      for (const key of issue.path) {
        if (typeof key === 'number') path += `[${key}]`;
        else path += path.length > 0 ? `.${String(key)}` : String(key);
      }
      return `${path.length > 0 ? path : '(root)'}: ${issue.message}`;
    })
    .join('; ');
}

// ---------------------------------------------------------------------------------------
// CSV rows (FORMATS.md §2).

/** CSV column → DeviceInput key. Header names are matched ignoring case, spaces, '_' and '-'. */
const COLUMNS = {
  serial: 'serial',
  status: 'status',
  cell_ids: 'cellIds',
  site_lat: 'siteLat',
  site_lon: 'siteLon',
  site_radius_m: 'siteRadiusM',
  ip_prefixes: 'ipPrefixes',
  expected_neighbors: 'expectedNeighbors',
  cert_fingerprints: 'certFingerprints',
  owner: 'owner',
} as const satisfies Record<string, keyof DeviceInput>;
type Column = keyof typeof COLUMNS;

const squash = (name: string): string => name.trim().toLowerCase().replace(/[\s_-]/g, '');
const COLUMN_BY_SQUASHED = new Map<string, Column>(Object.keys(COLUMNS).map((c) => [squash(c), c as Column]));

/** A decimal number as a CSV cell; `Number()` alone would take "", "0x10" and "Infinity". */
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

export type CsvRowResult = { ok: true; line: number; device: DeviceInput } | { ok: false; line: number; errors: string[] };

export interface CsvRowMapper {
  /** Maps one data row (the fields of a CSV record that starts on `line`). */
  map(fields: readonly string[], line: number): CsvRowResult;
}

/**
 * Builds a row mapper for a registry CSV header: columns in any order, unknown ones ignored.
 * @throws AppError invalid `registry.csv_header` when `serial` or `status` is missing or a column repeats
 */
export function createCsvRowMapper(header: readonly string[]): CsvRowMapper {
  const index = new Map<Column, number>();
  header.forEach((name, k) => {
    const column = COLUMN_BY_SQUASHED.get(squash(name));
    if (column === undefined) return;
    if (index.has(column)) {
      throw new AppError('invalid', 'registry.csv_header', `registry CSV header names column ${column} twice`, { column });
    }
    index.set(column, k);
  });
  for (const required of ['serial', 'status'] as const) {
    if (!index.has(required)) {
      throw new AppError('invalid', 'registry.csv_header', `registry CSV header has no ${required} column`, {
        column: required,
      });
    }
  }
  const width = header.length;
  /** each column's field index, -1 for a column the header lacks */
  const at = (c: Column): number => index.get(c) ?? -1;
  const k = {
    serial: at('serial'),
    status: at('status'),
    cellIds: at('cell_ids'),
    siteLat: at('site_lat'),
    siteLon: at('site_lon'),
    siteRadiusM: at('site_radius_m'),
    ipPrefixes: at('ip_prefixes'),
    expectedNeighbors: at('expected_neighbors'),
    certFingerprints: at('cert_fingerprints'),
    owner: at('owner'),
  };

  return {
    map(fields, line) {
      if (fields.length !== width) {
        return { ok: false, line, errors: [`line ${line}: has ${fields.length} fields, the header has ${width}`] };
      }
      const errors: string[] = [];
      const row: Row = { fields, line, errors };
      const serial = take(row, k.serial, 'serial', serialRule, '');
      const status = take<DeviceStatus>(row, k.status, 'status', statusRule, 'provisioned');
      const cellIds = take(row, k.cellIds, 'cell_ids', CELL_ID_LIST, []);
      const errorsBeforeSite = errors.length;
      const siteLat = take<number | null>(row, k.siteLat, 'site_lat', LAT_NUMBER, null);
      const siteLon = take<number | null>(row, k.siteLon, 'site_lon', LON_NUMBER, null);
      // Only judge the pair when each coordinate on its own was fine.
      if (errors.length === errorsBeforeSite) {
        const problem = siteRule(siteLat, siteLon);
        if (problem !== null) errors.push(`line ${line}: ${problem}`);
      }
      const device: DeviceInput = {
        serial,
        status,
        cellIds,
        siteLat,
        siteLon,
        siteRadiusM: take(row, k.siteRadiusM, 'site_radius_m', RADIUS_NUMBER, DEFAULT_SITE_RADIUS_M),
        ipPrefixes: take(row, k.ipPrefixes, 'ip_prefixes', PREFIX_LIST, []),
        expectedNeighbors: take(row, k.expectedNeighbors, 'expected_neighbors', CELL_ID_LIST, []),
        certFingerprints: take(row, k.certFingerprints, 'cert_fingerprints', FINGERPRINT_LIST, []),
        owner: take(row, k.owner, 'owner', ownerRule, null),
      };
      return errors.length > 0 ? { ok: false, line, errors } : { ok: true, line, device };
    },
  };
}

/** A CSV row being mapped: its fields, its line, the errors found so far. */
interface Row {
  fields: readonly string[];
  line: number;
  errors: string[];
}

/**
 * The value of column `c` (field `k`, -1 when the header lacks it) by `rule`; an empty cell
 * (other than serial's and status's, which are required) is `fallback`, and so is a bad one,
 * whose error is added to the row's.
 */
function take<O>(row: Row, k: number, c: Column, rule: Rule<string, O>, fallback: O): O {
  const raw = k < 0 ? '' : (row.fields[k] ?? '');
  if (raw.trim().length === 0 && c !== 'serial' && c !== 'status') return fallback;
  const r = rule(raw);
  if (r.ok) return r.value;
  row.errors.push(`line ${row.line}: ${c} ${r.message}`);
  return fallback;
}

/** A rule over numbers, for a CSV cell (a decimal number). */
const number =
  (rule: Rule<number, number>): Rule<string, number> =>
  (raw) => {
    const t = raw.trim();
    return DECIMAL.test(t) ? rule(Number(t), raw) : bad(`${quoteValue(raw)} is not a number`);
  };

/** A rule over a list, for a CSV cell (items separated by ';', empty items skipped). */
const list = (item: Rule<string, string>): Rule<string, string[]> => {
  const rule = listRule(item);
  return (raw) => rule(raw.split(';').filter((s) => s.trim().length > 0));
};

// The CSV cells' rules, made once rather than per row.
const LAT_NUMBER = number(latRule);
const LON_NUMBER = number(lonRule);
const RADIUS_NUMBER = number(radiusRule);
const CELL_ID_LIST = list(cellIdRule);
const PREFIX_LIST = list(prefixRule);
const FINGERPRINT_LIST = list(fingerprintRule);

/**
 * Reads a whole registry CSV: the first record is the header, every later record becomes a
 * {@link CsvRowResult}. CSV syntax errors become failed rows, so the import goes on
 * (FORMATS.md §2: a bad row is reported by line and the others are imported).
 * @throws AppError invalid `registry.csv_header` when the header is missing or unusable
 */
export async function* readRegistryCsv(
  input: AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | Uint8Array | string>,
  options?: CsvReadOptions,
): AsyncGenerator<CsvRowResult> {
  for await (const rows of readRegistryCsvRows(input, options)) yield* rows;
}

/**
 * {@link readRegistryCsv}'s rows, those of each chunk read at a time (never an empty array):
 * for a reader of a whole registry, one step of an async generator per chunk rather than per row.
 * @throws AppError invalid `registry.csv_header` when the header is missing or unusable
 */
export async function* readRegistryCsvRows(
  input: AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | Uint8Array | string>,
  options?: CsvReadOptions,
): AsyncGenerator<CsvRowResult[]> {
  let mapper: CsvRowMapper | undefined;
  for await (const records of readCsvRecords(input, options)) {
    const rows: CsvRowResult[] = [];
    for (const record of records) {
      if (mapper === undefined) {
        if ('error' in record) {
          throw new AppError('invalid', 'registry.csv_header', `registry CSV header, line ${record.line}: ${record.error}`);
        }
        mapper = createCsvRowMapper(record.fields);
        continue;
      }
      if ('error' in record) rows.push({ ok: false, line: record.line, errors: [`line ${record.line}: ${record.error}`] });
      else rows.push(mapper.map(record.fields, record.line));
    }
    if (rows.length > 0) yield rows;
  }
  if (mapper === undefined) throw new AppError('invalid', 'registry.csv_header', 'registry CSV is empty: no header row');
}
