/**
 * The operator console (`/dashboard`) in a real browser: Debian's Chromium driven by
 * playwright-core, against a real server. Sign-in with an API token, the fleet counts, alerts
 * raised while the page is open arriving over the live stream, acknowledge and resolve as the
 * token's role allows, held payments released with a reason, data shown as text only, a
 * revoked token signing the console out, a token whose role cannot read alerts told so (no
 * stream opened), and the page keeping at most 500 alerts however many the stream brings.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, requireTool } from '../helpers/run.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const CHROMIUM = '/usr/bin/chromium';
const REG = ['serial,status,cell_ids,ip_prefixes', 'DB1,active,45008-1,198.18.1.0/24', 'DB2,active,45008-2,198.18.2.0/24', 'DB3,lost,45008-3,198.18.3.0/24', 'DB4,suspended,45008-4,198.18.4.0/24'].join('\n');

let t: TestServer;
let browser: Browser;
const tokens: Record<'viewer' | 'operator' | 'ingest', string> = { viewer: '', operator: '', ingest: '' };
let seq = 0;

const iso = (ms: number): string => new Date(ms).toISOString();

async function ingest(...events: Record<string, unknown>[]): Promise<void> {
  const res = await fetch(`${t.http}/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tokens.ingest}`, 'content-type': 'application/x-ndjson' },
    body: events.map((e) => JSON.stringify({ ts: iso(Date.now()), id: `db-${seq++}`, ...e })).join('\n'),
  });
  expect(res.status).toBe(200);
  await t.srv.live.flush();
}

async function apiGet(path: string, token = t.adminToken): Promise<Record<string, unknown>> {
  const res = await fetch(`${t.http}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return (await res.json()) as Record<string, unknown>;
}

/** A fresh page signed in with `token` (the console is ready once the fleet counts are shown). */
async function signedIn(token: string): Promise<Page> {
  const page = await browser.newPage();
  // A step that cannot happen fails the test with what it waited for, not with the test's timeout.
  page.setDefaultTimeout(5000);
  await page.goto(`${t.http}/dashboard`);
  await page.fill('#token', token);
  await page.click('#signin-form button');
  await page.waitForSelector('#fleet-counts [data-status="active"] dd');
  return page;
}

/**
 * Signs in without waiting for the console, recording every request path the page makes;
 * `prepare` runs first (to route requests).
 */
async function signInRecording(token: string, prepare?: (page: Page) => Promise<void>): Promise<{ page: Page; paths: string[] }> {
  const page = await browser.newPage();
  page.setDefaultTimeout(5000);
  const paths: string[] = [];
  page.on('request', (r) => void paths.push(new URL(r.url()).pathname));
  await prepare?.(page);
  await page.goto(`${t.http}/dashboard`);
  await page.fill('#token', token);
  await page.click('#signin-form button');
  return { page, paths };
}

const rowOf = (page: Page, text: string) => page.locator('#alert-table tbody tr', { hasText: text });

beforeAll(async () => {
  requireTool(CHROMIUM, 'chromium');
  t = await startTestServer({ live: { maxOutOfOrderMs: 0, quietFlushMs: 100, registryPollMs: 200 } });
  const regFile = join(t.work, 'reg.csv');
  writeFileSync(regFile, REG);
  expect((await cli(['device', 'import', regFile], t.env)).status).toBe(0);
  await t.srv.live.syncRegistry();
  for (const role of ['viewer', 'operator', 'ingest'] as const) tokens[role] = (await cli(['token', 'create', '--role', role], t.env)).stdout.trim();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await t?.stop();
});

describe('operator console', () => {
  it('ok/the page is served with a strict content security policy; fail/a wrong token is refused with a clear message', async () => {
    const res = await fetch(`${t.http}/dashboard`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'; script-src 'self'/);
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    const page = await browser.newPage();
    await page.goto(`${t.http}/dashboard`);
    await page.fill('#token', 'fgt_notarealtoken_0123456789abcdefghijklmnopqrstuv');
    await page.click('#signin-form button');
    await expect.poll(() => page.textContent('#banner')).toMatch(/not valid/);
    expect(await page.isVisible('#console')).toBe(false);
    expect(await page.evaluate(() => (globalThis as unknown as { sessionStorage: { length: number } }).sessionStorage.length)).toBe(0);
    await page.close();
  });

  it('ok/a viewer sees the fleet by status and the open alerts, with no actions and no payment holds', async () => {
    await ingest({ type: 'femto.session', serial: 'DB3', phase: 'up', sourceIp: '198.18.3.9', cellIds: ['45008-3'] });
    const page = await signedIn(tokens.viewer);
    const count = (s: string) => page.textContent(`#fleet-counts [data-status="${s}"] dd`);
    expect(await count('active')).toBe('2');
    expect(await count('lost')).toBe('1');
    expect(await count('suspended')).toBe('1');
    expect(await page.textContent('#who')).toMatch(/^viewer/);
    const lost = rowOf(page, 'inactive-device');
    await expect.poll(() => lost.count()).toBe(1);
    expect(await lost.locator('td.sev').textContent()).toBe('critical');
    expect(await lost.locator('button').count()).toBe(0);
    expect(await page.isVisible('#holds')).toBe(false);
    await page.close();
  });

  it('ok/an alert raised while the console is open arrives over the live stream, and so do its repeats; data shown as text only', async () => {
    const page = await signedIn(tokens.operator);
    await expect.poll(() => page.textContent('#live')).toBe('live');
    // A serial that is markup: it must show as text, not become an element.
    const serial = '<img src=x id=injected>';
    await ingest({ type: 'femto.report', serial, sourceIp: '203.0.113.5' });
    const ghost = rowOf(page, 'unregistered-device');
    await expect.poll(() => ghost.count(), { timeout: 5000 }).toBe(1);
    expect(await ghost.locator('td').nth(2).textContent()).toBe(serial);
    expect(await page.locator('#injected').count()).toBe(0);
    expect(await ghost.locator('td.count').textContent()).toBe('1');
    await ingest({ type: 'femto.report', serial, sourceIp: '203.0.113.5' });
    await expect.poll(() => ghost.locator('td.count').textContent(), { timeout: 5000 }).toBe('2');
    await page.close();
  });

  it('ok/an operator acknowledges then resolves an alert: stored and audited; the filter shows it where it now belongs', async () => {
    await ingest({ type: 'femto.session', serial: 'DB4', phase: 'up', sourceIp: '198.18.4.9', cellIds: ['45008-4'] });
    const page = await signedIn(tokens.operator);
    const row = rowOf(page, 'DB4');
    await expect.poll(() => row.count()).toBe(1);
    const id = (await row.getAttribute('data-id')) ?? '';
    await row.locator('button', { hasText: 'Acknowledge' }).click();
    // Acknowledged alerts leave the "open" view.
    await expect.poll(() => row.count()).toBe(0);
    expect(await apiGet(`/v1/alerts/${id}`)).toMatchObject({ status: 'acknowledged', statusBy: expect.stringMatching(/^token:/) });
    await page.selectOption('#f-status', 'acknowledged');
    await expect.poll(() => row.count()).toBe(1);
    await row.locator('button', { hasText: 'Resolve' }).click();
    await expect.poll(() => row.count()).toBe(0);
    await page.selectOption('#f-status', 'resolved');
    await expect.poll(() => row.locator('td.status').textContent()).toBe('resolved');
    expect(await row.locator('button').allTextContents()).toEqual(['Reopen']);
    expect(await apiGet(`/v1/alerts/${id}`)).toMatchObject({ status: 'resolved' });
    const audit = await apiGet(`/v1/audit?subject=${id}`);
    expect((audit.items as { action: string }[]).map((a) => a.action).sort()).toEqual(['alert.acknowledged', 'alert.resolved']);
    await page.close();
  });

  it('ok/an alert the operator resolved, raised again while the console is open, comes back under the "open" filter', async () => {
    await ingest({ type: 'femto.report', serial: 'DB3', sourceIp: '198.18.3.9', cellIds: ['45008-3'] });
    const page = await signedIn(tokens.operator);
    const row = rowOf(page, 'inactive-device');
    await expect.poll(() => row.count()).toBe(1);
    await row.locator('button', { hasText: 'Resolve' }).click();
    await expect.poll(() => row.count()).toBe(0);
    await expect.poll(() => page.textContent('#live')).toBe('live');
    // The lost unit shows up again: the server reopens the alert and sends it as new.
    await ingest({ type: 'femto.report', serial: 'DB3', sourceIp: '198.18.3.9', cellIds: ['45008-3'] });
    await expect.poll(() => row.count(), { timeout: 5000 }).toBe(1);
    expect(await row.locator('td.status').textContent()).toBe('open');
    await page.close();
  });

  it('ok/a held payment is released with a reason; fail/not without one', async () => {
    await ingest(
      { type: 'ue.attach', cellId: '45008-666', imsi: '450080000006666', msisdn: '+821066660000' },
      { type: 'payment.auth', txId: 'tx-dash-1', msisdn: '+821066660000', amountMinor: 30000, currency: 'KRW', method: 'sms-otp' },
    );
    const page = await signedIn(tokens.operator);
    const hold = page.locator('#hold-table tbody tr', { hasText: 'tx-dash-1' });
    await expect.poll(() => hold.count()).toBe(1);
    // The operator role may not see identifiers in full.
    expect(await hold.locator('td').nth(1).textContent()).toBe('+82********00');
    await hold.locator('button', { hasText: 'Release' }).click();
    await expect.poll(() => page.textContent('#banner')).toMatch(/needs a reason/);
    expect(await hold.count()).toBe(1);
    await hold.locator('input').fill('subscriber confirmed by phone');
    await hold.locator('button', { hasText: 'Release' }).click();
    await expect.poll(() => hold.count()).toBe(0);
    const held = await apiGet('/v1/payment-holds?status=released');
    expect((held.items as { txId: string; reason: string }[]).find((h) => h.txId === 'tx-dash-1')).toMatchObject({ reason: 'subscriber confirmed by phone' });
    await page.close();
  });

  it('fail/an ingest token signs in but is told its role cannot read alerts; no alert list, no stream', async () => {
    const { page, paths } = await signInRecording(tokens.ingest);
    await expect.poll(() => page.textContent('#banner')).toMatch(/role \(ingest\) cannot read alerts.*viewer, operator and admin/);
    expect(await page.textContent('#who')).toMatch(/^ingest/);
    expect(await page.isVisible('#alerts')).toBe(false);
    // Long enough for a stream to have been opened and retried (its first retry is after 1 s).
    await new Promise((r) => setTimeout(r, 1500));
    expect(await page.textContent('#live')).toBe('offline');
    expect(paths.filter((p) => p.startsWith('/v1/alerts'))).toEqual([]);
    expect(await page.textContent('#banner')).toMatch(/cannot read alerts/);
    await page.close();
  });

  it('fail/a stream answering 403 is not retried, and the page says why', async () => {
    const { page, paths } = await signInRecording(tokens.viewer, (p) =>
      p.route('**/v1/alerts/stream', (route) => route.fulfill({ status: 403, contentType: 'application/problem+json', body: JSON.stringify({ status: 403, detail: 'forbidden' }) })),
    );
    await expect.poll(() => page.textContent('#banner')).toMatch(/may not read the live alert stream/);
    // Retries would come after 1 s, then 2 s.
    await new Promise((r) => setTimeout(r, 2500));
    expect(paths.filter((p) => p === '/v1/alerts/stream')).toHaveLength(1);
    expect(await page.textContent('#live')).toBe('offline');
    expect(await page.isVisible('#console')).toBe(true);
    await page.close();
  });

  it('fail/a 401 during the first loads signs the console out and starts nothing (no stream with no token)', async () => {
    // The token is good for /v1/me, then the server forgets it while the page loads the list.
    const { page, paths } = await signInRecording(tokens.viewer, (p) =>
      p.route('**/v1/alerts?*', (route) => route.fulfill({ status: 401, contentType: 'application/problem+json', body: JSON.stringify({ status: 401, detail: 'token unknown' }) })),
    );
    await expect.poll(() => page.textContent('#banner')).toMatch(/no longer valid/);
    await new Promise((r) => setTimeout(r, 1500));
    expect(paths).toContain('/v1/alerts');
    expect(paths).not.toContain('/v1/alerts/stream');
    expect(await page.isVisible('#signin')).toBe(true);
    expect(await page.textContent('#live')).toBe('offline');
    await page.close();
  });

  it('fail/a token revoked while the console is open signs it out with a message', async () => {
    const token = (await cli(['token', 'create', '--role', 'operator'], t.env)).stdout.trim();
    const page = await signedIn(token);
    const me = await apiGet('/v1/me', token);
    const del = await fetch(`${t.http}/v1/tokens/${String(me.tokenId)}`, { method: 'DELETE', headers: { authorization: `Bearer ${t.adminToken}` } });
    expect(del.ok).toBe(true);
    await page.selectOption('#f-severity', 'high');
    await expect.poll(() => page.textContent('#banner')).toMatch(/no longer valid/);
    expect(await page.isVisible('#signin')).toBe(true);
    expect(await page.evaluate(() => (globalThis as unknown as { sessionStorage: { length: number } }).sessionStorage.length)).toBe(0);
    await page.close();
  });

  // Last: it fills the alert store, which the tests above read.
  it('ok/the page keeps at most 500 alerts, the most recent, however many the stream brings', async () => {
    const page = await signedIn(tokens.viewer);
    await expect.poll(() => page.textContent('#live')).toBe('live');
    const n = 520;
    const events = Array.from({ length: n }, (_, i) => ({ type: 'femto.report', serial: `CAP-${String(i).padStart(4, '0')}`, sourceIp: '203.0.113.77' }));
    await ingest(...events);
    // The last alert raised has arrived: every one before it has too (one stream, in order).
    const last = rowOf(page, `CAP-${String(n - 1).padStart(4, '0')}`);
    await expect.poll(() => last.count(), { timeout: 15_000 }).toBe(1);
    expect(await page.locator('#alert-table tbody tr').count()).toBe(500);
    expect(await page.textContent('#alert-count')).toBe('500 shown');
    await page.close();
  });
});
