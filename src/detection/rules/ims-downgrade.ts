import type { Rule } from '../rule.js';
import type { ImsWindow } from '../cell-records.js';
import { quoted } from '../text.js';

const HOUR = 3_600_000;
const NETWORK_HOURS = 24;

/**
 * IMS registrations without IPsec (sec-agree) through a cell, as a share of the cell's
 * registrations, against the network's normal share over the last day (other cells only). A
 * rogue cell that strips IPsec to read SMS shows a share far above normal. Judged per window
 * and over the cell's last `evidenceWindows` windows as one span, by the same tests: a
 * low-volume rogue (a few stripped registrations an hour) never fills a window, but a day of
 * them is plain.
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

  /** The network's share without IPsec, leaving out `total` registrations (`without` of them without IPsec) of the cell judged. */
  const normalShare = (total: number, without: number): number => {
    const otherTotal = netTotal - total;
    return otherTotal > 0 ? Math.max(0, netWithout - without) / otherTotal : 0;
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
      const index = Math.floor(e.t / c.windowMs);
      // The window and its span live on the cell's record (cell.ims).
      let w = cell.ims;
      if (!w) cell.ims = w = openWindow(index, c.windowMs, c.evidenceWindows);
      else if (index > w.index) nextWindow(w, index, c.windowMs);
      else if (index < w.index) return;
      const spanArr = w.span;
      const span = spanArr.length >>> 1;
      const slot = 2 * (index % span);
      w.total++;
      w.without += without;
      spanArr[slot] = (spanArr[slot] as number) + 1;
      spanArr[slot + 1] = (spanArr[slot + 1] as number) + without;
      w.spanSumTotal++;
      w.spanSumWithout += without;
      if (w.fired) return;
      // The window alone first (its finding covers the span too: one finding per surging span).
      const found =
        w.total >= c.minRegistrations
          ? judge(w.total, w.without, normalShare(w.total, w.without), c)
          : undefined;
      if (found) {
        w.fired = true;
        w.spanQuietUntil = index + span;
        ctx.raise({
          rule: 'ims-downgrade',
          severity: c.severity,
          t: e.t,
          cellId: e.cellId,
          summary: `${w.without} of ${w.total} IMS registrations through cell ${quoted(e.cellId)} had no IPsec (${pct(found.share)} against ${pct(found.normal)} network-wide): SMS and call codes on it can be read.`,
          evidence: { registrations: w.total, withoutIpsec: w.without, share: round3(found.share), networkShare: round3(found.normal), pValue: Number(found.pValue.toPrecision(3)), windowStart: new Date(w.start).toISOString() },
        });
        return;
      }
      if (span === 1 || index < w.spanQuietUntil || w.spanSumTotal < c.minRegistrations || w.spanSumTotal === w.total) return;
      const spanFound = judge(w.spanSumTotal, w.spanSumWithout, normalShare(w.spanSumTotal, w.spanSumWithout), c);
      if (!spanFound) return;
      w.fired = true;
      w.spanQuietUntil = index + span;
      const hours = Math.round((span * c.windowMs) / HOUR);
      ctx.raise({
        rule: 'ims-downgrade',
        severity: c.severity,
        t: e.t,
        cellId: e.cellId,
        summary: `${w.spanSumWithout} of ${w.spanSumTotal} IMS registrations through cell ${quoted(e.cellId)} over the last ${hours} h had no IPsec (${pct(spanFound.share)} against ${pct(spanFound.normal)} network-wide): SMS and call codes on it can be read.`,
        evidence: {
          registrations: w.spanSumTotal,
          withoutIpsec: w.spanSumWithout,
          share: round3(spanFound.share),
          networkShare: round3(spanFound.normal),
          pValue: Number(spanFound.pValue.toPrecision(3)),
          windowStart: new Date(w.start).toISOString(),
          spanStart: new Date((index - span + 1) * c.windowMs).toISOString(),
          spanWindows: span,
        },
      });
    },
  };
}

interface Thresholds {
  excessShare: number;
  minNetworkShare: number;
  maxPValue: number;
}

/** The share test and the chance test on `total` registrations, `without` of them without IPsec; undefined when either says normal. */
function judge(total: number, without: number, normal: number, c: Thresholds): { share: number; normal: number; pValue: number } | undefined {
  const share = without / total;
  if (share - normal < c.excessShare) return undefined;
  const pValue = binomialTail(total, without, Math.max(normal, c.minNetworkShare));
  return pValue > c.maxPValue ? undefined : { share, normal, pValue };
}

function openWindow(index: number, windowMs: number, span: number): ImsWindow {
  return {
    start: index * windowMs,
    index,
    total: 0,
    without: 0,
    fired: false,
    span: new Uint32Array(2 * span),
    spanSumTotal: 0,
    spanSumWithout: 0,
    spanQuietUntil: 0,
    spanMs: span * windowMs,
  };
}

/** Moves the cell's window on to window number `index`, letting the windows that leave the span go. */
function nextWindow(w: ImsWindow, index: number, windowMs: number): void {
  const spanArr = w.span;
  const span = spanArr.length >>> 1;
  for (let k = Math.max(w.index + 1, index - span + 1); k <= index; k++) {
    const slot = 2 * (k % span);
    w.spanSumTotal -= spanArr[slot] as number;
    w.spanSumWithout -= spanArr[slot + 1] as number;
    spanArr[slot] = 0;
    spanArr[slot + 1] = 0;
  }
  w.index = index;
  w.start = index * windowMs;
  w.total = 0;
  w.without = 0;
  w.fired = false;
}

const pct = (x: number): string => `${Math.round(x * 100)}%`;
const round3 = (x: number): number => Number(x.toFixed(3));

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
