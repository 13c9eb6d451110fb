import type { ImpactPayment, ImpactResult, ImpactSubscriber } from './impact.js';

/**
 * The impact exports. SUBSCRIBERS.csv's header is a contract (issue 5); the others are
 * femtoguard's own and documented in docs/subscribers.md. CSV is RFC 4180: comma-separated,
 * CRLF-free (`\n` line ends, as the other femtoguard CSVs), fields quoted when they hold a
 * comma, a quote or a line break; lists inside a field are `;`-separated (FORMATS.md §2).
 * Every text field is made spreadsheet-safe first (`spreadsheetSafe`): transaction ids, cell
 * ids, identifiers, method and merchant all come from ingested events.
 */
export const SUBSCRIBERS_HEADER = ['imsi', 'imei', 'msisdn', 'cell_ids', 'first_seen', 'last_seen', 'attach_count', 'ims_without_ipsec', 'payments_at_risk'] as const;
export const PAYMENTS_HEADER = ['tx_id', 'msisdn', 'imsi', 'ts', 'amount_minor', 'currency', 'method', 'merchant', 'last_exposure_cell', 'last_exposure_at', 'seconds_since_exposure', 'risk_level', 'at_risk'] as const;
export const NOTIFICATION_HEADER = ['msisdn', 'imsi', 'imei', 'first_exposed', 'last_exposed', 'cell_ids', 'payments_at_risk', 'amount_at_risk', 'priority'] as const;

const iso = (t: number): string => new Date(t).toISOString();

/** What makes a spreadsheet read a cell as a formula (OWASP "CSV Injection"): = + - @ TAB CR first. */
const FORMULA_START = /^[=+\-@\t\r]/;
/** A well-formed E.164 number: a spreadsheet reads it as a number, never runs it. */
const E164 = /^\+[0-9]{6,15}$/;

/**
 * Text made safe to open in a spreadsheet (OWASP CSV injection guidance): a value starting
 * with = + - @ TAB or CR is prefixed with a single quote, so that a care agent or a regulator
 * opening the export does not run `=HYPERLINK(...)` or `@SUM(...)` planted in an event. A
 * well-formed E.164 number (`+821012345678`) is left as it is: it is an identifier the reader
 * must be able to copy. A masked one (`+82********78`) is not well-formed, so it is guarded too.
 */
export function spreadsheetSafe(s: string): string {
  return FORMULA_START.test(s) && !E164.test(s) ? `'${s}` : s;
}

/** One RFC 4180 field; text is made spreadsheet-safe first (numbers and booleans are ours). */
export function csvField(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'string' ? spreadsheetSafe(v) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export const csvLine = (values: readonly (string | number | boolean | null | undefined)[]): string => values.map(csvField).join(',') + '\n';

const amounts = (a: Record<string, number>): string =>
  Object.entries(a)
    .sort(([x], [y]) => (x < y ? -1 : 1))
    .map(([c, n]) => `${c}:${n}`)
    .join(';');

export function subscriberRow(s: ImpactSubscriber): string {
  return csvLine([s.imsi, s.imei, s.msisdn, s.cellIds.join(';'), iso(s.firstSeen), iso(s.lastSeen), s.attachCount, s.imsWithoutIpsec, s.paymentsAtRisk]);
}

export function paymentRow(p: ImpactPayment): string {
  return csvLine([p.txId, p.msisdn, p.imsi, iso(p.t), p.amountMinor, p.currency, p.method, p.merchant, p.lastExposureCell, iso(p.lastExposure), p.secondsSinceExposure, p.riskLevel, p.atRisk]);
}

/** Customer care's list: who to call first (payments at risk), with what to tell them. */
export interface Notification {
  msisdn: string | null;
  imsi: string;
  imei: string | null;
  firstExposed: string;
  lastExposed: string;
  cellIds: string[];
  paymentsAtRisk: number;
  amountAtRisk: Record<string, number>;
  priority: 'urgent' | 'normal';
}

export function notifications(r: ImpactResult): Notification[] {
  return r.subscribers
    .map(
      (s): Notification => ({
        msisdn: s.msisdn,
        imsi: s.imsi,
        imei: s.imei,
        firstExposed: iso(s.firstSeen),
        lastExposed: iso(s.lastSeen),
        cellIds: s.cellIds,
        paymentsAtRisk: s.paymentsAtRisk,
        amountAtRisk: s.amountAtRisk,
        priority: s.paymentsAtRisk > 0 ? 'urgent' : 'normal',
      }),
    )
    .sort((a, b) => (a.priority === b.priority ? (a.imsi < b.imsi ? -1 : 1) : a.priority === 'urgent' ? -1 : 1));
}

export function notificationRow(n: Notification): string {
  return csvLine([n.msisdn, n.imsi, n.imei, n.firstExposed, n.lastExposed, n.cellIds.join(';'), n.paymentsAtRisk, amounts(n.amountAtRisk), n.priority]);
}

export type ImpactView = 'subscribers' | 'payments' | 'notification' | 'summary';

/** A whole export as CSV text (summary has no CSV form: it is JSON). */
export function toCsv(r: ImpactResult, view: Exclude<ImpactView, 'summary'>): string {
  if (view === 'subscribers') return csvLine(SUBSCRIBERS_HEADER) + r.subscribers.map(subscriberRow).join('');
  if (view === 'payments') return csvLine(PAYMENTS_HEADER) + r.payments.map(paymentRow).join('');
  return csvLine(NOTIFICATION_HEADER) + notifications(r).map(notificationRow).join('');
}

/** A whole export as JSON-ready data. */
export function toJson(r: ImpactResult, view: ImpactView): unknown {
  const t = (x: number): string => iso(x);
  switch (view) {
    case 'subscribers':
      return { summary: r.summary, items: r.subscribers.map((s) => ({ ...s, firstSeen: t(s.firstSeen), lastSeen: t(s.lastSeen) })) };
    case 'payments':
      return { summary: r.summary.payments, items: r.payments.map((p) => ({ ...p, ts: t(p.t), lastExposure: t(p.lastExposure) })) };
    case 'notification':
      return { items: notifications(r) };
    case 'summary':
      return r.summary;
  }
}
