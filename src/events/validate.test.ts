import { describe, expect, it } from 'vitest';
import { validateEvent } from './validate.js';

const TS = '2025-08-05T02:14:09Z';
const MS = Date.parse(TS);
const FP = 'ab'.repeat(32);

/** Every shape FORMATS.md §1 describes: each type with all its fields, and with only the required ones. */
const GOOD: Record<string, Record<string, unknown>[]> = {
  'femto.session': [
    { type: 'femto.session', ts: TS, id: 'e1', serial: 'KTF000001', phase: 'up', sourceIp: '175.198.195.7', certFingerprint: FP, cellIds: ['45008-200000001'], endpoint: 'segw.example.net:500', sessionId: 's-1' },
    { type: 'femto.session', ts: '2025-08-05T11:14:09.123+09:00', serial: 'KTF000001', phase: 'down', sourceIp: '2001:db8::7' },
  ],
  'femto.report': [
    {
      type: 'femto.report',
      ts: MS,
      serial: 'KTF000001',
      sourceIp: '175.198.195.7',
      cellIds: ['45008-200000001'],
      gps: { lat: 37.5665, lon: 126.978, accuracyM: 25.5 },
      neighbors: ['45008-100000351', '45008-100000384'],
      swVersion: 'FW-4.2.1',
      configHash: 'sha256:00ff',
    },
    { type: 'femto.report', ts: TS, serial: 'KTF000001', gps: { lat: -90, lon: 180 } },
    { type: 'femto.report', ts: TS, serial: 'KTF000001', cellIds: [], neighbors: [] },
  ],
  'ue.attach': [
    { type: 'ue.attach', ts: TS, cellId: '45008-118720513', imsi: '450081234567890', imei: '3530000000000001', msisdn: '+821012345678' },
    { type: 'ue.attach', ts: TS, cellId: '45008-118720513', imsi: '450081234567890' },
  ],
  'ims.register': [
    { type: 'ims.register', ts: TS, imsi: '450081234567890', ipsec: false, cellId: '45008-118720513', msisdn: '+821012345678' },
    { type: 'ims.register', ts: TS, imsi: '450081234567890', ipsec: true },
  ],
  'payment.auth': [
    { type: 'payment.auth', ts: TS, txId: 'tx798211740676', msisdn: '+821012345678', amountMinor: 49000, currency: 'KRW', method: 'sms-otp', merchant: 'game-credits' },
    { type: 'payment.auth', ts: TS, txId: 'tx2', msisdn: '+821012345678', amountMinor: 0, currency: 'USD', method: 'carrier-push' },
  ],
  'registry.update': [
    {
      type: 'registry.update',
      ts: TS,
      serial: 'KTF000078',
      status: 'active',
      cellIds: ['45008-200000078'],
      siteLat: 37.6,
      siteLon: 126.9,
      siteRadiusM: 150,
      ipPrefixes: ['121.160.0.0/16'],
      expectedNeighbors: ['45008-100000001'],
      certFingerprints: [FP],
      owner: 'Cafe Mokdong',
    },
    { type: 'registry.update', ts: TS, serial: 'KTF000078', siteLat: null, siteLon: null, owner: null },
    { type: 'registry.update', ts: TS, serial: 'KTF000078' },
  ],
};

describe('validateEvent: accepts the contract', () => {
  for (const [type, shapes] of Object.entries(GOOD)) {
    shapes.forEach((shape, i) => {
      it(`ok/${type} shape ${i + 1}`, () => {
        const v = validateEvent(structuredClone(shape));
        if (!v.ok) throw new Error(JSON.stringify(v));
        expect(v.event).toMatchObject({ ...shape, t: typeof shape.ts === 'number' ? shape.ts : Date.parse(shape.ts as string) });
      });
    });
  }

  it('ok/extra fields are kept (the contract lets producers add fields)', () => {
    const v = validateEvent({ type: 'ue.attach', ts: TS, cellId: 'c', imsi: '450081234567890', rat: 'NR', tac: 1234 });
    expect(v.ok && v.event).toMatchObject({ rat: 'NR', tac: 1234 });
  });

  it('ok/an unknown type is reported apart, not as an error', () => {
    expect(validateEvent({ type: 'radio.weird', ts: 'nonsense' })).toEqual({ ok: false, unknownType: 'radio.weird' });
  });
});

/** [type, field, bad value (undefined = field removed)]: each must be refused with a message naming the field. */
const BAD: [string, string, unknown][] = [
  ['femto.session', 'serial', undefined],
  ['femto.session', 'serial', 42],
  ['femto.session', 'serial', ''],
  ['femto.session', 'serial', 'x'.repeat(257)],
  ['femto.session', 'phase', undefined],
  ['femto.session', 'phase', 'sideways'],
  ['femto.session', 'sourceIp', undefined],
  ['femto.session', 'sourceIp', 175198195007],
  ['femto.session', 'certFingerprint', 7],
  ['femto.session', 'cellIds', '45008-200000001'],
  ['femto.session', 'cellIds', ['ok', 5]],
  ['femto.session', 'cellIds', ['']],
  ['femto.session', 'endpoint', 500],
  ['femto.session', 'sessionId', ''],
  ['femto.report', 'serial', undefined],
  ['femto.report', 'sourceIp', null],
  ['femto.report', 'gps', 'here'],
  ['femto.report', 'gps', { lat: 91, lon: 0 }],
  ['femto.report', 'gps', { lat: 0, lon: -180.5 }],
  ['femto.report', 'gps', { lat: 0 }],
  ['femto.report', 'gps', { lat: 0, lon: 0, accuracyM: -1 }],
  ['femto.report', 'gps', { lat: '37.5', lon: 126.9 }],
  ['femto.report', 'neighbors', 'a;b'],
  ['femto.report', 'swVersion', 421],
  ['femto.report', 'configHash', ''],
  ['ue.attach', 'cellId', undefined],
  ['ue.attach', 'cellId', 118720513],
  ['ue.attach', 'imsi', undefined],
  ['ue.attach', 'imsi', 450081234567890],
  ['ue.attach', 'imsi', '45008123456789012'],
  ['ue.attach', 'imsi', 'IMSI450081234'],
  ['ue.attach', 'imei', 3530000000000001],
  ['ue.attach', 'msisdn', ''],
  ['ims.register', 'imsi', undefined],
  ['ims.register', 'ipsec', undefined],
  ['ims.register', 'ipsec', 'true'],
  ['ims.register', 'cellId', 5],
  ['ims.register', 'msisdn', 821012345678],
  ['payment.auth', 'txId', undefined],
  ['payment.auth', 'msisdn', undefined],
  ['payment.auth', 'amountMinor', undefined],
  ['payment.auth', 'amountMinor', 49.5],
  ['payment.auth', 'amountMinor', '49000'],
  ['payment.auth', 'currency', undefined],
  ['payment.auth', 'currency', 'krw'],
  ['payment.auth', 'currency', 'KRWX'],
  ['payment.auth', 'method', 3],
  ['payment.auth', 'merchant', ''],
  ['registry.update', 'serial', undefined],
  ['registry.update', 'status', 'stolen'],
  ['registry.update', 'cellIds', 'x'],
  ['registry.update', 'siteLat', 91],
  ['registry.update', 'siteLon', '126.9'],
  ['registry.update', 'siteRadiusM', 0],
  ['registry.update', 'siteRadiusM', null],
  ['registry.update', 'ipPrefixes', [10]],
  ['registry.update', 'expectedNeighbors', ['']],
  ['registry.update', 'certFingerprints', FP],
  ['registry.update', 'owner', 5],
  ['ue.attach', 'id', ''],
  ['ue.attach', 'id', 17],
];

describe('validateEvent: refuses each bad field, naming it', () => {
  for (const [type, field, value] of BAD) {
    it(`fail/${type} ${field} = ${value === undefined ? '(missing)' : JSON.stringify(value).slice(0, 30)}`, () => {
      const e = structuredClone((GOOD[type] as Record<string, unknown>[])[0]) as Record<string, unknown>;
      if (value === undefined) delete e[field];
      else e[field] = value;
      const v = validateEvent(e);
      expect(v.ok).toBe(false);
      const error = 'error' in v ? v.error : '';
      expect(error).toMatch(new RegExp(`^${type.replace('.', '\\.')}: `));
      expect(error).toMatch(new RegExp(`\\b${field}\\b`));
      if (value === undefined) expect(error).toContain('missing required field');
    });
  }

  it('fail/not an object, no type', () => {
    for (const v of [null, [], 'femto.report', 42]) expect(validateEvent(v)).toEqual({ ok: false, error: 'not a JSON object' });
    expect(validateEvent({ ts: TS, serial: 'x' })).toEqual({ ok: false, error: 'missing required field type' });
    expect(validateEvent({ type: '', ts: TS })).toEqual({ ok: false, error: 'missing required field type' });
  });

  it('fail/missing or bad ts, in the message with the type', () => {
    const base = { type: 'femto.report', serial: 'KTF1' };
    expect(validateEvent({ ...base })).toEqual({ ok: false, error: 'femto.report: missing required field ts' });
    for (const ts of ['2025-08-05T02:14:09', 1754360049, '1754360049000', null, true]) {
      const v = validateEvent({ ...base, ts });
      expect('error' in v && v.error, String(ts)).toMatch(/^femto\.report: bad timestamp .*RFC 3339/);
    }
  });
});
