import { describe, expect, it } from 'vitest';
import { HotIndex } from './hot-index.js';
import { CamaraError, checkRisk, parseRiskRequest } from './risk.js';

const limits = { defaultMaxAgeSeconds: 604_800, maxMaxAgeSeconds: 34_560_000 };
const T = Date.parse('2025-08-05T10:00:00Z');
const MIN = 60_000;
const policy = { highWithinMs: 120 * MIN, mediumWithinMs: 24 * 60 * MIN };
const DAY = 24 * 60 * MIN;
/** detection's default flagRetentionMs */
const FLAG_RETENTION = 7 * DAY;
const A = '450080000000001';
const PHONE = '+821011112222';

function error(body: unknown): { status: number; code: string } {
  try {
    parseRiskRequest(body, limits);
  } catch (e) {
    if (e instanceof CamaraError) return { status: e.status, code: e.code };
    throw e;
  }
  throw new Error('expected a CamaraError');
}

describe('parseRiskRequest (CAMARA device object and errors)', () => {
  it('ok/phoneNumber, default maxAge', () => {
    expect(parseRiskRequest({ device: { phoneNumber: PHONE } }, limits)).toEqual({ phoneNumber: PHONE, maxAgeSeconds: 604_800 });
  });
  it('ok/maxAge in seconds; unknown top-level fields are ignored', () => {
    expect(parseRiskRequest({ device: { phoneNumber: PHONE }, maxAge: 600, extra: 1 }, limits)).toEqual({ phoneNumber: PHONE, maxAgeSeconds: 600 });
  });
  it('ok/a networkAccessIdentifier naming an IMSI (imsi-<IMSI>@realm or <IMSI>@realm)', () => {
    expect(parseRiskRequest({ device: { networkAccessIdentifier: `imsi-${A}@ims.example` } }, limits)).toMatchObject({ imsi: A, nai: `imsi-${A}@ims.example` });
    expect(parseRiskRequest({ device: { networkAccessIdentifier: `${A}@x` } }, limits)).toMatchObject({ imsi: A });
  });
  it('fail/no device: 422 MISSING_IDENTIFIER', () => {
    expect(error({})).toEqual({ status: 422, code: 'MISSING_IDENTIFIER' });
    expect(error({ device: null })).toEqual({ status: 422, code: 'MISSING_IDENTIFIER' });
  });
  it('fail/an empty device: 400 INVALID_ARGUMENT (C01.01)', () => {
    expect(error({ device: {} })).toEqual({ status: 400, code: 'INVALID_ARGUMENT' });
    expect(error({ device: { imsi: A } })).toEqual({ status: 400, code: 'INVALID_ARGUMENT' });
  });
  it('fail/identifiers not compliant with the schema: 400 INVALID_ARGUMENT (C01.02)', () => {
    for (const device of [{ phoneNumber: '821011112222' }, { phoneNumber: '+0123' }, { phoneNumber: 821011112222 }, { networkAccessIdentifier: 'no-at-sign' }, { ipv4Address: { publicAddress: '1.2.3.4' } }, { ipv6Address: 7 }]) {
      expect(error({ device }), JSON.stringify(device)).toEqual({ status: 400, code: 'INVALID_ARGUMENT' });
    }
  });
  it('fail/only identifiers femtoguard cannot resolve: 422 UNSUPPORTED_IDENTIFIER (C01.06)', () => {
    expect(error({ device: { ipv4Address: { publicAddress: '84.125.93.10', publicPort: 59765 } } })).toEqual({ status: 422, code: 'UNSUPPORTED_IDENTIFIER' });
    expect(error({ device: { ipv6Address: '2001:db8::1' } })).toEqual({ status: 422, code: 'UNSUPPORTED_IDENTIFIER' });
    expect(error({ device: { networkAccessIdentifier: 'alice@example.com' } })).toEqual({ status: 422, code: 'UNSUPPORTED_IDENTIFIER' });
  });
  it('fail/maxAge not an integer: 400 INVALID_ARGUMENT; out of range: 400 OUT_OF_RANGE', () => {
    expect(error({ device: { phoneNumber: PHONE }, maxAge: '600' })).toEqual({ status: 400, code: 'INVALID_ARGUMENT' });
    expect(error({ device: { phoneNumber: PHONE }, maxAge: 1.5 })).toEqual({ status: 400, code: 'INVALID_ARGUMENT' });
    expect(error({ device: { phoneNumber: PHONE }, maxAge: 0 })).toEqual({ status: 400, code: 'OUT_OF_RANGE' });
    expect(error({ device: { phoneNumber: PHONE }, maxAge: 34_560_001 })).toEqual({ status: 400, code: 'OUT_OF_RANGE' });
  });
  it('fail/a body that is not an object, a device that is not an object', () => {
    for (const body of [null, [], 'x', 3]) expect(error(body)).toEqual({ status: 400, code: 'INVALID_ARGUMENT' });
    expect(error({ device: [PHONE] })).toEqual({ status: 400, code: 'INVALID_ARGUMENT' });
  });
});

describe('checkRisk', () => {
  const h = new HotIndex(FLAG_RETENTION);
  h.flags.flag('ROGUE', T - 60 * MIN, 'unregistered-cell');
  h.observe(A, T - 10 * MIN, 'ROGUE', PHONE);

  it('fail/an observation dated ahead counts as now within the tolerance given (ingestion\'s live.maxFutureMs), not past it', () => {
    const g = new HotIndex(FLAG_RETENTION);
    g.flags.flag('ROGUE', T - 60 * MIN, 'unregistered-cell');
    g.observe(A, T + 8 * MIN, 'ROGUE', PHONE);
    const req = { phoneNumber: PHONE, maxAgeSeconds: 3600 };
    expect(checkRisk(g, req, T, policy, 10 * MIN)).toMatchObject({ exposed: true, riskLevel: 'high', lastObservationTime: new Date(T).toISOString() });
    // the default (5 min) does not reach 8 min ahead
    expect(checkRisk(g, req, T, policy).exposed).toBe(false);
  });

  it('ok/exposed minutes ago: high, the cell, the reasons, the device the answer is about', () => {
    const r = checkRisk(h, { phoneNumber: PHONE, maxAgeSeconds: 3600 }, T, policy);
    expect(r).toMatchObject({
      device: { phoneNumber: PHONE },
      exposed: true,
      riskLevel: 'high',
      suspiciousCells: [{ cellId: 'ROGUE', lastSeenTime: new Date(T - 10 * MIN).toISOString(), flaggedTime: new Date(T - 60 * MIN).toISOString(), rules: ['unregistered-cell'] }],
      lastObservationTime: new Date(T - 10 * MIN).toISOString(),
      maxAge: 3600,
    });
    expect(r.reasons.map((x) => x.code)).toEqual(['ON_FLAGGED_CELL_NOW', 'ON_FLAGGED_CELL_RECENTLY']);
  });

  it('ok/with both identifiers the phone number is used and named; the IMSI is not compared (no IDENTIFIER_MISMATCH)', () => {
    const r = checkRisk(h, { phoneNumber: PHONE, imsi: '450089999999999', nai: '450089999999999@x', maxAgeSeconds: 3600 }, T, policy);
    expect(r.device).toEqual({ phoneNumber: PHONE });
    expect(r.riskLevel).toBe('high');
  });

  it('ok/by IMSI through the networkAccessIdentifier', () => {
    expect(checkRisk(h, { imsi: A, nai: `${A}@x`, maxAgeSeconds: 3600 }, T, policy).device).toEqual({ networkAccessIdentifier: `${A}@x` });
  });

  it('fail/unknown subscriber: 404 IDENTIFIER_NOT_FOUND (C01.03)', () => {
    expect(() => checkRisk(h, { phoneNumber: '+821000000000', maxAgeSeconds: 3600 }, T, policy)).toThrow(expect.objectContaining({ status: 404, code: 'IDENTIFIER_NOT_FOUND' }));
    expect(() => checkRisk(h, { imsi: '450081111111111', nai: 'x@y', maxAgeSeconds: 3600 }, T, policy)).toThrow(expect.objectContaining({ code: 'IDENTIFIER_NOT_FOUND' }));
  });

  it('fail/exposure older than maxAge: none, no cells, no reasons', () => {
    const r = checkRisk(h, { phoneNumber: PHONE, maxAgeSeconds: 60 }, T, policy);
    expect(r).toMatchObject({ exposed: false, riskLevel: 'none', suspiciousCells: [], reasons: [] });
  });

  it('fail/a cell whose flag lapsed (flagged 20 days ago, nothing since): not high, no suspicious cell, not ON_FLAGGED_CELL_NOW', () => {
    const x = new HotIndex(FLAG_RETENTION);
    x.flags.flag('OLD', T - 20 * DAY, 'source-ip-mismatch');
    x.observe(A, T - 10 * MIN, 'OLD', PHONE);
    const r = checkRisk(x, { phoneNumber: PHONE, maxAgeSeconds: 3600 }, T, policy);
    expect(r).toMatchObject({ exposed: false, riskLevel: 'none', suspiciousCells: [], reasons: [] });
  });

  it('ok/the same cell flagged again a day ago: a new episode, high, flaggedTime the new one', () => {
    const x = new HotIndex(FLAG_RETENTION);
    x.flags.flag('OLD', T - 20 * DAY, 'source-ip-mismatch');
    x.observe(A, T - 10 * MIN, 'OLD', PHONE);
    x.flags.flag('OLD', T - DAY, 'unregistered-cell');
    const r = checkRisk(x, { phoneNumber: PHONE, maxAgeSeconds: 3600 }, T, policy);
    expect(r).toMatchObject({ riskLevel: 'high', suspiciousCells: [{ cellId: 'OLD', flaggedTime: new Date(T - DAY).toISOString(), rules: ['unregistered-cell'] }] });
    expect(r.reasons.map((y) => y.code)).toEqual(['ON_FLAGGED_CELL_NOW', 'ON_FLAGGED_CELL_RECENTLY']);
  });
});
