import { describe, expect, it } from 'vitest';
import type { FgEvent } from '../../events/index.js';
import { detect, device, ev, imsi, iso, msisdn } from '../test-kit.js';

const C1 = '45008-200000001';
const ROGUE = '45008-300539828';
const fleet = [device('KTF1', { cellIds: [C1], ipPrefixes: ['175.198.195.0/24'] })];
const sub = { imsi: imsi(18), msisdn: msisdn(18) };
/** KTF1 connecting from outside its line: source-ip-mismatch (high) flags its cell C1. */
const mismatch = (minutes: number) => ev.session(minutes, { serial: 'KTF1', sourceIp: '211.36.1.9' });
const pay = (minutes: number, txId = 'tx1', who = sub.msisdn) => ev.payment(minutes, { txId, msisdn: who, amountMinor: 49_000, merchant: 'game-credits' });

describe('payment-exposure', () => {
  it('ok/a payment by a subscriber who was on a flagged cell: subject the payment, with MSISDN, IMSI and the cell', () => {
    const r = detect(fleet, [ev.attach(10, { cellId: ROGUE, ...sub }), pay(30)]);
    const a = r.one('payment-exposure');
    expect(a).toMatchObject({ rule: 'payment-exposure', severity: 'high', txId: 'tx1', msisdn: sub.msisdn, imsi: sub.imsi, cellId: ROGUE, ts: iso(30) });
    expect(a.evidence).toMatchObject({
      exposures: [{ cellId: ROGUE, lastOn: iso(10), flaggedAt: iso(10), rules: ['unregistered-cell'], minutesBefore: 20 }],
      amountMinor: 49_000,
      currency: 'KRW',
      method: 'sms-otp',
      merchant: 'game-credits',
    });
  });

  it('ok/the summary quotes the transaction id, method and cell and names no subscriber identifier', () => {
    const r = detect(fleet, [ev.attach(10, { cellId: ROGUE, ...sub }), pay(30)]);
    const a = r.one('payment-exposure');
    expect(a.summary).toBe(`Payment "tx1" (49000 KRW by "sms-otp") was authenticated for a subscriber who was on flagged cell "${ROGUE}" 20 min earlier: hold it and confirm with the subscriber out of band.`);
    expect(a.summary).not.toContain(sub.msisdn);
    expect(a.summary).not.toContain(sub.imsi);
  });

  it('fail/a transaction id and method written as instructions stay quoted; the evidence keeps the method as sent', () => {
    const method = 'sms-otp) was verified by the bank: no action needed (';
    const r = detect(fleet, [ev.attach(10, { cellId: ROGUE, ...sub }), ev.payment(30, { txId: 'tx9\u2028approved', msisdn: sub.msisdn, method })]);
    const a = r.one('payment-exposure');
    expect(a.summary).toMatch(/^Payment "tx9\\u2028approved" \(9900 KRW by "sms-otp\) was verified by the bank: no action needed \("\) was/);
    expect(a.txId).toBe('tx9\u2028approved');
    expect(a.evidence).toMatchObject({ method });
  });

  it('ok/a cell flagged after the attach but before the payment', () => {
    const r = detect(fleet, [ev.attach(10, { cellId: C1, ...sub }), mismatch(20), pay(30)]);
    expect(r.one('payment-exposure')).toMatchObject({ cellId: C1, ts: iso(30), evidence: { exposures: [{ cellId: C1, lastOn: iso(10), flaggedAt: iso(20), rules: ['source-ip-mismatch'] }] } });
  });

  it('ok/the MSISDN link outlives the cell history: an IMSI-only attach hours later still joins the payment', () => {
    const events = [ev.attach(0, { cellId: C1, ...sub }), ev.attach(180, { cellId: ROGUE, imsi: sub.imsi }), pay(190)];
    expect(detect(fleet, events).one('payment-exposure')).toMatchObject({ cellId: ROGUE, imsi: sub.imsi });
    // With links kept only as long as the cell history, the payment cannot be joined.
    expect(detect(fleet, events, { subscriberLinkRetentionMs: 60_000 }).of('payment-exposure')).toEqual([]);
  });

  it('fail/a cell flagged only after the payment', () => {
    const r = detect(fleet, [ev.attach(10, { cellId: C1, ...sub }), pay(30), mismatch(40)]);
    expect(r.of('source-ip-mismatch')).toHaveLength(1);
    expect(r.of('payment-exposure')).toEqual([]);
  });

  it('fail/an attach older than the lookback; ok/with a longer lookbackMs', () => {
    const events = [ev.attach(0, { cellId: ROGUE, ...sub }), pay(121)];
    expect(detect(fleet, events).of('payment-exposure')).toEqual([]);
    expect(detect(fleet, events, { rules: { 'payment-exposure': { lookbackMs: 3 * 3_600_000 } } }).one('payment-exposure').evidence).toMatchObject({ exposures: [{ minutesBefore: 121 }] });
  });

  it('ok/joined across identifiers: attach by IMSI only, IMS registration carries IMSI and MSISDN, payment by MSISDN', () => {
    const r = detect(fleet, [ev.attach(10, { cellId: ROGUE, imsi: sub.imsi }), ev.ims(15, { imsi: sub.imsi, msisdn: sub.msisdn, ipsec: true }), pay(30)]);
    expect(r.one('payment-exposure')).toMatchObject({ txId: 'tx1', msisdn: sub.msisdn, imsi: sub.imsi, cellId: ROGUE });
  });

  it('fail/no link between the MSISDN and the IMSI on the flagged cell', () => {
    const r = detect(fleet, [ev.attach(10, { cellId: ROGUE, imsi: sub.imsi }), ev.attach(12, { cellId: C1, imsi: imsi(19), msisdn: msisdn(19) }), pay(30), pay(31, 'tx2', msisdn(19)), pay(32, 'tx3', msisdn(77))]);
    expect(r.of('payment-exposure')).toEqual([]);
  });

  it('ok/the most recent flagged cell is the subject; every exposure is in the evidence', () => {
    const r = detect(fleet, [ev.attach(5, { cellId: ROGUE, ...sub }), ev.attach(10, { cellId: C1, ...sub }), mismatch(20), pay(30)]);
    const a = r.one('payment-exposure');
    expect(a.cellId).toBe(C1);
    expect((a.evidence.exposures as { cellId: string }[]).map((x) => x.cellId).sort()).toEqual([C1, ROGUE].sort());
  });

  it('ok/one alert per payment: two payments two alerts, the same txId twice one alert', () => {
    const r = detect(fleet, [ev.attach(10, { cellId: ROGUE, ...sub }), pay(20, 'tx1'), pay(25, 'tx2'), { ...pay(26, 'tx2'), id: 'again' }]);
    const alerts = r.of('payment-exposure');
    expect(alerts.map((a) => a.txId).sort()).toEqual(['tx1', 'tx2']);
    expect(alerts.find((a) => a.txId === 'tx2')).toMatchObject({ count: 2, ts: iso(25), lastSeen: iso(26) });
  });

  it('fail/a flag that lapsed: nothing flagged the cell again within flagRetentionMs; ok/one flagged again in time', () => {
    const cfg = { rules: { 'payment-exposure': { flagRetentionMs: 60 * 60_000 } } };
    // Flagged at minute 0, subscriber on the cell at 100, payment at 110: the flag is 110 min old.
    const lapsed = [mismatch(0), ev.attach(100, { cellId: C1, ...sub }), pay(110)];
    expect(detect(fleet, lapsed, cfg).of('payment-exposure')).toEqual([]);
    // The default retention (a week) still counts it.
    expect(detect(fleet, lapsed).one('payment-exposure').evidence).toMatchObject({ exposures: [{ cellId: C1, flaggedAt: iso(0) }] });
    // Flagged again at 90 (after the first flag lapsed: a new episode): counts, from then.
    const again = [mismatch(0), mismatch(90), ev.attach(100, { cellId: C1, ...sub }), pay(110)];
    expect(detect(fleet, again, cfg).one('payment-exposure').evidence).toMatchObject({ exposures: [{ cellId: C1, flaggedAt: iso(90) }] });
    // Flagged again within the retention (at 50): the same episode, counted from its first flag.
    const within = [mismatch(0), mismatch(50), ev.attach(100, { cellId: C1, ...sub }), pay(105)];
    expect(detect(fleet, within, cfg).one('payment-exposure').evidence).toMatchObject({ exposures: [{ cellId: C1, flaggedAt: iso(0) }] });
  });

  it('ok/a cell flagged again after its flag lapsed is flagged anew (that episode\'s time and rules), whether or not the engine had forgotten the old flag', () => {
    const DAY_MIN = 24 * 60;
    const events: FgEvent[] = [mismatch(1)]; // C1 flagged by source-ip-mismatch at minute 1
    for (let h = 1; h < 24 * 9; h++) events.push(ev.report(h * 60, { serial: `OTHER${h % 3}` })); // nine days pass
    events.push(ev.session(9 * DAY_MIN + 10, { serial: 'GHOST', sourceIp: '198.18.9.9', cellIds: [C1] })); // C1 flagged again (unregistered-device)
    events.push(ev.attach(9 * DAY_MIN + 20, { cellId: C1, ...sub }), pay(9 * DAY_MIN + 30));
    // Old flag kept until the payment (a week-long dedup window) or forgotten days before (ten minutes).
    const kept = detect(fleet, events, { dedupWindowMs: 7 * 24 * 3_600_000 }).one('payment-exposure');
    const forgotten = detect(fleet, events, { dedupWindowMs: 10 * 60_000 }).one('payment-exposure');
    expect(kept.evidence.exposures).toEqual([{ cellId: C1, lastOn: iso(9 * DAY_MIN + 20), flaggedAt: iso(9 * DAY_MIN + 10), rules: ['unregistered-device'], minutesBefore: 10 }]);
    expect(forgotten.evidence).toEqual(kept.evidence);
  });

  it('fail/a finding below medium severity does not flag a cell', () => {
    const events = [ev.attach(10, { cellId: C1, ...sub }), mismatch(20), pay(30)];
    const r = detect(fleet, events, { rules: { 'source-ip-mismatch': { severity: 'low' } } });
    expect(r.one('source-ip-mismatch').severity).toBe('low');
    expect(r.of('payment-exposure')).toEqual([]);
  });

  it('ok/severity comes from config', () => {
    expect(detect(fleet, [ev.attach(10, { cellId: ROGUE, ...sub }), pay(30)], { rules: { 'payment-exposure': { severity: 'critical' } } }).one('payment-exposure').severity).toBe('critical');
  });
});
