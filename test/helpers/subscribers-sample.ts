/**
 * The shared kt-small sample for the subscriber tests: its ground truth, and the events moved
 * in time (the sample is from August 2025; the server keeps 400 days and the risk API looks
 * at the recent past, so the tests replay it as if it had just happened).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEventTime } from '../../src/events/index.js';
import { ROOT, run } from './run.js';

export const SAMPLE = join(ROOT, '..', 'shared', 'samples', 'kt-small');

export interface Expected {
  rogues: { name: string; serials: string[]; cellIds: string[]; start: string }[];
  fraudTx: string[];
  exposedImsis: Record<string, string[]>;
  compromised: { serials: string[]; cellIds: string[] };
  benignCellIds: string[];
}

export const expected = JSON.parse(readFileSync(join(SAMPLE, 'expected.json'), 'utf8')) as Expected;
export const sampleLines = readFileSync(join(SAMPLE, 'events.ndjson'), 'utf8').split('\n');

interface Ev {
  type?: string;
  ts?: unknown;
  txId?: string;
  msisdn?: string;
  imsi?: string;
  cellId?: string;
}
const parsed = sampleLines.map((l): Ev | null => {
  try {
    const v = JSON.parse(l) as unknown;
    return typeof v === 'object' && v !== null ? (v as Ev) : null;
  } catch {
    return null;
  }
});

/** Event time of the sample's payment `txId`. */
export function paymentTime(txId: string): number {
  const e = parsed.find((x) => x?.type === 'payment.auth' && x.txId === txId);
  if (!e) throw new Error(`no payment ${txId} in the sample`);
  return parseEventTime(e.ts);
}

/** The payment's MSISDN. */
export const paymentMsisdn = (txId: string): string => parsed.find((x) => x?.type === 'payment.auth' && x.txId === txId)?.msisdn ?? '';

/**
 * The sample shifted by `deltaMs`, without events after `until` (the future). Lines that are
 * not valid events (the sample's deliberate mistakes) are kept as they are.
 */
export function rebased(deltaMs: number, until = Infinity): string {
  const out: string[] = [];
  sampleLines.forEach((line, i) => {
    const e = parsed[i];
    const t = e ? parseEventTime(e.ts) : NaN;
    if (!e || Number.isNaN(t)) {
      if (line.trim()) out.push(line);
      return;
    }
    if (t + deltaMs > until) return;
    out.push(JSON.stringify({ ...e, ts: new Date(t + deltaMs).toISOString() }));
  });
  return out.join('\n') + '\n';
}

/** A subscriber with an MSISDN who only ever attached to benign cells (never near a rogue). */
export function benignSubscriber(): { imsi: string; msisdn: string } {
  const cells = new Map<string, Set<string>>();
  const phone = new Map<string, string>();
  for (const e of parsed) {
    if (!e?.imsi || (e.type !== 'ue.attach' && e.type !== 'ims.register')) continue;
    if (e.cellId) {
      if (!cells.has(e.imsi)) cells.set(e.imsi, new Set());
      cells.get(e.imsi)?.add(e.cellId);
    }
    if (e.msisdn) phone.set(e.imsi, e.msisdn);
  }
  const benign = new Set(expected.benignCellIds.filter((c) => !expected.compromised.cellIds.includes(c)));
  for (const [imsi, cs] of cells) {
    const msisdn = phone.get(imsi);
    if (msisdn && cs.size > 0 && [...cs].every((c) => benign.has(c))) return { imsi, msisdn };
  }
  throw new Error('no benign subscriber in the sample');
}

/** POSTs NDJSON events with curl (ingest token); returns the parsed answer. */
export async function ingestWithCurl(http: string, token: string, ndjson: string): Promise<{ accepted: number; rejectedCount: number }> {
  const r = await run('curl', ['-sS', '-X', 'POST', '-H', `Authorization: Bearer ${token}`, '-H', 'Content-Type: application/x-ndjson', '--data-binary', '@-', `${http}/v1/events`], { input: ndjson });
  return JSON.parse(r.stdout) as { accepted: number; rejectedCount: number };
}

/** Polls until `check` returns true (the live pipeline is asynchronous), or fails after `ms`. */
export async function eventually(check: () => Promise<boolean>, ms = 30_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
