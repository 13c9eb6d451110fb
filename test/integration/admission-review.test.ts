/**
 * Defects a review found in admission, driven with curl as the femtocell (mutual TLS) and as
 * the security gateway (`POST /v1/segw/sessions`):
 * - a check-in with no certificate, claiming an active device's serial from another address,
 *   must not reach detection under that serial (it used to publish a femto.session that
 *   credential-shared answered by suspending the real device);
 * - the gateway's `ts` is the event time only: the decision runs at the server clock, and a
 *   `ts` further than admission.maxClockSkewMs from it is recorded at the server's time;
 * - a location check enforced as deny cannot be passed with a huge claimed accuracy, no fix or
 *   scan at all, or a scan padded with repeats of one expected neighbour.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pemOrDerToDerList } from '../../src/pki/index.js';
import { activeDevice, checkin, checkinAs, decisions, expectDenied, startAdmissionServer, type AdmissionServer } from '../helpers/admission.js';
import { curlRequest, type EnrolledDevice, type HttpReply } from '../helpers/est-client.js';
import { requireTool } from '../helpers/run.js';

let t: AdmissionServer;
let current: string;
let ingest: string;
beforeAll(async () => {
  requireTool('openssl', 'openssl');
  requireTool('curl', 'curl');
  // Location checks denied in the fleet "strict" only; detection flushes quickly so the test
  // can see what it did with the events.
  t = await startAdmissionServer(
    { fleets: { strict: { enforce: { 'gps-in-site': 'deny', 'neighbors-consistent': 'deny' } } } },
    { live: { maxOutOfOrderMs: 0, quietFlushMs: 100, registryPollMs: 200 } },
  );
  current = t.pool[0] as string;
  ingest = (await t.srv.base.tokens.create('ingest', 'test', 'segw')).token;
});
afterAll(async () => t?.stop());

const eventsOf = async (serial: string) => (await t.srv.base.stores.events.readSince(0, 100_000)).map((s) => s.event).filter((e) => 'serial' in e && e.serial === serial);
const fingerprintOf = (dev: EnrolledDevice): string => createHash('sha256').update(pemOrDerToDerList(readFileSync(dev.certPath))[0] as Buffer).digest('hex');

function segw(body: Record<string, unknown>): Promise<HttpReply> {
  const args = ['-H', 'Content-Type: application/json', '-H', `Authorization: Bearer ${ingest}`, '--data-binary', JSON.stringify(body)];
  return curlRequest(t.work, [...args, `${t.http}/v1/segw/sessions`]);
}

describe('an identity no certificate proved never reaches detection as that identity', () => {
  it('fail/no certificate, claiming an active device from another address: refused and audited, nothing published under its serial, the device stays active', async () => {
    const dev = await activeDevice(t, 'REV-SPOOFED');
    expect((await checkinAs(t, current, dev, {}, '127.0.0.5')).status).toBe(200);
    expectDenied(await checkin(t, current, { body: { serial: 'REV-SPOOFED', cellIds: ['45008-200000001'] }, from: '127.0.0.6' }), 403, 'cert-chain');
    // a gateway naming the serial with a fingerprint femtoguard never issued: the same
    const gw = await segw({ phase: 'up', serial: 'REV-SPOOFED', sourceIp: '198.51.100.6', certFingerprint: 'ab'.repeat(32), sessionId: 'spoof' });
    expect(JSON.parse(gw.body)).toMatchObject({ decision: 'deny', reason: 'cert-chain' });

    // the refusals are on record and audited under the serial claimed
    expect((await decisions(t, 'REV-SPOOFED')).map((d) => [d.decision, d.reason, d.sourceIp])).toEqual([
      ['deny', 'cert-chain', '198.51.100.6'],
      ['deny', 'cert-chain', '127.0.0.6'],
      ['admit', null, '127.0.0.5'],
    ]);
    const denies = await t.srv.base.stores.audit.list({ action: 'admission.deny', subject: 'REV-SPOOFED' });
    expect(denies.length).toBe(2);
    // ...but never as the device: nothing proved it was REV-SPOOFED
    expect(denies.map((e) => e.actor)).not.toContain('device:REV-SPOOFED');
    expect(denies.map((e) => e.actor)).toContain('anonymous');
    // detection saw only the real device
    expect((await eventsOf('REV-SPOOFED')).map((e) => [e.type, 'sourceIp' in e ? e.sourceIp : null])).toEqual([
      ['femto.session', '127.0.0.5'],
      ['femto.report', '127.0.0.5'],
    ]);
    await new Promise((r) => setTimeout(r, 500));
    await t.srv.live.flush();
    expect(await t.srv.base.stores.alerts.list({ rule: 'credential-shared', serial: 'REV-SPOOFED' })).toEqual([]);
    expect((await t.srv.base.registry.mustGet('REV-SPOOFED')).status).toBe('active');
    expect((await checkinAs(t, current, dev, {}, '127.0.0.5')).status).toBe(200);
  });

  it("fail/another device's certificate claiming a serial: published under the certificate's device, not the claimed one", async () => {
    const owner = await activeDevice(t, 'REV-OWNER');
    await activeDevice(t, 'REV-TARGET');
    expectDenied(await checkin(t, current, { cert: owner.certPath, key: owner.keyPath, body: { serial: 'REV-TARGET' }, from: '127.0.0.6' }), 403, 'cert-serial-binding');
    expect(await eventsOf('REV-TARGET')).toEqual([]);
    // audited and recorded as what it was: REV-OWNER's certificate trying REV-TARGET's name
    const audited = async (subject: string) => (await t.srv.base.stores.audit.list({ action: 'admission.deny', subject })).map((e) => [e.actor, e.subject, e.details?.['reason']]);
    expect(await audited('REV-OWNER')).toEqual([['device:REV-OWNER', 'REV-OWNER', 'cert-serial-binding']]);
    expect(await audited('REV-TARGET')).toEqual([]);
    const [denial] = await t.srv.base.stores.audit.list({ action: 'admission.deny', subject: 'REV-OWNER' });
    expect(denial?.details).toMatchObject({ claimedSerial: 'REV-TARGET' });
    expect((await decisions(t, 'REV-OWNER')).map((d) => [d.decision, d.reason, d.reasons.find((r) => r.code === 'cert-serial-binding')?.detail])).toEqual([
      ['deny', 'cert-serial-binding', 'the certificate belongs to REV-OWNER, not REV-TARGET'],
    ]);
    // looked up by the serial it claimed, the same decision, under the serial its certificate proved
    expect((await decisions(t, 'REV-TARGET')).map((d) => [d.serial, d.claimedSerial, d.reason])).toEqual([['REV-OWNER', 'REV-TARGET', 'cert-serial-binding']]);
    expect(await eventsOf('REV-OWNER')).toMatchObject([
      { type: 'femto.session', phase: 'up', sourceIp: '127.0.0.6', certFingerprint: fingerprintOf(owner) },
      { type: 'femto.report', sourceIp: '127.0.0.6' },
    ]);
  });
});

describe('the gateway ts is the event time, never the decision clock', () => {
  // One unit per probe: a second session of a proven identity from another address is what
  // credential-shared raises on, and its quarantine would answer the next probe cert-revoked.
  const probe = async (serial: string, ts: string | number) => {
    const dev = await activeDevice(t, serial, { ipPrefixes: [] });
    expect((await checkinAs(t, current, dev, {}, '127.0.0.5')).status).toBe(200);
    const r = await segw({ phase: 'up', serial, sourceIp: '127.0.0.6', certFingerprint: fingerprintOf(dev), sessionId: `g-${serial}`, ts });
    expect(r.status, r.body).toBe(200);
    const a = JSON.parse(r.body) as { decision: string; reason: string; at: string };
    // decided now: the live session of 127.0.0.5 still holds the identity
    expect(a).toMatchObject({ decision: 'deny', reason: 'single-session' });
    expect(Math.abs(Date.parse(a.at) - Date.now())).toBeLessThan(60_000);
    return (await eventsOf(serial)).find((e) => e.type === 'femto.session' && e.sessionId === `g-${serial}`) as { ts: string } | undefined;
  };

  it('fail/a ts two days ahead, or in 2000, is decided now and recorded at the server clock; ok/one within the skew is the event time', async () => {
    for (const [serial, ts] of [['REV-TS1', Date.now() + 2 * 86_400_000], ['REV-TS2', '2000-01-01T00:00:00Z']] as const) {
      const e = await probe(serial, ts);
      expect(Math.abs(Date.parse(e?.ts ?? '') - Date.now()), serial).toBeLessThan(60_000);
    }
    const ts = new Date(Date.now() + 240_000).toISOString();
    expect(await probe('REV-TS3', ts)).toMatchObject({ ts });
  });
});

describe('location checks enforced as deny cannot be bypassed', () => {
  const far = { lat: 14.6, lon: 121.0 }; // ~2,600 km from the site
  it('fail/a claimed accuracy of 10,000 km, no fix and no scan, and a scan padded with repeats are all refused', async () => {
    const dev = await activeDevice(t, 'REV-LOC', { owner: 'strict', expectedNeighbors: ['45008-100', '45008-101'] });
    const scan = { neighbors: ['45008-100', '45008-101'] };
    const fix = { gps: { lat: 37.5668, lon: 126.9781, accuracyM: 30 } };
    expectDenied(await checkinAs(t, current, dev, { gps: { ...far, accuracyM: 1e7 }, ...scan }), 403, 'gps-in-site');
    expectDenied(await checkinAs(t, current, dev, scan), 403, 'gps-in-site');
    expectDenied(await checkinAs(t, current, dev, fix), 403, 'neighbors-consistent');
    const padded = ['45008-100', '45008-100', '45008-100', '45008-100', '45008-999', '45008-998', '45008-997', '45008-996', '45008-995', '45008-994'];
    expectDenied(await checkinAs(t, current, dev, { ...fix, neighbors: padded }), 403, 'neighbors-consistent');
    const reasons = (await decisions(t, 'REV-LOC')).map((d) => d.reasons.filter((x) => !x.ok).map((x) => x.detail));
    expect(reasons[0]?.[0]).toMatch(/^1 of 7 distinct reported neighbours/);
    expect(reasons[3]?.[0]).toMatch(/counts as no fix/);
    // the device's real fix and scan are admitted
    expect((await checkinAs(t, current, dev, { ...fix, ...scan })).status).toBe(200);
  });
});
