/**
 * CLI tables against data an attacker picked: a payment's txId carrying terminal escape
 * sequences (clear the screen, recolour, retitle the window) reaches the audit log as the
 * subject of `payment.released`; `femtoguard audit-log` must show it as escapes, not send it to
 * the operator's terminal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/run.js';
import { postEventsAndFlush, startTestServer, type TestServer } from '../helpers/server.js';

const ESC = '\u001b';
const TX = `tx${ESC}[2J${ESC}[31mFAKE-ROOT-PROMPT${ESC}]0;owned\u0007\u202Egnp.exe\u202C`;
/** C0 but the line break, DEL, C1, and the bidi embeddings, overrides and isolates. */
const RAW_CONTROLS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({ live: { maxOutOfOrderMs: 0, quietFlushMs: 100, registryPollMs: 200 } });
  const ingest = (await cli(['token', 'create', '--role', 'ingest'], t.env)).stdout.trim();
  const now = Date.now();
  const events = [
    { type: 'ue.attach', ts: new Date(now).toISOString(), id: 'esc-attach', cellId: '45008-999', imsi: '450080000009999', msisdn: '+821099990000' },
    { type: 'payment.auth', ts: new Date(now + 1).toISOString(), id: 'esc-pay', txId: TX, msisdn: '+821099990000', amountMinor: 30000, currency: 'KRW', method: 'sms-otp' },
  ];
  expect((await postEventsAndFlush(t, ingest, events)).status).toBe(200);
  const release = await fetch(`${t.http}/v1/payment-holds/${encodeURIComponent(TX)}/release`, {
    method: 'POST',
    headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reason: 'checked with the subscriber' }),
  });
  expect(release.status).toBe(200);
}, 60_000);

afterAll(async () => {
  await t?.stop();
});

describe('femtoguard audit-log with a hostile subject', () => {
  it('fail/escape sequences and bidi controls in a subject are printed as visible escapes', async () => {
    const r = await cli(['audit-log', '--action', 'payment.released'], t.env);
    expect(r.status).toBe(0);
    expect(r.stdout).not.toMatch(RAW_CONTROLS);
    const row = r.stdout.split('\n').find((l) => l.includes('payment.released'));
    expect(row).toContain('tx\\x1b[2J\\x1b[31mFAKE-ROOT-PROMPT\\x1b]0;owned\\x07\\u202egnp.exe\\u202c');
  });

  it('ok/--json gives the subject back exactly, with nothing raw a terminal would act on', async () => {
    const r = await cli(['audit-log', '--action', 'payment.released', '--json'], t.env);
    expect(r.status).toBe(0);
    expect(r.stdout).not.toMatch(RAW_CONTROLS);
    expect((JSON.parse(r.stdout) as { subject: string }[]).map((e) => e.subject)).toEqual([TX]);
  });
});
