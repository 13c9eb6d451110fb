/**
 * The operator console against values an attacker picked, fed through the real API: a rogue
 * femtocell chooses its serial and source address, a payment its txId. Checked in Debian's
 * Chromium (playwright-core) at 1280x800: a 256-character serial or address does not push the
 * action buttons off screen; a right-to-left override in a serial is shown as an escape, the
 * characters in the order they really are; a held payment whose txId is `..` (which no browser
 * can put in a URL path) is not sent to another path, and the operator is told how to release it.
 */
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, requireTool, run } from '../helpers/run.js';
import { postEventsAndFlush, startTestServer, type TestServer } from '../helpers/server.js';

const CHROMIUM = '/usr/bin/chromium';
const BIDI_SERIAL = 'KTF\u202Egnp.exe\u202C-REAL';
const LONG_SERIAL = 'L'.repeat(256);
const LONG_IP = 'X'.repeat(256);

let t: TestServer;
let browser: Browser;
let operator = '';

beforeAll(async () => {
  requireTool(CHROMIUM, 'chromium');
  requireTool('curl', 'curl');
  t = await startTestServer({ live: { maxOutOfOrderMs: 0, quietFlushMs: 100, registryPollMs: 200 } });
  operator = (await cli(['token', 'create', '--role', 'operator'], t.env)).stdout.trim();
  const ingest = (await cli(['token', 'create', '--role', 'ingest'], t.env)).stdout.trim();
  const now = Date.now();
  const events = [
    { type: 'femto.report', serial: BIDI_SERIAL, sourceIp: '10.0.0.1' },
    { type: 'femto.report', serial: LONG_SERIAL, sourceIp: LONG_IP },
    { type: 'femto.report', serial: 'SHORT-1', sourceIp: LONG_IP },
    { type: 'ue.attach', cellId: '45008-777', imsi: '450080000007777', msisdn: '+821077770000' },
    { type: 'payment.auth', txId: '..', msisdn: '+821077770000', amountMinor: 1000, currency: 'KRW', method: 'sms-otp' },
  ].map((e, i) => ({ ts: new Date(now + i).toISOString(), id: `hostile-${i}`, ...e }));
  expect((await postEventsAndFlush(t, ingest, events)).status).toBe(200);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await t?.stop();
});

/** A 1280x800 page signed in as an operator, every request path it makes recorded. */
async function signedIn(): Promise<{ page: Page; posts: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(5000);
  const posts: string[] = [];
  page.on('request', (r) => void (r.method() === 'POST' && posts.push(new URL(r.url()).pathname)));
  await page.goto(`${t.http}/dashboard`);
  await page.fill('#token', operator);
  await page.click('#signin-form button');
  await page.waitForSelector('#fleet-counts [data-status="active"] dd');
  await expect.poll(() => page.locator('#alert-table tbody tr').count()).toBeGreaterThanOrEqual(3);
  return { page, posts };
}

interface Box {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

describe('operator console with hostile values', () => {
  it('fail/a 256-character serial or address does not push any row\'s action buttons off a 1280x800 screen', async () => {
    const { page } = await signedIn();
    const layout = await page.evaluate(() => {
      const doc = globalThis as unknown as { innerWidth: number; document: { documentElement: { scrollWidth: number }; querySelectorAll(s: string): Iterable<{ getBoundingClientRect(): Box }> } };
      return {
        viewport: doc.innerWidth,
        scrollWidth: doc.document.documentElement.scrollWidth,
        buttons: [...doc.document.querySelectorAll('#alert-table tbody td.actions button, #hold-table tbody td.release button')].map((b) => {
          const r = b.getBoundingClientRect();
          return { left: r.left, right: r.right, top: r.top, bottom: r.bottom };
        }),
      };
    });
    expect(layout.viewport).toBe(1280);
    expect(layout.scrollWidth).toBeLessThanOrEqual(1280);
    expect(layout.buttons.length).toBeGreaterThanOrEqual(6);
    for (const b of layout.buttons) {
      expect(b.left).toBeGreaterThanOrEqual(0);
      expect(b.right).toBeLessThanOrEqual(1280);
    }
    // The first row's buttons are on the first screen, not below a wall of wrapped text.
    const first = await page.locator('#alert-table tbody tr').first().locator('td.actions button').first().boundingBox();
    expect(first && first.y + first.height).toBeLessThanOrEqual(800);
    // The long serial is shown shortened, the whole of it in the title.
    const long = page.locator('#alert-table tbody tr', { hasText: 'L'.repeat(40) });
    expect(await long.count()).toBe(1);
    expect((await long.locator('td:nth-child(3)').textContent())?.length).toBeLessThan(80);
    expect(await long.locator('td:nth-child(3) bdi').getAttribute('title')).toBe(LONG_SERIAL);
    await page.close();
  });

  it('fail/a right-to-left override in a serial is shown as an escape, the characters in their real order', async () => {
    const { page } = await signedIn();
    const shown = 'KTF\\u202egnp.exe\\u202c-REAL';
    const row = page.locator('#alert-table tbody tr', { hasText: 'gnp.exe' });
    expect(await row.count()).toBe(1);
    const subject = row.locator('td:nth-child(3)');
    expect(await subject.textContent()).toBe(shown);
    // The value is isolated from what is around it.
    expect(await subject.locator('bdi').evaluate((e) => (globalThis as unknown as { getComputedStyle(e: unknown): { unicodeBidi: string } }).getComputedStyle(e).unicodeBidi)).toBe('isolate');
    // Laid out in logical order: each character starts right of the one before, or on a later line.
    const boxes = await subject.locator('bdi').evaluate((bdi) => {
      const node = bdi.firstChild as unknown as { length: number };
      const range = (bdi.ownerDocument as unknown as { createRange(): { setStart(n: unknown, o: number): void; setEnd(n: unknown, o: number): void; getBoundingClientRect(): Box } }).createRange();
      return Array.from({ length: node.length }, (_, i) => {
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        const r = range.getBoundingClientRect();
        return { left: r.left, top: r.top };
      });
    });
    expect(boxes).toHaveLength(shown.length);
    const outOfOrder = boxes.flatMap((b, i) => {
      const prev = boxes[i - 1];
      return prev && !(b.top > prev.top + 1 || (Math.abs(b.top - prev.top) <= 1 && b.left > prev.left)) ? [`${shown[i - 1]}${shown[i]}`] : [];
    });
    expect(outOfOrder).toEqual([]);
    // The summary carries the serial too: escaped there as well.
    expect(await row.locator('td.summary').textContent()).not.toMatch(/[\u202a-\u202e\u2066-\u2069]/);
    await page.close();
  });

  it('ok/a held payment with txId ".." (which no browser can put in a URL path) is released from the console, at the right route', async () => {
    const { page, posts } = await signedIn();
    // Why the path route cannot be used: the browser resolves ".." in a path even written %2E%2E.
    expect(await page.evaluate(() => new URL('/v1/payment-holds/%2E%2E/release', 'http://h/').pathname)).toBe('/v1/release');
    const hold = page.locator('#hold-table tbody tr[data-tx=".."]');
    await expect.poll(() => hold.count()).toBe(1);
    await hold.locator('input').fill('subscriber confirmed');
    await hold.locator('button', { hasText: 'Release' }).click();
    await expect.poll(() => hold.count()).toBe(0);
    expect(posts.filter((p) => p !== '/v1/me')).toEqual(['/v1/payment-holds/release']);
    expect(await page.isVisible('#banner')).toBe(false);
    const r = await run('curl', ['-s', '-H', `authorization: Bearer ${operator}`, `${t.http}/v1/payment-holds?status=released`]);
    expect((JSON.parse(r.stdout) as { items: { txId: string; status: string }[] }).items.find((h) => h.txId === '..')).toMatchObject({ status: 'released' });
    await page.close();
  });
});
