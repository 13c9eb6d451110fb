/**
 * EST failure limiting cannot be turned against a device, driven with curl from chosen source
 * addresses (`--interface 127.0.0.x`): requests that carry no valid credential, naming a
 * device's serial in the CSR, used to count against that serial and the address before any
 * credential was checked, so that the real device with its valid certificate (or a fresh
 * enrollment token) was then answered `429`, and the 429s were not audited. Now credentials
 * are checked first, a valid one is never refused by the limiter (also from the attacker's
 * own, NAT-shared address), and every 429 is on record as `est.rate_limited`, aggregated.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addDevice,
  curlRequest,
  enrollNewDevice,
  expectRefused,
  makeCsr,
  newToken,
  pkcs7ToPem,
  type Csr,
  type EstOp,
  type HttpReply,
} from '../helpers/est-client.js';
import { requireTool } from '../helpers/run.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const ATTACKER = '127.0.0.66';
const OTHER = '127.0.0.77';

let t: TestServer;
beforeAll(async () => {
  requireTool('openssl', 'openssl');
  requireTool('curl', 'curl');
  t = await startTestServer(); // the defaults: 5 failures per serial and per address in 15 min
});
afterAll(async () => t?.stop());

/** One EST POST from `from`, optionally with a client certificate or HTTP Basic. */
function post(op: EstOp, csr: Csr, from: string, auth: { cert?: string; key?: string; basic?: { user: string; password: string } } = {}): Promise<HttpReply> {
  const args = ['--interface', from, '--cacert', t.chainPath, '-H', 'Content-Type: application/pkcs10', '--data-binary', `@${csr.b64Path}`];
  if (auth.cert && auth.key) args.push('--cert', auth.cert, '--key', auth.key);
  if (auth.basic) args.push('-u', `${auth.basic.user}:${auth.basic.password}`);
  return curlRequest(t.work, [...args, `${t.https}/.well-known/est/${op}`]);
}

const audit = (action: string, subject?: string) => t.srv.base.stores.audit.list({ action, subject, limit: 1000 });
const limitedEvents = async (limit: string) => (await audit('est.rate_limited')).filter((e) => e.details?.['limit'] === limit);
const counted = (events: { details: Record<string, unknown> | null }[]): number => events.reduce((n, e) => n + Number(e.details?.['count'] ?? 0), 0);

describe('EST: refusals without a valid credential cannot lock a device out', () => {
  it('fail/five re-enrollments with no client certificate naming a device: the sixth is 429 and audited; the device renews from another address and from the same one', async () => {
    const dev = await enrollNewDevice(t, 'LOCK-RE');
    const forged = await makeCsr(t.work, dev.serial);
    for (let i = 0; i < 5; i++) expectRefused(await post('simplereenroll', forged, ATTACKER), 401, 'est.client_cert_required');
    const limited = await post('simplereenroll', forged, ATTACKER);
    expectRefused(limited, 429, 'est.rate_limited', /too many failed enrollment attempts/);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);

    // The real device, with its current certificate: from another address...
    const csr1 = await makeCsr(t.work, dev.serial);
    const first = await post('simplereenroll', csr1, OTHER, { cert: dev.certPath, key: dev.keyPath });
    expect(first.status, first.body).toBe(200);
    // ...and from the attacker's address (one NAT in front of both), with the certificate it just got.
    const { pemPath } = await pkcs7ToPem(t.work, first, dev.serial);
    const second = await post('simplereenroll', await makeCsr(t.work, dev.serial), ATTACKER, { cert: pemPath, key: csr1.keyPath });
    expect(second.status, second.body).toBe(200);

    // The refusals are not the device's doing: audited as anonymous, the 429 too.
    const reenrolls = await audit('est.reenroll', dev.serial);
    expect(reenrolls.filter((e) => e.outcome === 'success')).toHaveLength(2);
    const refusals = reenrolls.filter((e) => e.outcome !== 'success');
    expect(refusals).toHaveLength(5);
    expect(new Set(refusals.map((e) => `${e.actor} ${e.outcome} ${String(e.details?.['code'])}`))).toEqual(new Set(['anonymous denied est.client_cert_required']));
    expect(await limitedEvents(`ip:${ATTACKER}`)).toMatchObject([
      { actor: 'anonymous', subject: dev.serial, outcome: 'denied', details: { request: 'est.reenroll', refusal: 'est.client_cert_required', sourceIp: ATTACKER, count: 1 } },
    ]);
  });

  it('fail/five wrong tokens for a serial from one address: the sixth is 429; a valid token still enrolls, from another address and from the blocked one', async () => {
    const [a, b] = ['LOCK-TOK-A', 'LOCK-TOK-B'];
    const [attacker, other] = ['127.0.0.67', '127.0.0.78']; // addresses no other case used
    await addDevice(t, a);
    await addDevice(t, b);
    const csrA = await makeCsr(t.work, a);
    for (let i = 0; i < 5; i++) expectRefused(await post('simpleenroll', csrA, attacker, { basic: { user: a, password: `guess-${i}` } }), 401, 'est.token_unknown');
    expectRefused(await post('simpleenroll', csrA, attacker, { basic: { user: a, password: 'guess-6' } }), 429, 'est.rate_limited');
    // Both the address and the serial are over their limit now: a wrong token from elsewhere is 429 too.
    expectRefused(await post('simpleenroll', csrA, other, { basic: { user: a, password: 'guess-7' } }), 429, 'est.rate_limited');

    // The device's real token, from another address: the serial's refusals do not stop it.
    const ok = await post('simpleenroll', csrA, other, { basic: { user: a, password: await newToken(t, a) } });
    expect(ok.status, ok.body).toBe(200);
    expect((await t.srv.base.registry.get(a))?.status).toBe('active');
    // Another device behind the attacker's (blocked) address enrolls with its token.
    const okB = await post('simpleenroll', await makeCsr(t.work, b), attacker, { basic: { user: b, password: await newToken(t, b) } });
    expect(okB.status, okB.body).toBe(200);
    // Both 429s are on record (anonymous: no credential proved the serial), under the key that was over.
    const limitedOf = async (key: string) => (await limitedEvents(key)).map((e) => [e.actor, e.subject, e.details?.['refusal'], e.details?.['sourceIp']]);
    expect(await limitedOf(`ip:${attacker}`)).toEqual([['anonymous', a, 'est.token_unknown', attacker]]);
    expect(await limitedOf(`serial:${a}`)).toEqual([['anonymous', a, 'est.token_unknown', other]]);
  });

  it('fail/a flood of 429s is one audit event per key and window, with the count; shutdown writes what is pending', async () => {
    const dev = await enrollNewDevice(t, 'LOCK-FLOOD');
    const forged = await makeCsr(t.work, dev.serial);
    const from = '127.0.0.88';
    for (let i = 0; i < 5; i++) expectRefused(await post('simplereenroll', forged, from), 401, 'est.client_cert_required');
    const flood = 12;
    for (let i = 0; i < flood; i++) expectRefused(await post('simplereenroll', forged, from), 429, 'est.rate_limited');
    expect(await limitedEvents(`ip:${from}`)).toMatchObject([{ details: { count: 1 } }]);
    await t.srv.ca.est.close();
    const events = await limitedEvents(`ip:${from}`);
    expect(events).toHaveLength(2);
    expect(counted(events)).toBe(flood);
    // Five refusals audited one by one, then only the aggregate: not a row per request.
    expect(await audit('est.reenroll', dev.serial)).toHaveLength(5);
  });
});
