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
function opt(o: Obj, field: string, check: (v: unknown) => boolean, what: string): string | null {
  const v = o[field];
  if (v === undefined) return null;
  return check(v) ? null : `${field} must be ${what}`;
}

const IMSI = /^\d{5,15}$/;
const isGps = (v: unknown): boolean => {
  if (typeof v !== 'object' || v === null) return false;
  const g = v as Obj;
  return isFiniteNum(g.lat) && g.lat >= -90 && g.lat <= 90 && isFiniteNum(g.lon) && g.lon >= -180 && g.lon <= 180 && (g.accuracyM === undefined || (isFiniteNum(g.accuracyM) && g.accuracyM >= 0));
};

const STRING = 'a non-empty string';
const LIST = 'an array of non-empty strings';

function checkType(o: Obj, type: string): string | null {
  switch (type) {
    case 'femto.session':
      return (
        need(o, 'serial', isStr, STRING) ??
        need(o, 'phase', (v) => v === 'up' || v === 'down', '"up" or "down"') ??
        need(o, 'sourceIp', isStr, 'an IP address') ??
        opt(o, 'certFingerprint', isStr, STRING) ??
        opt(o, 'cellIds', isStrList, LIST) ??
        opt(o, 'endpoint', isStr, 'host:port') ??
        opt(o, 'sessionId', isStr, STRING)
      );
    case 'femto.report':
      return (
        need(o, 'serial', isStr, STRING) ??
        opt(o, 'sourceIp', isStr, 'an IP address') ??
        opt(o, 'cellIds', isStrList, LIST) ??
        opt(o, 'gps', isGps, '{lat, lon, accuracyM?} in WGS84 degrees') ??
        opt(o, 'neighbors', isStrList, LIST) ??
        opt(o, 'swVersion', isStr, STRING) ??
        opt(o, 'configHash', isStr, STRING)
      );
    case 'ue.attach':
      return (
        need(o, 'cellId', isStr, STRING) ??
        need(o, 'imsi', (v) => typeof v === 'string' && IMSI.test(v), 'digits (IMSI)') ??
        opt(o, 'imei', isStr, STRING) ??
        opt(o, 'msisdn', isStr, STRING)
      );
    case 'ims.register':
      return (
        need(o, 'imsi', (v) => typeof v === 'string' && IMSI.test(v), 'digits (IMSI)') ??
        need(o, 'ipsec', (v) => typeof v === 'boolean', 'a boolean') ??
        opt(o, 'cellId', isStr, STRING) ??
        opt(o, 'msisdn', isStr, STRING)
      );
    case 'payment.auth':
      return (
        need(o, 'txId', isStr, STRING) ??
        need(o, 'msisdn', isStr, STRING) ??
        need(o, 'amountMinor', (v) => Number.isSafeInteger(v), 'an integer (minor units)') ??
        need(o, 'currency', (v) => typeof v === 'string' && /^[A-Z]{3}$/.test(v), 'an ISO 4217 code') ??
        opt(o, 'method', isStr, STRING) ??
        opt(o, 'merchant', isStr, STRING)
      );
    case 'registry.update':
      return (
        need(o, 'serial', isStr, STRING) ??
        opt(o, 'status', (v) => v === 'provisioned' || v === 'active' || v === 'suspended' || v === 'decommissioned' || v === 'lost', 'a device status') ??
        opt(o, 'cellIds', isStrList, LIST) ??
        opt(o, 'siteLat', (v) => v === null || (isFiniteNum(v) && v >= -90 && v <= 90), 'a latitude') ??
        opt(o, 'siteLon', (v) => v === null || (isFiniteNum(v) && v >= -180 && v <= 180), 'a longitude') ??
        opt(o, 'siteRadiusM', (v) => isFiniteNum(v) && v > 0, 'a positive number') ??
        opt(o, 'ipPrefixes', isStrList, LIST) ??
        opt(o, 'expectedNeighbors', isStrList, LIST) ??
        opt(o, 'certFingerprints', isStrList, LIST) ??
        opt(o, 'owner', (v) => v === null || typeof v === 'string', 'a string or null')
      );
    default:
      return null;
  }
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
  if (o.id !== undefined && !isStr(o.id)) return { ok: false, error: `${type}: id must be ${STRING}` };
  const err = checkType(o, type);
  if (err) return { ok: false, error: `${type}: ${err}` };
  o.t = t;
  return { ok: true, event: o as unknown as FgEvent };
}
