import type { Rule } from '../rule.js';

const HOUR = 3_600_000;
const NETWORK_HOURS = 24;

/**
 * IMS registrations without IPsec (sec-agree) through a cell, as a share of the cell's
 * registrations in a window, against the network's normal share over the last day (other
 * cells only). A rogue cell that strips IPsec to read SMS shows a share far above normal.
 */
export function imsDowngrade(): Rule {
  // Network counts per hour (ring), to know what "normal" is.
  const ringTotal = new Float64Array(NETWORK_HOURS);
  const ringWithout = new Float64Array(NETWORK_HOURS);
  let ringHour = -1;
  let netTotal = 0;
  let netWithout = 0;

  const advance = (t: number): void => {
    const h = Math.floor(t / HOUR);
    if (ringHour < 0) ringHour = h;
    while (ringHour < h) {
      ringHour++;
      const i = ringHour % NETWORK_HOURS;
      netTotal -= ringTotal[i] as number;
      netWithout -= ringWithout[i] as number;
      ringTotal[i] = 0;
      ringWithout[i] = 0;
    }
  };

  return {
    id: 'ims-downgrade',
    onIms(e, ctx, cell) {
      advance(e.t);
      const i = Math.floor(e.t / HOUR) % NETWORK_HOURS;
      const without = e.ipsec ? 0 : 1;
      if (Math.floor(e.t / HOUR) === ringHour) {
        ringTotal[i] = (ringTotal[i] as number) + 1;
        ringWithout[i] = (ringWithout[i] as number) + without;
        netTotal++;
        netWithout += without;
      }
      if (!e.cellId || !cell) return;
      const c = ctx.cfg['ims-downgrade'];
      const start = e.t - (e.t % c.windowMs);
      // The window lives on the cell's record (cell.ims).
      let w = cell.ims;
      if (!w || start > w.start) cell.ims = w = { start, total: 0, without: 0, fired: false };
      else if (start < w.start) return;
      w.total++;
      w.without += without;
      if (w.fired || w.total < c.minRegistrations) return;
      const share = w.without / w.total;
      const otherTotal = netTotal - w.total;
      const normal = otherTotal > 0 ? Math.max(0, netWithout - w.without) / otherTotal : 0;
      if (share - normal < c.excessShare) return;
      const pValue = binomialTail(w.total, w.without, Math.max(normal, c.minNetworkShare));
      if (pValue > c.maxPValue) return;
      w.fired = true;
      ctx.raise({
        rule: 'ims-downgrade',
        severity: c.severity,
        t: e.t,
        cellId: e.cellId,
        summary: `${w.without} of ${w.total} IMS registrations through cell ${e.cellId} had no IPsec (${Math.round(share * 100)}% against ${Math.round(normal * 100)}% network-wide): SMS and call codes on it can be read.`,
        evidence: { registrations: w.total, withoutIpsec: w.without, share: Number(share.toFixed(3)), networkShare: Number(normal.toFixed(3)), pValue: Number(pValue.toPrecision(3)), windowStart: new Date(w.start).toISOString() },
      });
    },
  };
}

/** P(X >= k) for X ~ Binomial(n, p), summed in log space (n is small: one cell's window). */
export function binomialTail(n: number, k: number, p: number): number {
  if (k <= 0) return 1;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  const lp = Math.log(p);
  const lq = Math.log1p(-p);
  let logC = 0; // log C(n, 0)
  for (let i = 1; i <= k; i++) logC += Math.log((n - i + 1) / i);
  let sum = 0;
  for (let i = k; i <= n; i++) {
    sum += Math.exp(logC + i * lp + (n - i) * lq);
    logC += Math.log((n - i) / (i + 1));
  }
  return Math.min(1, sum);
}
