import { describe, expect, it } from 'vitest';
import { validateEvent, type FgEvent } from '../events/index.js';
import { ExposureAggregator } from './aggregate.js';

const T = Date.parse('2025-08-05T10:00:00Z');
const DAY = 86_400_000;
const ev = (o: Record<string, unknown>): FgEvent => {
  const v = validateEvent({ ts: T, ...o });
  if (!v.ok) throw new Error(JSON.stringify(v));
  return v.event;
};
const attach = (dt: number, cellId: string, imsi: string, extra: Record<string, unknown> = {}) => ev({ type: 'ue.attach', ts: T + dt, cellId, imsi, ...extra });
const A = '450080000000001';
const B = '450080000000002';

describe('ExposureAggregator', () => {
  it('ok/one bucket per (day, cell, imsi): count, first and last attach, IMS without IPsec', () => {
    const g = new ExposureAggregator();
    g.add(attach(5000, 'C1', A));
    g.add(attach(0, 'C1', A));
    g.add(attach(9000, 'C1', A));
    g.add(ev({ type: 'ims.register', ts: T + 7000, imsi: A, cellId: 'C1', ipsec: false }));
    g.add(ev({ type: 'ims.register', ts: T + 8000, imsi: A, cellId: 'C1', ipsec: true }));
    g.add(attach(DAY, 'C1', A));
    g.add(attach(0, 'C2', B));
    const b = g.take(7);
    expect(b.cursor).toBe(7);
    expect(b.buckets).toHaveLength(3);
    expect(b.buckets.find((x) => x.cellId === 'C1' && x.day === Math.floor(T / DAY))).toEqual({
      day: Math.floor(T / DAY), cellId: 'C1', imsi: A, firstAttach: T, lastAttach: T + 9000, attachCount: 3, firstSeen: T, lastSeen: T + 9000, imsCount: 2, imsWithoutIpsec: 1,
    });
    expect(g.pending).toBe(0);
    expect(g.take(null)).toEqual({ buckets: [], subscribers: [], payments: [], cursor: null });
  });

  it('ok/an IMS registration alone makes a bucket without attach times', () => {
    const g = new ExposureAggregator();
    g.add(ev({ type: 'ims.register', imsi: A, cellId: 'C9', ipsec: false }));
    expect(g.take(null).buckets[0]).toMatchObject({ firstAttach: null, lastAttach: null, attachCount: 0, imsWithoutIpsec: 1 });
  });

  it('ok/the latest event decides MSISDN and IMEI, whatever the arrival order', () => {
    const g = new ExposureAggregator();
    g.add(attach(2000, 'C1', A, { msisdn: '+821011112222', imei: '351111111111111' }));
    g.add(attach(1000, 'C2', A, { msisdn: '+821099998888' }));
    expect(g.take(null).subscribers).toEqual([{ imsi: A, msisdn: '+821011112222', msisdnSince: T + 2000, imei: '351111111111111', firstSeen: T + 1000, lastSeen: T + 2000, lastCellId: 'C1' }]);
  });

  it('ok/an older event fills a link the newer ones lacked', () => {
    const g = new ExposureAggregator();
    g.add(attach(2000, 'C1', A));
    g.add(attach(1000, 'C2', A, { msisdn: '+821099998888' }));
    expect(g.take(null).subscribers[0]).toMatchObject({ msisdn: '+821099998888', lastCellId: 'C1' });
  });

  it('ok/payments are kept once per txId; other event types are ignored', () => {
    const g = new ExposureAggregator();
    const p = ev({ type: 'payment.auth', txId: 'tx1', msisdn: '+821011112222', amountMinor: 5000, currency: 'KRW' });
    expect(g.add(p)).toBe(true);
    g.add(p);
    expect(g.add(ev({ type: 'femto.session', serial: 'S', phase: 'up', sourceIp: '10.0.0.1' }))).toBe(false);
    expect(g.take(null).payments).toEqual([{ txId: 'tx1', msisdn: '+821011112222', t: T, amountMinor: 5000, currency: 'KRW', method: null, merchant: null }]);
  });

  it('ok/pendingFor lists the folded buckets of one cell', () => {
    const g = new ExposureAggregator();
    g.add(attach(0, 'C1', A));
    g.add(attach(0, 'C2', B));
    expect(g.pendingFor('C2').map((b) => b.imsi)).toEqual([B]);
  });
});
