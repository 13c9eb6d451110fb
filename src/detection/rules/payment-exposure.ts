import type { Rule } from '../rule.js';
import { quoted } from '../text.js';

/**
 * A payment authenticated for a subscriber who was on a flagged cell within `lookbackMs`
 * before it, the cell flagged (by any rule) no later than the payment, whether before or
 * after the attach, and its latest flag no older than `flagRetentionMs` (a flag lapses when
 * nothing has flagged the cell again for that long). One alert per payment (subject: txId).
 */
export function paymentExposure(): Rule {
  return {
    id: 'payment-exposure',
    onPayment(e, ctx) {
      const c = ctx.cfg['payment-exposure'];
      const imsi = ctx.subscribers.imsiOf(e.msisdn);
      if (!imsi) return;
      const exposures: { cellId: string; lastOn: string; flaggedAt: string; rules: string[]; minutesBefore: number }[] = [];
      let latest = -Infinity;
      let cellId: string | undefined;
      for (const [cell, lastOn] of ctx.subscribers.cellsSince(imsi, e.t - c.lookbackMs)) {
        const f = ctx.flags.get(cell);
        if (!f || f.t > e.t || f.last < e.t - c.flagRetentionMs || lastOn > e.t) continue;
        exposures.push({ cellId: cell, lastOn: new Date(lastOn).toISOString(), flaggedAt: new Date(f.t).toISOString(), rules: [...f.rules], minutesBefore: Math.round((e.t - lastOn) / 60_000) });
        if (lastOn > latest) {
          latest = lastOn;
          cellId = cell;
        }
      }
      if (!cellId) return;
      // The currency needs no quotes: the event validator admits only an ISO 4217 code (three capitals).
      ctx.raise({
        rule: 'payment-exposure',
        severity: c.severity,
        t: e.t,
        txId: e.txId,
        msisdn: e.msisdn,
        imsi,
        cellId,
        summary: `Payment ${quoted(e.txId)} (${e.amountMinor} ${e.currency}${e.method ? ` by ${quoted(e.method)}` : ''}) was authenticated for a subscriber who was on flagged cell ${quoted(cellId)} ${Math.round((e.t - latest) / 60_000)} min earlier: hold it and confirm with the subscriber out of band.`,
        evidence: { exposures, amountMinor: e.amountMinor, currency: e.currency, method: e.method ?? null, merchant: e.merchant ?? null },
      });
    },
  };
}
