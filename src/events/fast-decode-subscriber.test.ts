import { describe, expect, it } from 'vitest';
import { digitsKey, digitsKeyOf, SubscriberDecoder, type SubscriberKeys } from './fast-decode-subscriber.js';
import { absentVariants, ATTACH, IMS, PAY, REPORT, scanOne, slowPath, TS } from './fast-scan-kit.js';
import { createRecords } from './fast-scan.js';

/** What the engine reads of a subscriber event, through its properties (getters included), undefined ones left out. */
const FIELDS: Record<string, readonly string[]> = {
  'ue.attach': ['type', 'ts', 'id', 't', 'cellId', 'imsi', 'imei', 'msisdn'],
  'ims.register': ['type', 'ts', 'id', 't', 'imsi', 'ipsec', 'cellId', 'msisdn'],
  'payment.auth': ['type', 'ts', 'id', 't', 'txId', 'msisdn', 'amountMinor', 'currency', 'method', 'merchant'],
};

function read(e: object): Record<string, unknown> {
  const type = (e as { type: string }).type;
  const out: Record<string, unknown> = {};
  for (const k of FIELDS[type] ?? []) {
    const v = (e as Record<string, unknown>)[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

function decode(d: SubscriberDecoder, line: string) {
  const rec = scanOne(line);
  if (rec === null) throw new Error(`not scanned: ${line}`);
  return d.decode(Buffer.from(line), rec, 0);
}

const VARIANTS = [
  ATTACH,
  IMS,
  PAY,
  ATTACH.replace(`"ts":${TS}`, '"ts":1754003493715'),
  IMS.replace('"ts":1754003493715', `"ts":"2025-08-05T11:14:09.123+09:00"`).replace('"ipsec":true', '"ipsec":false'),
  `{"type":"ue.attach","cellId":"c-1","imsi":"00012","ts":${TS}}`,
  `{"type":"ue.attach","cellId":"c-1","imsi":"450080000000626","msisdn":"821010000626","imei":"IMEI-not-digits","ts":${TS}}`,
  `{"type":"ims.register","imsi":"12345","ipsec":true,"ts":${TS}}`,
  `{"type":"payment.auth","txId":"t","msisdn":"m","amountMinor":1,"currency":"KRW","ts":${TS}}`,
];

describe('SubscriberDecoder', () => {
  it('ok/reads as validateEvent(JSON.parse(line)) does, field by field', () => {
    const d = new SubscriberDecoder();
    for (const line of VARIANTS) expect(read(decode(d, line)), line).toEqual(read(slowPath(Buffer.from(line))!));
  });

  it('ok/absent optional fields written as null or "" read as absent', () => {
    const d = new SubscriberDecoder();
    for (const v of absentVariants()) {
      if (v.line.includes('femto.')) continue;
      const rec = scanOne(v.line);
      const slow = slowPath(Buffer.from(v.without))!;
      // A line the scanner declines goes through JSON.parse on the reader's side: nothing to decode here.
      if (rec === null) continue;
      expect(read(d.decode(Buffer.from(v.line), rec, 0)), v.name).toEqual(read(slow));
    }
  });

  it('ok/the identifiers\' keys are digitsKey of their strings, 0 when absent', () => {
    const d = new SubscriberDecoder();
    for (const line of VARIANTS.filter((l) => !l.includes('payment.auth'))) {
      const e = decode(d, line) as unknown as SubscriberKeys & { imsi: string; msisdn?: string; imei?: string };
      expect(e.imsiKey).toBe(digitsKey(e.imsi));
      expect(e.msisdnKey).toEqual(e.msisdn === undefined ? 0 : digitsKey(e.msisdn));
      expect(e.imeiKey).toEqual(e.imei === undefined ? 0 : digitsKey(e.imei));
    }
  });

  it('ok/the cell id is interned; strings read once are kept', () => {
    const d = new SubscriberDecoder();
    const a = decode(d, ATTACH) as { cellId: string; imsi: string };
    const b = decode(d, ATTACH.replace('"e17727"', '"e17728"')) as { cellId: string };
    expect(b.cellId).toBe(a.cellId);
    expect(a.imsi).toBe(a.imsi);
  });

  it('fail/a string read after release throws; what was read before stays', () => {
    const d = new SubscriberDecoder();
    const e = decode(d, ATTACH);
    if (e.type !== 'ue.attach') throw new Error('not an attach');
    const imsi = e.imsi;
    e.release();
    expect(e.imsi).toBe(imsi);
    expect(e.cellId).toBe('45008-200000103');
    expect(() => e.id).toThrow(/after its batch was handed back/);
    expect(() => e.msisdn).toThrow(/after its batch was handed back/);
    expect(() => e.ts).toThrow(/after its batch was handed back/);
  });

  it('ok/a released event\'s object is reused for the next event of its type, read afresh; one not released is not', () => {
    const d = new SubscriberDecoder();
    const other = ATTACH.replace('"imsi":"450080000000626"', '"imsi":"450080000000999"').replace('"e17727"', '"e2"').replace(',"imei":"351082645176936"', '');
    const a = decode(d, ATTACH);
    if (a.type !== 'ue.attach') throw new Error('not an attach');
    expect(a.imsi).toBe('450080000000626');
    expect(a.imei).toBe('351082645176936');
    const held = decode(d, other);
    expect(held).not.toBe(a); // `a` was not released
    if (held.type !== 'ue.attach') throw new Error('not an attach');
    held.release();
    const b = decode(d, ATTACH.replace('"e17727"', '"e3"'));
    expect(b).toBe(held);
    expect(read(b)).toEqual(read(slowPath(Buffer.from(ATTACH.replace('"e17727"', '"e3"')))!));
    // The strings `b` read (imei among them) are not those of the event its object holds next.
    if (b.type !== 'ue.attach') throw new Error('not an attach');
    b.release();
    const c = decode(d, other);
    expect(c).toBe(b);
    expect(read(c)).toEqual(read(slowPath(Buffer.from(other))!));
    const ims = decode(d, IMS);
    if (ims.type !== 'ims.register') throw new Error('not a registration');
    ims.release();
    const ims2 = decode(d, IMS.replace('"ipsec":true', '"ipsec":false'));
    expect(ims2).toBe(ims);
    expect(read(ims2)).toEqual(read(slowPath(Buffer.from(IMS.replace('"ipsec":true', '"ipsec":false')))!));
  });

  it('fail/a row that holds no subscriber event throws', () => {
    expect(() => new SubscriberDecoder().decode(Buffer.alloc(0), createRecords(1), 0)).toThrow(/no scanned subscriber event/);
    expect(() => decode(new SubscriberDecoder(), REPORT)).toThrow(/no scanned subscriber event/);
  });
});

describe('digitsKeyOf', () => {
  it('ok/equals digitsKey of the same text', () => {
    const ids = ['7', '07', '007', '+7', '+07', '123456789012345', '+123456789012345', '1234567890123456', '+', '++1', '1+', '1e5', ' 1', '-1', 'a', '450080000000626', '+821010000626'];
    for (const s of ids) {
      const buf = Buffer.from(`x${s}y`, 'latin1');
      const k = digitsKeyOf(buf, 1, 1 + s.length);
      if (Number.isNaN(digitsKey(s))) expect(k, s).toBeNaN();
      else expect(k, s).toBe(digitsKey(s));
    }
  });
});
