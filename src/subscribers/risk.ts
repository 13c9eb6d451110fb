import type { HotIndex } from './hot-index.js';
import { DEFAULT_FUTURE_SKEW_MS, type RiskLevel, type RiskPolicy } from './score.js';

/**
 * The payment risk check, in the style of the GSMA CAMARA APIs (Commonalities API Design
 * Guide §3.2 errors `{status, code, message}`; the `Device` object of CAMARA_common.yaml;
 * the device error scenarios of artifacts/testing/C01-device-errors.feature).
 */
export class CamaraError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface RiskRequest {
  phoneNumber?: string;
  /** from a networkAccessIdentifier naming an IMSI (`imsi-<IMSI>@realm` or `<IMSI>@realm`) */
  imsi?: string;
  /** that networkAccessIdentifier as sent */
  nai?: string;
  maxAgeSeconds: number;
}

export interface RiskLimits {
  defaultMaxAgeSeconds: number;
  maxMaxAgeSeconds: number;
}

/** CAMARA_common.yaml PhoneNumber: E.164 with a leading +. */
const PHONE = /^\+[1-9][0-9]{4,14}$/;
/** A GPSI external identifier `{local}@{domain}` (CAMARA NetworkAccessIdentifier). */
const NAI = /^([^@\s]{1,128})@([^@\s]{1,128})$/;
/** 3GPP TS 29.571 §5.3.2 SUPI `imsi-<IMSI>`; a bare 15-digit IMSI is accepted as well. */
const NAI_IMSI = /^(?:imsi-)?(\d{5,15})$/;
const DEVICE_KEYS = ['phoneNumber', 'networkAccessIdentifier', 'ipv4Address', 'ipv6Address'] as const;

const bad = (message: string): CamaraError => new CamaraError(400, 'INVALID_ARGUMENT', message);

/**
 * Validates a request body. Unknown top-level fields are ignored (CAMARA: be liberal in what
 * you accept); the device must carry at least one identifier (`minProperties: 1`).
 */
export function parseRiskRequest(body: unknown, limits: RiskLimits): RiskRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('the request body must be a JSON object');
  const b = body as Record<string, unknown>;
  let maxAgeSeconds = limits.defaultMaxAgeSeconds;
  if (b.maxAge !== undefined) {
    if (typeof b.maxAge !== 'number' || !Number.isInteger(b.maxAge)) throw bad('maxAge must be an integer number of seconds');
    if (b.maxAge < 1 || b.maxAge > limits.maxMaxAgeSeconds) throw new CamaraError(400, 'OUT_OF_RANGE', `maxAge must be between 1 and ${limits.maxMaxAgeSeconds} seconds`);
    maxAgeSeconds = b.maxAge;
  }
  // Two-legged tokens only: the device is never implied by the token, so it must be given.
  if (b.device === undefined || b.device === null) throw new CamaraError(422, 'MISSING_IDENTIFIER', 'The device cannot be identified: send a device object with a phoneNumber.');
  if (typeof b.device !== 'object' || Array.isArray(b.device)) throw bad('device must be an object');
  const d = b.device as Record<string, unknown>;
  if (!DEVICE_KEYS.some((k) => d[k] !== undefined)) throw bad('device must carry at least one identifier (phoneNumber, networkAccessIdentifier, ipv4Address, ipv6Address)');
  const out: RiskRequest = { maxAgeSeconds };
  if (d.phoneNumber !== undefined) {
    if (typeof d.phoneNumber !== 'string' || !PHONE.test(d.phoneNumber)) throw bad('device.phoneNumber must be in E.164 format with a leading + (^\\+[1-9][0-9]{4,14}$)');
    out.phoneNumber = d.phoneNumber;
  }
  if (d.networkAccessIdentifier !== undefined) {
    const m = typeof d.networkAccessIdentifier === 'string' ? NAI.exec(d.networkAccessIdentifier) : null;
    if (!m) throw bad('device.networkAccessIdentifier must be {local}@{domain}');
    const imsi = NAI_IMSI.exec(m[1] as string);
    if (imsi) {
      out.imsi = imsi[1] as string;
      out.nai = d.networkAccessIdentifier as string;
    }
  }
  if (d.ipv4Address !== undefined) {
    const a = d.ipv4Address as Record<string, unknown> | null;
    if (typeof a !== 'object' || a === null || typeof a.publicAddress !== 'string' || (a.privateAddress === undefined && a.publicPort === undefined)) {
      throw bad('device.ipv4Address must have publicAddress and privateAddress or publicPort');
    }
  }
  if (d.ipv6Address !== undefined && typeof d.ipv6Address !== 'string') throw bad('device.ipv6Address must be a string');
  if (out.phoneNumber === undefined && out.imsi === undefined) {
    throw new CamaraError(422, 'UNSUPPORTED_IDENTIFIER', 'None of the provided identifiers is supported: use phoneNumber (or a networkAccessIdentifier naming an IMSI).');
  }
  return out;
}

export interface RiskReason {
  code: 'ON_FLAGGED_CELL_NOW' | 'ON_FLAGGED_CELL_RECENTLY' | 'ON_FLAGGED_CELL_TODAY' | 'ON_FLAGGED_CELL_EARLIER';
  message: string;
}

export interface RiskResponse {
  /** the one identifier the answer is about (CAMARA DeviceResponse) */
  device: { phoneNumber: string } | { networkAccessIdentifier: string };
  exposed: boolean;
  riskLevel: RiskLevel;
  suspiciousCells: { cellId: string; lastSeenTime: string; flaggedTime: string; rules: readonly string[] }[];
  reasons: RiskReason[];
  lastObservationTime: string;
  maxAge: number;
}

/**
 * Resolves the request to one subscriber. With several identifiers the first supported one in
 * the order phoneNumber, networkAccessIdentifier is used and named in the answer's `device`;
 * the others are not compared with it. CAMARA dropped `422 IDENTIFIER_MISMATCH` (Commonalities
 * issue #431, Fall25 meta-release) because such a comparison would let a caller learn whether
 * two identifiers belong to the same person.
 */
export function resolveSubscriber(index: HotIndex, req: RiskRequest): { imsi: string; device: RiskResponse['device'] } {
  if (req.phoneNumber !== undefined) {
    const imsi = index.imsiOfMsisdn(req.phoneNumber);
    if (imsi === undefined) throw new CamaraError(404, 'IDENTIFIER_NOT_FOUND', 'Device identifier not found.');
    return { imsi, device: { phoneNumber: req.phoneNumber } };
  }
  if (req.imsi === undefined || !req.nai || !index.has(req.imsi)) throw new CamaraError(404, 'IDENTIFIER_NOT_FOUND', 'Device identifier not found.');
  return { imsi: req.imsi, device: { networkAccessIdentifier: req.nai } };
}

const minutes = (ms: number): string => (ms < 120_000 ? `${Math.round(ms / 1000)} s` : ms < 7_200_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 3_600_000)} h`);

/** Answers a risk check from the hot index at `now`. */
export function checkRisk(index: HotIndex, req: RiskRequest, now: number, policy: RiskPolicy, futureSkewMs = DEFAULT_FUTURE_SKEW_MS): RiskResponse {
  const { imsi, device } = resolveSubscriber(index, req);
  const s = index.score(imsi, now, req.maxAgeSeconds * 1000, policy, futureSkewMs);
  const last = index.lastObservation(imsi);
  const reasons: RiskReason[] = [];
  const top = s.cells[0];
  if (top) {
    if (last?.cellId && index.flags.at(last.cellId, now)) {
      reasons.push({ code: 'ON_FLAGGED_CELL_NOW', message: `The subscriber's latest observation is on flagged cell ${last.cellId}.` });
    }
    const age = now - top.lastOn;
    const code = s.riskLevel === 'high' ? 'ON_FLAGGED_CELL_RECENTLY' : s.riskLevel === 'medium' ? 'ON_FLAGGED_CELL_TODAY' : 'ON_FLAGGED_CELL_EARLIER';
    reasons.push({ code, message: `The subscriber was on flagged cell ${top.cellId} ${minutes(age)} ago (${top.rules.join(', ')}): a code sent by SMS or voice may be read by it.` });
  }
  return {
    device,
    exposed: s.exposed,
    riskLevel: s.riskLevel,
    suspiciousCells: s.cells.map((c) => ({ cellId: c.cellId, lastSeenTime: new Date(c.lastOn).toISOString(), flaggedTime: new Date(c.flaggedAt).toISOString(), rules: c.rules })),
    reasons,
    // Never in the future (a sender's clock ahead), never unreadable (a subscriber known only from its exposures).
    lastObservationTime: new Date(last !== undefined && Number.isFinite(last.t) ? Math.min(last.t, now) : now).toISOString(),
    maxAge: req.maxAgeSeconds,
  };
}
