/**
 * Gateway address rotation on 127.0.0.2-4: an admitted device learns the next address ahead
 * of time; `femtoguard gateway rotate` (another process) retires the current one; the retired
 * address answers during its grace period, then every connection to it is denied as
 * `stale-endpoint` and detection raises a `stale-endpoint` alert visible in /v1/alerts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, curlRequest } from '../helpers/est-client.js';
import { activeDevice, checkin, checkinAs, decisions, expectDenied, startAdmissionServer, type AdmissionServer } from '../helpers/admission.js';
import { requireTool } from '../helpers/run.js';

const GRACE_S = 4;
let t: AdmissionServer;
let dev: Awaited<ReturnType<typeof activeDevice>>;
let A: string;
let B: string;
let C: string;
beforeAll(async () => {
  requireTool('curl', 'curl');
  requireTool('openssl', 'openssl');
  t = await startAdmissionServer({ rotation: { graceSeconds: GRACE_S, intervalSeconds: 86_400 } });
  [A, B, C] = t.pool as [string, string, string];
  dev = await activeDevice(t, 'ROT-1');
});
afterAll(async () => t?.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Admitted = { decision: 'admit'; nextCheckinSeconds: number; gateways: { current: string; next: string; rotatesAt: string } };
const admitted = (body: string): Admitted => JSON.parse(body) as Admitted;

async function api(path: string): Promise<unknown> {
  const r = await curlRequest(t.work, ['-H', `Authorization: Bearer ${t.adminToken}`, `${t.http}${path}`]);
  expect(r.status, r.body).toBe(200);
  return JSON.parse(r.body) as unknown;
}

/** Waits until `fn` returns something truthy (the server polls the rotation state). */
async function until<T>(fn: () => Promise<T | undefined | null | false>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('condition not reached in time');
    await sleep(100);
  }
}

describe('gateway rotation', () => {
  let rotatedAt = 0;

  it('ok/an admitted device is told the current address and, ahead of time, the next one', async () => {
    const r = await checkinAs(t, A, dev);
    expect(r.status).toBe(200);
    expect(admitted(r.body).gateways).toMatchObject({ current: A, next: B });
    // the announced next address already admits; the third was never announced
    expect((await checkinAs(t, B, dev)).status).toBe(200);
    expectDenied(await checkinAs(t, C, dev), 403, 'endpoint-current');
  });

  it('ok/femtoguard gateway rotate (another process) retires A; the server picks it up', async () => {
    const c = await cli(['gateway', 'rotate', '--reason', 'quarterly drill', '--json'], t.env);
    expect(c.status, c.stderr).toBe(0);
    const e = JSON.parse(c.stdout) as { current: string; next: string; startedAt: string; retired: string };
    expect(e).toMatchObject({ current: B, next: C, retired: A });
    rotatedAt = Date.parse(e.startedAt);
    const body = await until(async () => {
      const r = await checkinAs(t, B, dev);
      const b = admitted(r.body);
      return b.gateways.current === B ? b : null;
    });
    expect(body.gateways).toMatchObject({ current: B, next: C });
    expect(await t.srv.base.stores.audit.list({ action: 'gateway.rotated' })).toMatchObject([{ actor: expect.stringMatching(/^cli:/) as unknown, details: { reason: 'quarterly drill', retired: A, current: B } }, { actor: 'system' }]);
  });

  it('ok/the retired address still answers during its grace period', async () => {
    expect(Date.now()).toBeLessThan(rotatedAt + GRACE_S * 1000);
    const r = await checkinAs(t, A, dev);
    expect(r.status).toBe(200);
    expect(admitted(r.body).gateways.current).toBe(B);
    expect((await decisions(t, 'ROT-1'))[0]?.reasons[0]?.detail).toMatch(/grace period until/);
  });

  it('fail/after the grace period every connection to the retired address is denied as stale-endpoint', async () => {
    await sleep(Math.max(0, rotatedAt + GRACE_S * 1000 + 200 - Date.now()));
    expectDenied(await checkinAs(t, A, dev), 403, 'stale-endpoint');
    const [d] = await decisions(t, 'ROT-1');
    expect(d).toMatchObject({ decision: 'deny', reason: 'stale-endpoint', endpoint: A, staleSince: new Date(rotatedAt + GRACE_S * 1000).toISOString() });
    // a report it cannot even read, and a connection with no certificate: stale all the same
    expectDenied(await checkin(t, A, { cert: dev.certPath, key: dev.keyPath, body: 'garbage', from: '127.0.0.5' }), 403, 'stale-endpoint');
    expectDenied(await checkin(t, A, { body: { serial: 'ROT-1' }, from: '127.0.0.5' }), 403, 'stale-endpoint');
    // the current address keeps admitting the same device
    expect((await checkinAs(t, B, dev)).status).toBe(200);
  });

  it('ok/detection raises a stale-endpoint alert, visible in /v1/alerts', async () => {
    const alert = await until(async () => {
      const r = (await api('/v1/alerts?rule=stale-endpoint')) as { items: { serial?: string; evidence: Record<string, unknown> }[] };
      return r.items.find((a) => a.serial === 'ROT-1');
    });
    expect(alert.evidence).toMatchObject({ endpoint: A, retiredAt: new Date(rotatedAt + GRACE_S * 1000).toISOString(), sourceIp: '127.0.0.5' });
  });

  it('ok/gateway status (CLI) and /v1/admission/gateways list A as retired', async () => {
    const c = await cli(['gateway', 'status', '--json'], t.env);
    expect(c.status, c.stderr).toBe(0);
    const s = JSON.parse(c.stdout) as { current: string; retired: { endpoint: string }[] };
    expect(s).toMatchObject({ current: B, next: C, retired: [{ endpoint: A }] });
    expect(await api('/v1/admission/gateways')).toMatchObject({ pool: t.pool, current: B, next: C, retired: [{ endpoint: A }] });
  });
});

describe('scheduled rotation', () => {
  it('ok/the server rotates by itself once the interval is over', async () => {
    const s = await startAdmissionServer({ rotation: { intervalSeconds: 1, graceSeconds: 0 } });
    try {
      const gw = async () => {
        const r = await curlRequest(s.work, ['-H', `Authorization: Bearer ${s.adminToken}`, `${s.http}/v1/admission/gateways`]);
        return JSON.parse(r.body) as { epoch: number; current: string };
      };
      expect(await gw()).toMatchObject({ epoch: 1, current: s.pool[0] });
      const later = await until(async () => {
        const g = await gw();
        return g.epoch >= 2 ? g : null;
      });
      expect(later.current).toBe(s.pool[1]);
    } finally {
      await s.stop();
    }
  });
});
