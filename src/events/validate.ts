import { z } from 'zod';
import { deviceFieldSchemas, devicePatchSchema, formatZodError } from '../registry/index.js';
import { parseEventTime } from './timestamp.js';
import type { FgEvent } from './types.js';

/** Outcome of validating one parsed JSON value against the event contract. */
export type Validated = { ok: true; event: FgEvent } | { ok: false; unknownType: string } | { ok: false; error: string };

type Obj = Record<string, unknown>;

const MAX_ID = 256;
const MAX_LIST = 1024;

const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= MAX_ID;
const isStrList = (v: unknown): v is string[] => {
  if (!Array.isArray(v) || v.length > MAX_LIST) return false;
  for (let i = 0; i < v.length; i++) if (!isStr(v[i])) return false;
  return true;
};
const isFiniteNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Returns an error text for the first problem, or null. Hand-written: this is the ingestion hot path. */
function need(o: Obj, field: string, check: (v: unknown) => boolean, what: string): string | null {
  const v = o[field];
  if (v === undefined || v === null) return `missing required field ${field}`;
  return check(v) ? null : `${field} must be ${what}`;
}
/**
 * An optional field. Producers write an absent value as `null` (JSON has no undefined): it is
 * taken as absent, and the key removed, so the event reads the same as one without it.
 */
function opt(o: Obj, field: string, check: (v: unknown) => boolean, what: string): string | null {
  const v = o[field];
  if (v === undefined) return null;
  if (v === null) {
    delete o[field];
    return null;
  }
  return check(v) ? null : `${field} must be ${what}`;
}
/** An optional string field: `null` and `""` are both taken as absent (see {@link opt}). */
function optStr(o: Obj, field: string, what: string): string | null {
  const v = o[field];
  if (v === undefined) return null;
  if (v === null || v === '') {
    delete o[field];
    return null;
  }
  return isStr(v) ? null : `${field} must be ${what}`;
}

const IMSI = /^\d{5,15}$/;
/** `gps` (optional, see {@link opt}); inside it `accuracyM` is optional too, and `null` there is absent as well. */
function optGps(o: Obj): string | null {
  const v = o.gps;
  if (v === undefined) return null;
  if (v === null) {
    delete o.gps;
    return null;
  }
  if (typeof v !== 'object' || Array.isArray(v)) return `gps must be ${GPS}`;
  const g = v as Obj;
  if (g.accuracyM === null) delete g.accuracyM;
  const ok = isFiniteNum(g.lat) && g.lat >= -90 && g.lat <= 90 && isFiniteNum(g.lon) && g.lon >= -180 && g.lon <= 180 && (g.accuracyM === undefined || (isFiniteNum(g.accuracyM) && g.accuracyM >= 0));
  return ok ? null : `gps must be ${GPS}`;
}

const STRING = 'a non-empty string';
const LIST = 'an array of non-empty strings';
const GPS = '{lat, lon, accuracyM?} in WGS84 degrees';

function checkType(o: Obj, type: string): string | null {
  switch (type) {
    case 'femto.session':
      return (
        need(o, 'serial', isStr, STRING) ??
        need(o, 'phase', (v) => v === 'up' || v === 'down', '"up" or "down"') ??
        need(o, 'sourceIp', isStr, 'an IP address') ??
        optStr(o, 'certFingerprint', STRING) ??
        opt(o, 'cellIds', isStrList, LIST) ??
        optStr(o, 'endpoint', 'host:port') ??
        optStr(o, 'sessionId', STRING)
      );
    case 'femto.report':
      return (
        need(o, 'serial', isStr, STRING) ??
        optStr(o, 'sourceIp', 'an IP address') ??
        opt(o, 'cellIds', isStrList, LIST) ??
        optGps(o) ??
        opt(o, 'neighbors', isStrList, LIST) ??
        optStr(o, 'swVersion', STRING) ??
        optStr(o, 'configHash', STRING)
      );
    case 'ue.attach':
      return (
        need(o, 'cellId', isStr, STRING) ??
        need(o, 'imsi', (v) => typeof v === 'string' && IMSI.test(v), 'digits (IMSI)') ??
        optStr(o, 'imei', STRING) ??
        optStr(o, 'msisdn', STRING)
      );
    case 'ims.register':
      return (
        need(o, 'imsi', (v) => typeof v === 'string' && IMSI.test(v), 'digits (IMSI)') ??
        need(o, 'ipsec', (v) => typeof v === 'boolean', 'a boolean') ??
        optStr(o, 'cellId', STRING) ??
        optStr(o, 'msisdn', STRING)
      );
    case 'payment.auth':
      return (
        need(o, 'txId', isStr, STRING) ??
        need(o, 'msisdn', isStr, STRING) ??
        need(o, 'amountMinor', (v) => Number.isSafeInteger(v), 'an integer (minor units)') ??
        need(o, 'currency', (v) => typeof v === 'string' && /^[A-Z]{3}$/.test(v), 'an ISO 4217 code') ??
        optStr(o, 'method', STRING) ??
        optStr(o, 'merchant', STRING)
      );
    case 'registry.update':
      return need(o, 'serial', isStr, STRING) ?? checkRegistryUpdate(o);
    default:
      return null;
  }
}

/**
 * FORMATS.md §1: `registry.update` has the fields of a registry CSV row (§2), so it is held to
 * the same field rules (src/registry/device-input.ts, through `deviceFieldSchemas`): a value the
 * CSV import would refuse makes the line malformed, and the event carries the values those
 * rules normalise (a prefix in its canonical form, a fingerprint in lower case without `:`,
 * trimmed cell ids, a lower-case status). `serial` is required. `null` for a field, and `""`
 * for a string field (`status`, `owner`), is absent: the field keeps its value. Except that
 * `null` clears `siteLat`, `siteLon` and `owner`, as it does in `PATCH /v1/devices/{serial}`.
 */
// The PATCH fields (every one optional) and the serial; extra fields are kept (FORMATS.md).
const registryUpdateSchema = z.object({ serial: deviceFieldSchemas.serial, ...devicePatchSchema.shape });
type UpdateField = Exclude<keyof z.output<typeof registryUpdateSchema>, 'serial'>;
const UPDATE_FIELDS = Object.keys(registryUpdateSchema.shape).filter((k) => k !== 'serial') as UpdateField[];
const CLEARED_BY_NULL: ReadonlySet<string> = new Set<UpdateField>(['siteLat', 'siteLon', 'owner']);
/** the string-valued fields, where `""` is absent too */
const STRING_FIELDS: ReadonlySet<string> = new Set<UpdateField>(['status', 'owner']);

function checkRegistryUpdate(o: Obj): string | null {
  for (const field of UPDATE_FIELDS) {
    const v = o[field];
    if (v === null ? !CLEARED_BY_NULL.has(field) : v === '' && STRING_FIELDS.has(field)) delete o[field];
  }
  const r = registryUpdateSchema.safeParse(o);
  if (!r.success) return formatZodError(r.error);
  o.serial = r.data.serial;
  for (const field of UPDATE_FIELDS) if (r.data[field] !== undefined) o[field] = r.data[field];
  // FORMATS.md §2: a site is both coordinates or neither. Given together they must agree; a
  // null alone would clear half a site. (A number alone moves one coordinate of the site the
  // device has: fields left out keep their value.)
  const lat = o.siteLat;
  const lon = o.siteLon;
  if ((lat === null && lon !== null) || (lon === null && lat !== null)) {
    return lat === undefined || lon === undefined ? 'to clear the site give siteLat and siteLon both null' : 'siteLat and siteLon must both be numbers or both be null';
  }
  return null;
}

const KNOWN = new Set(['femto.session', 'femto.report', 'ue.attach', 'ims.register', 'payment.auth', 'registry.update']);

/**
 * Validates one parsed NDJSON value (FORMATS.md §1). On success the value itself becomes
 * the event, with `t` (epoch ms) added. Unknown types are reported apart: they are counted
 * and skipped, not errors.
 */
export function validateEvent(value: unknown): Validated {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, error: 'not a JSON object' };
  const o = value as Obj;
  const type = o.type;
  if (typeof type !== 'string' || type.length === 0) return { ok: false, error: 'missing required field type' };
  if (!KNOWN.has(type)) return { ok: false, unknownType: type.slice(0, 64) };
  if (o.ts === undefined) return { ok: false, error: `${type}: missing required field ts` };
  const t = parseEventTime(o.ts);
  if (Number.isNaN(t)) return { ok: false, error: `${type}: bad timestamp ${JSON.stringify(o.ts).slice(0, 60)} (want RFC 3339 with an offset, or epoch milliseconds)` };
  if (o.id === null || o.id === '') delete o.id; // optional: absent (see opt)
  else if (o.id !== undefined && !isStr(o.id)) return { ok: false, error: `${type}: id must be ${STRING}` };
  const err = checkType(o, type);
  if (err) return { ok: false, error: `${type}: ${err}` };
  o.t = t;
  return { ok: true, event: o as unknown as FgEvent };
}
