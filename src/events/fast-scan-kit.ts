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
