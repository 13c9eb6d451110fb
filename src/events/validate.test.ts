import { describe, expect, it } from 'vitest';
import { createCsvRowMapper, type DeviceInput } from '../registry/index.js';
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
  ['femto.report', 'serial', undefined],
  ['femto.report', 'gps', 'here'],
  ['femto.report', 'gps', { lat: 91, lon: 0 }],
  ['femto.report', 'gps', { lat: 0, lon: -180.5 }],
  ['femto.report', 'gps', { lat: 0 }],
  ['femto.report', 'gps', { lat: 0, lon: 0, accuracyM: -1 }],
  ['femto.report', 'gps', { lat: '37.5', lon: 126.9 }],
  ['femto.report', 'neighbors', 'a;b'],
  ['femto.report', 'swVersion', 421],
  ['ue.attach', 'cellId', undefined],
  ['ue.attach', 'cellId', 118720513],
  ['ue.attach', 'imsi', undefined],
  ['ue.attach', 'imsi', 450081234567890],
  ['ue.attach', 'imsi', '45008123456789012'],
  ['ue.attach', 'imsi', 'IMSI450081234'],
  ['ue.attach', 'imei', 3530000000000001],
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
  ['registry.update', 'serial', undefined],
  ['registry.update', 'status', 'stolen'],
  ['registry.update', 'cellIds', 'x'],
  ['registry.update', 'siteLat', 91],
  ['registry.update', 'siteLon', '126.9'],
  ['registry.update', 'siteRadiusM', 0],
  ['registry.update', 'ipPrefixes', [10]],
  ['registry.update', 'expectedNeighbors', ['']],
  ['registry.update', 'certFingerprints', FP],
  ['registry.update', 'owner', 5],
  ['ue.attach', 'id', 17],
  // Required fields keep refusing null and "" (only optional ones read them as absent).
  ['femto.session', 'serial', null],
  ['femto.session', 'sourceIp', ''],
  ['femto.session', 'phase', null],
  ['femto.report', 'serial', null],
  ['ue.attach', 'cellId', ''],
  ['ue.attach', 'imsi', null],
  ['ims.register', 'ipsec', null],
  ['payment.auth', 'msisdn', ''],
  ['payment.auth', 'currency', null],
  ['registry.update', 'serial', ''],
  ['registry.update', 'serial', null],
  // An optional list written as "" is a wrong type, not an absent string.
  ['femto.report', 'cellIds', ''],
  // registry.update: the registry CSV's field rules (FORMATS.md §1 "same fields as a registry CSV row").
  ['registry.update', 'serial', 'KT/001'],
  ['registry.update', 'ipPrefixes', ['10.1.2.0/16']],
  ['registry.update', 'ipPrefixes', ['10.0.0.0/8', 'not-a-prefix']],
  ['registry.update', 'ipPrefixes', ['10.0.0.0/33']],
  ['registry.update', 'certFingerprints', ['ab'.repeat(31)]],
  ['registry.update', 'certFingerprints', ['zz'.repeat(32)]],
  ['registry.update', 'cellIds', ['45008-1;45008-2']],
  ['registry.update', 'cellIds', ['x'.repeat(65)]],
  ['registry.update', 'expectedNeighbors', ['  ']],
  ['registry.update', 'siteRadiusM', 100_001],
  ['registry.update', 'siteRadiusM', -5],
  ['registry.update', 'siteLon', null],
  ['registry.update', 'owner', 'x'.repeat(201)],
  ['registry.update', 'owner', 'a\u0007b'],
  ['registry.update', 'status', 5],
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

/** Optional fields per type (FORMATS.md §1 tables), and which of them are strings. */
const OPTIONAL: Record<string, { strings: string[]; others: string[] }> = {
  'femto.session': { strings: ['certFingerprint', 'endpoint', 'sessionId'], others: ['cellIds'] },
  'femto.report': { strings: ['sourceIp', 'swVersion', 'configHash'], others: ['cellIds', 'gps', 'neighbors'] },
  'ue.attach': { strings: ['imei', 'msisdn'], others: [] },
  'ims.register': { strings: ['cellId', 'msisdn'], others: [] },
  'payment.auth': { strings: ['method', 'merchant'], others: [] },
  'registry.update': { strings: ['status'], others: ['cellIds', 'siteRadiusM', 'ipPrefixes', 'expectedNeighbors', 'certFingerprints'] },
};

describe('validateEvent: an optional field written as null, or "" for a string, is absent', () => {
  const ok = (e: Record<string, unknown>): Record<string, unknown> => {
    const v = validateEvent(e);
    if (!v.ok) throw new Error(JSON.stringify(v));
    return v.event as unknown as Record<string, unknown>;
  };
  for (const [type, { strings, others }] of Object.entries(OPTIONAL)) {
    const full = (GOOD[type] as Record<string, unknown>[])[0]!;
    for (const field of ['id', ...strings, ...others]) {
      const written = strings.includes(field) || field === 'id' ? [null, ''] : [null];
      for (const w of written) {
        it(`ok/${type} ${field} = ${JSON.stringify(w)}: accepted without the field`, () => {
          const without = structuredClone(full);
          delete without[field];
          const event = ok({ ...structuredClone(full), [field]: w });
          expect(field in event).toBe(false);
          expect(event).toStrictEqual(ok(without));
        });
      }
    }
  }

  it('ok/gps.accuracyM null: the fix without it', () => {
    const e = ok({ type: 'femto.report', ts: TS, serial: 'F10', gps: { lat: 37.5, lon: 127, accuracyM: null } });
    expect(e.gps).toStrictEqual({ lat: 37.5, lon: 127 });
  });

  it('ok/the reviewer\'s lines: imei null, msisdn "", certFingerprint null, endpoint "", gps null', () => {
    expect(ok({ type: 'ue.attach', cellId: 'C13', imsi: '450081234567890', imei: null, ts: TS })).not.toHaveProperty('imei');
    expect(ok({ type: 'ue.attach', cellId: 'C15', imsi: '450081234567890', msisdn: '', ts: TS })).not.toHaveProperty('msisdn');
    expect(ok({ type: 'femto.session', serial: 'F3', phase: 'up', sourceIp: '1.2.3.4', certFingerprint: null, ts: TS })).not.toHaveProperty('certFingerprint');
    expect(ok({ type: 'femto.session', serial: 'F5', phase: 'up', sourceIp: '1.2.3.4', endpoint: '', ts: TS })).not.toHaveProperty('endpoint');
    expect(ok({ type: 'femto.report', serial: 'KT/001', gps: null, cellIds: ['45008-99'], ts: TS })).not.toHaveProperty('gps');
  });

  it('ok/registry.update: null still clears siteLat+siteLon and owner (as PATCH does); owner "" is absent', () => {
    expect(ok({ type: 'registry.update', ts: TS, serial: 'R1', siteLat: null, siteLon: null, owner: null })).toMatchObject({ siteLat: null, siteLon: null, owner: null });
    expect(ok({ type: 'registry.update', ts: TS, serial: 'R1', owner: '' })).not.toHaveProperty('owner');
  });
});

describe('validateEvent: registry.update is held to the registry CSV field rules and carries their normalised values', () => {
  const upd = (fields: Record<string, unknown>): ReturnType<typeof validateEvent> => validateEvent({ type: 'registry.update', ts: TS, serial: 'R1', ...fields });
  const event = (fields: Record<string, unknown>): Record<string, unknown> => {
    const v = upd(fields);
    if (!v.ok) throw new Error(JSON.stringify(v));
    return v.event as unknown as Record<string, unknown>;
  };
  const FP_UPPER = FP.toUpperCase().match(/../g)!.join(':');

  it('fail/a prefix with host bits set is refused (never filtered to no prefixes), with the prefix it meant', () => {
    const v = upd({ ipPrefixes: ['10.1.2.0/16'] });
    expect(v).toEqual({ ok: false, error: expect.stringMatching(/^registry\.update: ipPrefixes: .*10\.1\.2\.0\/16.*10\.1\.0\.0\/16/) as unknown });
  });

  it('ok/values come out as the CSV import stores them', () => {
    const e = event({
      serial: ' R1 ',
      status: ' Active ',
      cellIds: [' 45008-21 ', '45008-21', '45008-22'],
      ipPrefixes: ['2001:DB8:0::/32', '10.0.0.0/8'],
      expectedNeighbors: [' 45008-9 '],
      certFingerprints: [FP_UPPER, ` ${FP.toUpperCase()} `],
      owner: '  Cafe  ',
      siteRadiusM: 100_000,
    });
    expect(e).toMatchObject({ serial: 'R1', status: 'active', cellIds: ['45008-21', '45008-22'], ipPrefixes: ['2001:db8::/32', '10.0.0.0/8'], expectedNeighbors: ['45008-9'], certFingerprints: [FP], owner: 'Cafe', siteRadiusM: 100_000 });
  });

  it('fail/a site is both coordinates or neither: one null beside a number, or a null alone, is refused', () => {
    expect(upd({ siteLat: 37.5, siteLon: null })).toMatchObject({ ok: false, error: expect.stringMatching(/siteLat and siteLon/) as unknown });
    expect(upd({ siteLat: null })).toMatchObject({ ok: false, error: expect.stringMatching(/siteLat and siteLon both null/) as unknown });
    expect(upd({ siteLon: null })).toMatchObject({ ok: false, error: expect.stringMatching(/siteLat and siteLon both null/) as unknown });
    // A number alone moves one coordinate of the site the device has (fields left out keep their value).
    expect(event({ siteLat: 37.5 })).toMatchObject({ siteLat: 37.5 });
  });

  /** One CSV row per value: the event must accept exactly what the CSV accepts, and carry what it stores. */
  const CSV_COLUMNS = { status: 'status', cellIds: 'cell_ids', siteRadiusM: 'site_radius_m', ipPrefixes: 'ip_prefixes', expectedNeighbors: 'expected_neighbors', certFingerprints: 'cert_fingerprints', owner: 'owner' } as const;
  const SAMPLES: [keyof typeof CSV_COLUMNS, unknown][] = [
    ['status', 'LOST'], ['status', 'stolen'], ['status', ' suspended '],
    ['cellIds', ['45008-1', ' 45008-2 ']], ['cellIds', ['a'.repeat(64)]], ['cellIds', ['a'.repeat(65)]],
    ['ipPrefixes', ['10.1.2.0/16']], ['ipPrefixes', ['10.1.0.0/16']], ['ipPrefixes', ['192.168.1.7/32']], ['ipPrefixes', ['192.168.1.7']], ['ipPrefixes', ['FE80::/10']], ['ipPrefixes', ['::ffff:10.0.0.0/104']], ['ipPrefixes', ['10.0.0.0/8x']],
    ['expectedNeighbors', ['45008-100000581']], ['expectedNeighbors', ['bad\u0001cell']],
    ['certFingerprints', [FP_UPPER]], ['certFingerprints', [FP]], ['certFingerprints', ['ab'.repeat(33)]], ['certFingerprints', ['g'.repeat(64)]],
    ['siteRadiusM', 1], ['siteRadiusM', 100_000], ['siteRadiusM', 100_000.5], ['siteRadiusM', 0],
    ['owner', 'Cafe Mokdong'], ['owner', 'x'.repeat(201)],
  ];
  const csv = (column: string, value: unknown): { ok: boolean; device?: DeviceInput } => {
    const mapper = createCsvRowMapper(['serial', 'status', column].filter((c, k, all) => all.indexOf(c) === k));
    const cell = Array.isArray(value) ? value.join(';') : String(value);
    const fields = column === 'status' ? ['R1', cell] : ['R1', 'active', cell];
    const r = mapper.map(fields, 2);
    return r.ok ? { ok: true, device: r.device } : { ok: false };
  };
  for (const [field, value] of SAMPLES) {
    it(`ok/same verdict and value as a CSV row: ${field} = ${JSON.stringify(value).slice(0, 40)}`, () => {
      const row = csv(CSV_COLUMNS[field], value);
      const v = upd({ [field]: structuredClone(value) });
      expect(v.ok).toBe(row.ok);
      if (v.ok && row.device) expect((v.event as unknown as Record<string, unknown>)[field]).toStrictEqual(row.device[field]);
    });
  }
});
