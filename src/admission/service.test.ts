import { beforeAll, describe, expect, it } from 'vitest';
import type { AuditEventInput } from '../audit-log/index.js';
import { fixedClock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import type { EventStore, FgEvent, StoredEvent } from '../events/index.js';
import { createLeafCache, decide } from './decision.js';
import { createGatewayRotation } from './rotation.js';
import { createAdmission } from './service.js';
import type { DecisionStore, DecisionWrite, GatewayRotationStore } from './store.js';
import { admissionConfigSchema } from './config.js';
import { NOW, checkin, device, makeCa, world, type TestCa } from './test-kit.js';

let ca: TestCa;
beforeAll(async () => {
  ca = await makeCa('femtoguard');
});

function memory(opts: { failRecord?: boolean } = {}) {
  const writes: DecisionWrite[] = [];
  const events: FgEvent[] = [];
  const decisions: DecisionStore = {
    record: (w) => (opts.failRecord ? Promise.reject(new Error('disk full')) : (writes.push(...w), Promise.resolve())),
    get: () => Promise.resolve(null),
    list: () => Promise.resolve([]),
  };
  const store: EventStore = {
    append(es) {
      const stored: StoredEvent[] = es.map((event) => ({ seq: events.push(event), event }));
      return Promise.resolve({ stored, duplicates: 0 });
    },
  } as EventStore;
  const none: GatewayRotationStore = { latest: () => Promise.resolve(null), recent: () => Promise.resolve([]), append: () => Promise.resolve(null) };
  return { writes, events, decisions, store, none };
}

async function setup(opts: { failRecord?: boolean; admission?: Record<string, unknown> } = {}) {
  const m = memory(opts);
  const w = world(ca);
  w.devices.set('KTF1', device('KTF1'));
  const { der, record } = await ca.issue('KTF1');
  w.certs.set(record.fingerprint, record);
  const clock = fixedClock(NOW);
  const audited: AuditEventInput[] = [];
  const audit = { record: (e: AuditEventInput) => (audited.push(e), Promise.resolve()) };
  const admission = createAdmission({
    config: admissionConfigSchema.parse(opts.admission ?? {}),
    devices: w.deps.devices,
    certs: w.deps.certs,
    issuing: () => ca.issuing,
    decisions: m.decisions,
    events: m.store,
    bus: { publish: () => Promise.resolve(), subscribe: () => () => undefined, close: () => Promise.resolve() },
    rotation: createGatewayRotation({ store: m.none, audit, clock }, { pool: [], intervalSeconds: 60, graceSeconds: 0, pollMs: 1000, acceptOnMainListener: true }),
    clock,
    logger: silentLogger(),
    audit,
  });
  const conn = (sourceIp: string) => ({ clientChain: [der], sourceIp, endpoint: '127.0.0.1:8443', mainListener: true });
  return { m, admission, conn, clock, fp: record.fingerprint, audited, w };
}

describe('admission service', () => {
  it('ok/a session starts with femto.session + femto.report; check-ins inside it are reports only; each is recorded', async () => {
    const { m, admission, conn } = await setup();
    const a = await admission.checkin({ serial: 'KTF1', swVersion: '1' }, conn('175.198.195.7'));
    expect(a.admitted).toMatchObject({ decision: 'admit', nextCheckinSeconds: 300, gateways: { current: null } });
    await admission.checkin({ serial: 'KTF1' }, conn('175.198.195.7'));
    expect(m.events.map((e) => e.type)).toEqual(['femto.session', 'femto.report', 'femto.report']);
    expect(m.writes.map((w) => [w.actor, w.decision.decision])).toEqual([['device:KTF1', 'admit'], ['device:KTF1', 'admit']]);
  });

  it('fail/two check-ins from two addresses decided at the same time: only one takes the session', async () => {
    const { admission, conn } = await setup();
    const [x, y] = await Promise.all([admission.checkin({ serial: 'KTF1' }, conn('175.198.195.7')), admission.checkin({ serial: 'KTF1' }, conn('175.198.195.8'))]);
    expect([x.decision.decision, y.decision.decision].sort()).toEqual(['admit', 'deny']);
    expect((x.decision.decision === 'deny' ? x : y).decision.reason).toBe('single-session');
  });

  it('fail/closed: a record that cannot be written is not an admission, and frees the session', async () => {
    const { admission, conn } = await setup({ failRecord: true });
    await expect(admission.checkin({ serial: 'KTF1' }, conn('175.198.195.7'))).rejects.toThrow(/disk full/);
    expect(admission.sessions.size).toBe(0);
  });

  it('ok/a gateway down frees the identity for another address; without a certificate nothing is taken', async () => {
    const { admission, fp, m } = await setup();
    const up = (ip: string, id: string) => admission.admitGatewaySession({ phase: 'up', certFingerprint: fp, sourceIp: ip, sessionId: id, actor: 'segw:test' });
    expect((await up('175.198.195.7', 'ike-1')).decision).toBe('admit');
    expect((await up('175.198.195.8', 'ike-2')).reason).toBe('single-session');
    await admission.admitGatewaySession({ phase: 'down', certFingerprint: fp, sourceIp: '175.198.195.7', sessionId: 'ike-1' });
    expect((await up('175.198.195.8', 'ike-3')).decision).toBe('admit');
    expect(m.events.map((e) => (e.type === 'femto.session' ? `${e.phase}:${e.sessionId ?? ''}` : e.type))).toEqual(['up:ike-1', 'up:ike-2', 'down:ike-1', 'up:ike-3']);
    expect(m.writes[0]?.actor).toBe('segw:test');
    const bare = await admission.admitGatewaySession({ phase: 'up', serial: 'KTF1', sourceIp: '175.198.195.9' });
    expect(bare).toMatchObject({ decision: 'deny', reason: 'cert-chain' });
  });

  it('ok/the leaf cache returns the same verdict without parsing again', async () => {
    const w = world(ca);
    w.devices.set('KTF1', device('KTF1'));
    const { der, record } = await ca.issue('KTF1');
    w.certs.set(record.fingerprint, record);
    const seen: string[] = [];
    const inner = createLeafCache(2);
    const leafCache = { get: (f: string) => (seen.push(`get:${inner.get(f) ? 'hit' : 'miss'}`), inner.get(f)), set: inner.set };
    const a = await decide(checkin('KTF1', der), { ...w.deps, leafCache });
    const b = await decide(checkin('KTF1', der), { ...w.deps, leafCache });
    expect(seen).toEqual(['get:miss', 'get:hit']);
    expect(b.reasons).toEqual(a.reasons);
    // a verdict cached against another issuing CA is not reused
    const other = await makeCa('other');
    const c = await decide(checkin('KTF1', der), { ...w.deps, leafCache, issuing: () => other.issuing });
    expect(c.reason).toBe('cert-chain');
  });
});

describe('admission service: events of refusals whose identity no certificate proved', () => {
  const noCert = (sourceIp: string) => ({ sourceIp, endpoint: '127.0.0.1:8443', mainListener: true });
  const serials = (events: FgEvent[]): string[] => [...new Set(events.map((e) => ('serial' in e ? e.serial : '')))];
  const suppressions = (audited: AuditEventInput[]) => audited.filter((a) => a.action === 'admission.events_suppressed').map((a) => a.details);

  it('fail/a claimed serial is refused and recorded but never published; past the bucket the count is audited; a verified refusal is published', async () => {
    const { m, admission, conn, clock, audited } = await setup({ admission: { refusalEvents: { perMinute: 1, burst: 2 } } });
    for (let i = 0; i < 5; i++) expect((await admission.checkin({ serial: `X${i}`, cellIds: [`45008-9${i}`] }, noCert(`203.0.113.${i + 1}`))).decision.reason).toBe('cert-chain');
    expect(m.writes.map((w) => w.decision.serial)).toEqual(['X0', 'X1', 'X2', 'X3', 'X4']);
    expect(m.events).toEqual([]);
    // the first two are within the /24's rate; the flood past it is counted and audited at once
    expect(suppressions(audited)).toMatchObject([{ sourcePrefix: '203.0.113.0/24', suppressed: 1, perMinute: 1, burst: 2 }]);
    // KTF1's own certificate, refused for a cell it may not serve, from the same /24: published
    const own = await admission.checkin({ serial: 'KTF1', cellIds: ['45008-999'] }, conn('203.0.113.50'));
    expect(own.decision.decision).toBe('deny');
    expect(m.events.map((e) => [e.type, 'serial' in e ? e.serial : ''])).toEqual([['femto.session', 'KTF1'], ['femto.report', 'KTF1']]);
    await admission.checkin({ serial: 'Y0' }, noCert('198.51.100.1'));
    clock.advance(60_000);
    await admission.checkin({ serial: 'X5' }, noCert('203.0.113.9'));
    expect(serials(m.events)).toEqual(['KTF1']);
    await admission.drain();
    expect(suppressions(audited)).toMatchObject([{ suppressed: 1 }, { sourcePrefix: '203.0.113.0/24', suppressed: 2 }]);
  });

  it('fail/a gateway-reported session naming a serial without a certificate publishes nothing; one verified by fingerprint does', async () => {
    const { m, admission, fp } = await setup({ admission: { refusalEvents: { perMinute: 1, burst: 1 } } });
    for (const serial of ['G0', 'G1', 'G2']) expect((await admission.admitGatewaySession({ phase: 'up', serial, sourceIp: '175.198.195.20' })).reason).toBe('cert-chain');
    expect(m.events).toEqual([]);
    expect((await admission.admitGatewaySession({ phase: 'up', certFingerprint: fp, sourceIp: '175.198.195.7', sessionId: 'ike-1' })).decision).toBe('admit');
    expect((await admission.admitGatewaySession({ phase: 'up', certFingerprint: fp, sourceIp: '175.198.195.8', sessionId: 'ike-2' })).reason).toBe('single-session');
    expect(serials(m.events)).toEqual(['KTF1']);
    expect(m.events).toHaveLength(2);
  });

  it("fail/spoof: no certificate, claiming an active device's serial from another address, publishes nothing under it and leaves its session alone", async () => {
    const { m, admission, conn } = await setup();
    expect((await admission.checkin({ serial: 'KTF1' }, conn('175.198.195.7'))).admitted).not.toBeNull();
    const before = m.events.length;
    const spoof = await admission.checkin({ serial: 'KTF1', cellIds: ['45008-1'] }, noCert('198.51.100.66'));
    expect(spoof.decision).toMatchObject({ decision: 'deny', reason: 'cert-chain', serial: 'KTF1', provenSerial: null });
    const gw = await admission.admitGatewaySession({ phase: 'up', serial: 'KTF1', sourceIp: '198.51.100.67', certFingerprint: 'ab'.repeat(32) });
    expect(gw).toMatchObject({ decision: 'deny', reason: 'cert-chain' });
    expect(m.events.slice(before)).toEqual([]);
    // audited as nobody in particular: the serial was only claimed (recorded under it, it is all there is)
    expect(m.writes.slice(-2).map((w) => [w.actor, w.decision.serial, w.decision.decision])).toEqual([['anonymous', 'KTF1', 'deny'], ['gateway', 'KTF1', 'deny']]);
    expect((await admission.checkin({ serial: 'KTF1' }, conn('175.198.195.7'))).admitted).not.toBeNull();
  });

  it("fail/another device's certificate claiming KTF1: published under the certificate's own device, never under KTF1", async () => {
    const { m, admission, w } = await setup();
    w.devices.set('KTF2', device('KTF2'));
    const other = await ca.issue('KTF2');
    w.certs.set(other.record.fingerprint, other.record);
    const r = await admission.checkin({ serial: 'KTF1', cellIds: ['45008-7'] }, { clientChain: [other.der], sourceIp: '175.198.195.9', endpoint: '127.0.0.1:8443', mainListener: true });
    // recorded and audited as what it is, KTF2's certificate trying KTF1: actor and subject KTF2
    expect(r.decision).toMatchObject({ decision: 'deny', reason: 'cert-serial-binding', serial: 'KTF2', provenSerial: 'KTF2' });
    expect(m.writes.map((w) => [w.actor, w.decision.serial])).toEqual([['device:KTF2', 'KTF2']]);
    expect(r.decision.reasons.find((x) => x.code === 'cert-serial-binding')?.detail).toBe('the certificate belongs to KTF2, not KTF1');
    expect(m.events.map((e) => [e.type, 'serial' in e ? e.serial : '', 'certFingerprint' in e ? e.certFingerprint : undefined])).toEqual([
      ['femto.session', 'KTF2', other.record.fingerprint],
      ['femto.report', 'KTF2', undefined],
    ]);
  });
});

describe('admission service: the gateway ts is the event time, never the decision clock', () => {
  it('ok/a ts past admission.maxClockSkewMs, ahead or behind, is decided now and recorded at the server clock; fail/a late down still ends the session (no single-session refusal after it)', async () => {
    const { m, admission, fp } = await setup();
    for (const at of [new Date(NOW.getTime() + 2 * 86_400_000), new Date('2000-01-01T00:00:00Z'), new Date(NOW.getTime() + 300_001)]) {
      const d = await admission.admitGatewaySession({ phase: 'up', certFingerprint: fp, sourceIp: '175.198.195.7', sessionId: 'ike-1', at });
      expect(d.at).toBe(NOW.toISOString());
      expect(m.events.at(-1)).toMatchObject({ type: 'femto.session', phase: 'up', ts: NOW.toISOString() });
    }
    // The gateway's down arrives ten minutes late: it still ends the session.
    await admission.admitGatewaySession({ phase: 'down', certFingerprint: fp, sourceIp: '175.198.195.7', sessionId: 'ike-1', at: new Date(NOW.getTime() - 600_000) });
    expect(m.events.at(-1)).toMatchObject({ type: 'femto.session', phase: 'down', ts: NOW.toISOString() });
    const next = await admission.admitGatewaySession({ phase: 'up', certFingerprint: fp, sourceIp: '175.198.195.8', sessionId: 'ike-2' });
    expect(next).toMatchObject({ decision: 'admit' });
  });

  it('fail/a ts ahead within the skew neither evicts the live session nor decides later: single-session holds; the event carries the ts', async () => {
    const { m, admission, fp, conn } = await setup({ admission: { sessionLivenessSeconds: 60, maxClockSkewMs: 120_000 } });
    expect((await admission.checkin({ serial: 'KTF1' }, conn('175.198.195.7'))).admitted).not.toBeNull();
    const at = new Date(NOW.getTime() + 90_000); // past the 60 s liveness, if it were the clock
    const d = await admission.admitGatewaySession({ phase: 'up', certFingerprint: fp, sourceIp: '175.198.195.8', sessionId: 'ike-9', at });
    expect(d).toMatchObject({ decision: 'deny', reason: 'single-session', at: NOW.toISOString() });
    expect(m.events.at(-1)).toMatchObject({ type: 'femto.session', serial: 'KTF1', sessionId: 'ike-9', ts: at.toISOString(), t: at.getTime() });
  });
});
