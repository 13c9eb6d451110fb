/**
 * A refusal-flood with curl as the attacker: check-ins without a certificate, each claiming a
 * fresh serial and cell, from one source address. Every one is refused and audited, and none
 * reaches detection (no certificate proved those serials, so they raise no unregistered-device /
 * unregistered-cell alert); the refusal limiter counts them per source prefix (admission.refusalEvents:
 * 20 a minute, burst 20, per /24), and what a prefix sends past its rate is counted in an
 * `admission.events_suppressed` audit event. A device with its own certificate in the same /24
 * is published as always, and another /24 has its own bucket.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FgEvent } from '../../src/events/index.js';
import { activeDevice, checkin, checkinAs, expectDenied, startAdmissionServer, type AdmissionServer } from '../helpers/admission.js';
import type { HttpReply } from '../helpers/est-client.js';
import { requireTool } from '../helpers/run.js';

const FLOODS = 200;
const PER_MINUTE = 20;
const BURST = 20;

let t: AdmissionServer;
let current: string;
beforeAll(async () => {
  requireTool('openssl', 'openssl');
  requireTool('curl', 'curl');
  t = await startAdmissionServer();
  current = t.pool[0] as string;
});
afterAll(async () => t?.stop());

/** A serial and a cell nobody registered, fresh for each attempt. */
function rogue(tag: string): { serial: string; cellIds: string[] } {
  return { serial: `ROGUE-${tag}-${randomBytes(6).toString('hex')}`, cellIds: [`45008-9${String(randomBytes(4).readUInt32BE(0) % 100_000_000).padStart(8, '0')}`] };
}

/** Runs `jobs` with at most `width` at a time. */
async function pooled<T>(jobs: (() => Promise<T>)[], width: number): Promise<T[]> {
  const out: T[] = new Array<T>(jobs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await (jobs[i] as () => Promise<T>)();
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
  return out;
}

async function publishedFor(prefix: string): Promise<FgEvent[]> {
  return (await t.srv.base.stores.events.readSince(0, 100_000)).map((s) => s.event).filter((e) => 'serial' in e && typeof e.serial === 'string' && e.serial.startsWith(prefix));
}

const deniesFor = async (prefix: string): Promise<string[]> =>
  (await t.srv.base.stores.audit.list({ action: 'admission.deny', limit: 10_000 })).map((a) => a.subject ?? '').filter((s) => s.startsWith(prefix));

describe('refusal flood from one source prefix', () => {
  it('fail/200 refusals with claimed serials: all refused and audited, none reaches detection, the flood past the rate is counted', async () => {
    const dev = await activeDevice(t, 'FLOOD-VERIFIED');
    const claims = Array.from({ length: FLOODS }, () => rogue('A'));
    const verified: Promise<HttpReply>[] = [];
    const replies = await pooled(
      claims.map((c, i) => async () => {
        // the real device, in the same /24 as the attacker, checks in in the middle of the flood:
        // admitted once, and refused once for a cell it may not serve (a verified refusal)
        if (i === 60) verified.push(checkinAs(t, current, dev, {}, '127.0.0.5'));
        if (i === 120) verified.push(checkinAs(t, current, dev, { cellIds: ['45008-200000001', '45008-977777777'] }, '127.0.0.5'));
        return checkin(t, current, { body: c, from: '127.0.0.6' });
      }),
      8,
    );
    for (const r of replies) expectDenied(r, 403, 'cert-chain');
    const [admitted, refusedVerified] = await Promise.all(verified);
    expect(admitted?.status).toBe(200);
    expectDenied(refusedVerified as HttpReply, 403, 'cells-allowed');

    // every attempt is a decision with its audit event
    const denies = await deniesFor('ROGUE-A-');
    expect(new Set(denies)).toEqual(new Set(claims.map((c) => c.serial)));
    expect(denies).toHaveLength(FLOODS);

    // nothing under a claimed serial reached detection
    expect(await publishedFor('ROGUE-A-')).toEqual([]);

    // the verified device's events are all there, the refused one with the cell it claimed
    expect((await publishedFor('FLOOD-VERIFIED')).map((e) => [e.type, 'cellIds' in e ? e.cellIds : undefined])).toEqual([
      ['femto.session', undefined],
      ['femto.report', undefined],
      ['femto.session', ['45008-200000001', '45008-977777777']],
      ['femto.report', ['45008-200000001', '45008-977777777']],
    ]);

    // the flood is on record: the source prefix and how many refusals came past its rate (the
    // first at once, the rest in the next summary a minute later or at shutdown)
    const suppressed = await t.srv.base.stores.audit.list({ action: 'admission.events_suppressed', subject: '127.0.0.0/24' });
    expect(suppressed.length).toBeGreaterThanOrEqual(1);
    expect(suppressed[suppressed.length - 1]).toMatchObject({ actor: 'system', outcome: 'denied', details: { sourcePrefix: '127.0.0.0/24', suppressed: 1, perMinute: PER_MINUTE, burst: BURST } });
    const counted = suppressed.reduce((n, a) => n + Number(a.details?.suppressed), 0);
    expect(counted).toBeLessThanOrEqual(FLOODS - BURST);
    // and detection raised nothing about the claimed serials or cells
    await t.srv.live.flush();
    const claimedCells = new Set(claims.flatMap((c) => c.cellIds));
    const alerts = (await t.srv.base.stores.alerts.list({ limit: 10_000 })).filter((a) => a.serial?.startsWith('ROGUE-') || (a.cellId !== undefined && claimedCells.has(a.cellId)));
    expect(alerts).toEqual([]);
  });

  it('ok/another /24 has its own bucket: its few refusals are not counted as a flood; neither prefix publishes anything', async () => {
    const other = Array.from({ length: 5 }, () => rogue('B'));
    const more = Array.from({ length: 30 }, () => rogue('C'));
    await pooled([...other.map((c) => () => checkin(t, current, { body: c, from: '127.0.1.9' })), ...more.map((c) => () => checkin(t, current, { body: c, from: '127.0.0.7' }))], 8);
    expect(await publishedFor('ROGUE-B-')).toEqual([]);
    expect(await publishedFor('ROGUE-C-')).toEqual([]);
    expect(await deniesFor('ROGUE-B-')).toHaveLength(other.length);
    expect(await deniesFor('ROGUE-C-')).toHaveLength(more.length);
    expect(await t.srv.base.stores.audit.list({ action: 'admission.events_suppressed', subject: '127.0.1.0/24' })).toEqual([]);
  });
});
