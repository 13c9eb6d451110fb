/**
 * A real server whose issuing CA (90 days, the shortest allowed) was made 85 days ago: it
 * warns at start (log and `ca.expiring` audit event, once a day at most), EST enrollments
 * over curl get certificates cut short at the CA's end and audited as such, `femtoguard ca
 * show` prints the days left, and once the CA has ended EST answers `503 ca.expired` naming
 * the end date, the upkeep stops renewing, and a restart is refused with the same code.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caSettings, openBase, startServer, type RunningServer } from '../../src/app/index.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import type { Clock } from '../../src/core/clock.js';
import { isAppError } from '../../src/core/errors.js';
import { createLogger, silentLogger } from '../../src/core/logger.js';
import { initCa, parseCertificate, pemOrDerToDerList } from '../../src/pki/index.js';
import { addDevice, cli, enroll, makeCsr, newToken, pkcs7ToPem } from '../helpers/est-client.js';
import { requireTool, until } from '../helpers/run.js';
import { TEST_PASSPHRASE, type TestServer } from '../helpers/server.js';

const DAY = 86_400_000;

/** Real time shifted by `offsetMs`: the TLS clients judge certificates by the real clock. */
function shiftedClock(): Clock & { offsetMs: number } {
  const c = { offsetMs: 0, now: (): Date => new Date(Date.now() + c.offsetMs) };
  return c;
}

let dataDir: string;
let work: string;
let config: Config;
let clock: ReturnType<typeof shiftedClock>;
let srv: RunningServer;
let t: TestServer;
const logLines: Record<string, unknown>[] = [];

beforeAll(async () => {
  requireTool('openssl', 'openssl');
  requireTool('curl', 'curl');
  dataDir = mkdtempSync(join(tmpdir(), 'fg-data-'));
  work = mkdtempSync(join(tmpdir(), 'fg-work-'));
  config = loadConfig({ env: {}, flags: { dataDir, http: '127.0.0.1:0', https: '127.0.0.1:0', logLevel: 'silent', changePollMs: 100, 'ca.issuingValidityDays': 90 } });
  // The CA, made 85 days ago: 5 days left, under two 30-day device lifetimes.
  const base = openBase(config, { now: () => new Date(Date.now() - 85 * DAY) });
  await initCa({ store: base.stores.certs, audit: base.stores.audit, clock: base.clock }, caSettings(config), TEST_PASSPHRASE, 'test');
  base.close();
  clock = shiftedClock();
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) logLines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const env = { ...process.env, FEMTOGUARD_CA_PASSPHRASE: TEST_PASSPHRASE, FEMTOGUARD_DATA_DIR: dataDir };
  srv = await startServer(config, { logger: createLogger({ level: 'info' }, sink), env, clock });
  const chainPath = join(work, 'chain.pem');
  writeFileSync(chainPath, srv.ca.ca.chainPem);
  t = { srv, dataDir, http: srv.httpUrl, https: srv.httpsUrl, revocation: null, chainPath, work, adminToken: srv.adminToken ?? '', env, stop: () => srv.stop() };
});
afterAll(async () => {
  await srv?.stop();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

const expiringEvents = () => srv.base.stores.audit.list({ action: 'ca.expiring' });
const caEnd = (): Date => srv.ca.ca.issuing.notAfter;

async function enrollDevice(serial: string) {
  await addDevice(t, serial);
  const token = await newToken(t, serial);
  return enroll(t, serial, token, await makeCsr(work, serial));
}

describe('issuing CA near its end', () => {
  it('ok/the start warns: one log line and one ca.expiring audit event with the end date and days left', async () => {
    const ev = await until('ca.expiring at start', async () => (await expiringEvents())[0]);
    expect(ev).toMatchObject({ actor: 'system', subject: srv.ca.ca.issuing.serialHex, outcome: 'success' });
    expect(ev?.details).toMatchObject({ issuingNotAfter: caEnd().toISOString(), deviceValidityDays: 30, ended: false });
    expect(ev?.details?.daysLeft).toBeGreaterThanOrEqual(4.9);
    expect(ev?.details?.daysLeft).toBeLessThanOrEqual(5);
    const warn = logLines.find((l) => typeof l.msg === 'string' && l.msg.includes('issuing CA ends soon'));
    expect(warn).toMatchObject({ level: 40, issuingNotAfter: caEnd().toISOString() });
  });

  it('ok/the upkeep timer warns at most once a day', async () => {
    await until('ca.expiring at start', async () => (await expiringEvents()).length === 1);
    expect(await srv.pki.renew()).toBe(true);
    clock.offsetMs = 12 * 3_600_000;
    expect(await srv.pki.renew()).toBe(true);
    expect(await expiringEvents()).toHaveLength(1);
    clock.offsetMs = DAY + 60_000;
    expect(await srv.pki.renew()).toBe(true);
    expect(await expiringEvents()).toHaveLength(2);
    clock.offsetMs = 0;
  });

  it('ok/an EST enrollment gets a certificate ending with the CA, and the issuance audit records the shortening', async () => {
    const r = await enrollDevice('EXP-EST-1');
    expect(r.status, r.body).toBe(200);
    const { pem } = await pkcs7ToPem(work, r, 'EXP-EST-1');
    const leaf = parseCertificate(pemOrDerToDerList(Buffer.from(pem))[0] as Buffer);
    expect(leaf.notAfter.toISOString()).toBe(caEnd().toISOString());
    const [issued] = await srv.base.stores.audit.list({ action: 'pki.certificate_issued', subject: 'EXP-EST-1' });
    expect(issued?.details).toMatchObject({ shortenedToCaEnd: true, notAfter: caEnd().toISOString() });
  });

  it('ok/`femtoguard ca show` prints the days left and the warning (text and JSON)', async () => {
    const json = await cli(['ca', 'show', '--json'], t.env);
    expect(json.status, json.stderr).toBe(0);
    const shown = JSON.parse(json.stdout) as { issuing: { daysLeft: number; notAfter: string }; root: { daysLeft: number }; warning?: string };
    expect(shown.issuing).toMatchObject({ daysLeft: 4, notAfter: caEnd().toISOString() });
    expect(shown.root.daysLeft).toBeGreaterThan(3000);
    expect(shown.warning).toMatch(/issuing CA ends in 4 day\(s\).*roll it over/);
    const text = await cli(['ca', 'show'], t.env);
    expect(text.stdout).toMatch(/daysLeft\s+4\n/);
    expect(text.stdout).toMatch(/warning: the issuing CA ends in 4 day/);
  });
});

describe('issuing CA past its end', () => {
  it('fail/EST enrollment is 503 ca.expired naming the end date; no certificate, the token is not spent', async () => {
    clock.offsetMs = 6 * DAY;
    try {
      await addDevice(t, 'EXP-EST-2');
      const token = await newToken(t, 'EXP-EST-2');
      const csr = await makeCsr(work, 'EXP-EST-2');
      const r = await enroll(t, 'EXP-EST-2', token, csr);
      expect({ status: r.status, type: r.headers['content-type'] }).toEqual({ status: 503, type: 'text/plain; charset=utf-8' });
      expect(r.body).toBe(`ca.expired: the issuing CA ended at ${caEnd().toISOString()}: nothing can be issued under it until the CA is rolled over (docs/pki.md)\n`);
      expect(r.headers['retry-after']).toBeUndefined();
      expect(await srv.base.stores.certs.list({ deviceSerial: 'EXP-EST-2' })).toHaveLength(0);
      const [denied] = await srv.base.stores.audit.list({ action: 'est.enroll', subject: 'EXP-EST-2' });
      expect(denied).toMatchObject({ outcome: 'denied', details: { code: 'ca.expired' } });
      expect(logLines.some((l) => l.code === 'ca.expired' && l.level === 50)).toBe(true);
      // The refusal left the one-time token usable: the same token enrolls once the clock is back.
      clock.offsetMs = 0;
      const again = await enroll(t, 'EXP-EST-2', token, await makeCsr(work, 'EXP-EST-2-b', { subj: '/serialNumber=EXP-EST-2/CN=EXP-EST-2' }));
      expect(again.status, again.body).toBe(200);
    } finally {
      clock.offsetMs = 0;
    }
  });

  it('fail/the upkeep reports the end (error log, ca.expiring ended) and attempts no renewal', async () => {
    clock.offsetMs = 8 * DAY;
    try {
      const failedBefore = (await srv.base.stores.audit.list({ action: 'pki.renewal_failed' })).length;
      expect(await srv.pki.renew()).toBe(true);
      const [last] = await expiringEvents();
      expect(last).toMatchObject({ outcome: 'failure', details: { ended: true, daysLeft: 0, issuingNotAfter: caEnd().toISOString() } });
      expect(logLines.some((l) => l.level === 50 && typeof l.msg === 'string' && l.msg.includes('issuing CA has ended'))).toBe(true);
      expect(await srv.base.stores.audit.list({ action: 'pki.renewal_failed' })).toHaveLength(failedBefore);
    } finally {
      clock.offsetMs = 0;
    }
  });

  it('fail/a start after the end is refused with ca.expired naming the end date', async () => {
    const end = caEnd();
    await srv.stop();
    const late: Clock = { now: () => new Date(Date.now() + 6 * DAY) };
    const e = await startServer(config, { logger: silentLogger(), env: t.env, clock: late }).then(
      async (s) => {
        await s.stop();
        return null;
      },
      (err: unknown) => err,
    );
    expect(isAppError(e) ? e.code : e).toBe('ca.expired');
    expect((e as Error).message).toContain(end.toISOString());
  });
});
