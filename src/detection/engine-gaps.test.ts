/**
 * Detection gaps a reviewer found with real streams (/tmp/review8/e): a stale MSISDN link, a
 * relocation without a `down` taken for a clone, and two clones missed on a feed of gateway
 * session events only. Each stream is the reviewer's scenario rebuilt with the test kit; each
 * failed before its fix. The last test runs them through `femtoguard detect`'s partitioned
 * replay (two engines on a worker thread), where the subscriber side alone holds the index.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FgEvent } from '../events/index.js';
import type { DeviceInput } from '../registry/index.js';
import { detectionConfigSchema } from './config.js';
import { createEngine } from './engine.js';
import { replayFilesOnThread } from './replay-thread.js';
import { RegistryView } from './state.js';
import { DAY, detect, device, ev, imsi, iso, msisdn } from './test-kit.js';

// --- A: a number given up and recycled (p5_stale_link) -------------------------------------
const HOME_CELL = '45008-300003';
const ROGUE_CELL = '45008-399999';
const homeFleet = [device('HOME', { cellIds: [HOME_CELL], ipPrefixes: ['10.1.1.0/24'] })];
const A = imsi(2);
const OLD_NO = msisdn(2);
const NEW_NO = msisdn(9002);

/** A attaches with OLD_NO; a day later registers with NEW_NO; then attaches on a rogue cell; a payment by OLD_NO 10 min later. */
function staleLink(payer = OLD_NO): FgEvent[] {
  return [
    ev.session(0, { serial: 'HOME', sourceIp: '10.1.1.5', cellIds: [HOME_CELL], sessionId: 's1' }),
    ev.attach(60, { cellId: HOME_CELL, imsi: A, msisdn: OLD_NO }),
    ev.ims(DAY / 60_000, { imsi: A, ipsec: true, msisdn: NEW_NO }),
    ev.attach(DAY / 60_000 + 60, { cellId: ROGUE_CELL, imsi: A }),
    ev.payment(DAY / 60_000 + 70, { txId: 'tx-newowner', msisdn: payer }),
  ];
}

// --- B: a relocation (r1_reloc_nodown, r2_reloc_down) ---------------------------------------
const OLD_IP = '10.1.1.5';
const NEW_IP = '10.2.2.5';
const relFleet = [device('REL', { cellIds: ['45008-300010'], siteLat: 37.5, siteLon: 127.0, ipPrefixes: ['10.1.1.0/24'], expectedNeighbors: ['45008-1', '45008-2', '45008-3'] })];
const oldLine = { serial: 'REL', sourceIp: OLD_IP, cellIds: ['45008-300010'], gps: { lat: 37.5, lon: 127.0, accuracyM: 20 }, neighbors: ['45008-1', '45008-2', '45008-3'] };
const newLine = { serial: 'REL', sourceIp: NEW_IP, cellIds: ['45008-300011'], gps: { lat: 37.6, lon: 127.1, accuracyM: 20 }, neighbors: ['45008-7', '45008-8', '45008-9'] };
const move = { serial: 'REL', siteLat: 37.6, siteLon: 127.1, ipPrefixes: ['10.2.2.0/24'], expectedNeighbors: ['45008-7', '45008-8', '45008-9'], cellIds: ['45008-300011'] };

/** Up on the old line at 00:00, reports every 15 min to 01:45, the move at 02:00 (`withDown`: a clean `down` first), up from the new line at 02:25. */
function relocation(withDown: boolean, extra: FgEvent[] = []): FgEvent[] {
  const events: FgEvent[] = [ev.session(0, { serial: 'REL', sourceIp: OLD_IP, cellIds: oldLine.cellIds, sessionId: 's1' })];
  for (let m = 0; m <= 105; m += 15) events.push(ev.report(m, oldLine));
  if (withDown) events.push(ev.down(120, { serial: 'REL', sourceIp: OLD_IP, sessionId: 's1' }));
  events.push(ev.update(120, move), ev.session(145, { serial: 'REL', sourceIp: NEW_IP, cellIds: newLine.cellIds, sessionId: 's2' }));
  for (let m = 145; m <= 310; m += 15) events.push(ev.report(m, newLine));
  return [...events, ...extra].sort((x, y) => x.t - y.t);
}

// --- C: a feed of gateway session events only (c4_segw_only) ---------------------------------
const segwFleet = [device('REL', { cellIds: ['45008-300010'] }), device('OTH', { cellIds: ['45008-300011'] })];
function segwOnly(): FgEvent[] {
  return [
    ev.session(0, { serial: 'REL', sourceIp: '198.51.100.7', cellIds: ['45008-300010'], sessionId: 'ike-1-aa' }),
    ev.session(0, { serial: 'OTH', sourceIp: '198.51.100.8', cellIds: ['45008-300011'], sessionId: 'ike-2-bb' }),
    ev.session(120, { serial: 'REL', sourceIp: '203.0.113.9', cellIds: ['45008-300010'], sessionId: 'ike-3-cc', id: 'second-up' }),
    ev.down(180, { serial: 'OTH', sourceIp: '198.51.100.8', sessionId: 'ike-2-bb' }),
    ev.down(240, { serial: 'REL', sourceIp: '198.51.100.7', sessionId: 'ike-1-aa' }),
    ev.down(240, { serial: 'REL', sourceIp: '203.0.113.9', sessionId: 'ike-3-cc' }),
  ];
}

describe('A: an MSISDN that changed owner no longer leads to the old subscriber', () => {
  it('fail/p5_stale_link: the new owner of the old number pays: no payment-exposure, nothing of A disclosed', () => {
    const r = detect(homeFleet, staleLink());
    expect(r.of('unregistered-cell').map((a) => a.cellId)).toEqual([ROGUE_CELL]);
    expect(r.of('payment-exposure')).toEqual([]);
    expect(JSON.stringify(r.alerts)).not.toContain(A);
  });

  it('ok/A paying with its new number is still exposed', () => {
    expect(detect(homeFleet, staleLink(NEW_NO)).one('payment-exposure')).toMatchObject({ imsi: A, msisdn: NEW_NO, cellId: ROGUE_CELL, ts: iso(DAY / 60_000 + 70) });
  });

  it('ok/the latest link wins both ways: a number moved to B and back to A leads to A again', () => {
    const B = imsi(3);
    const r = detect(homeFleet, [
      ev.session(0, { serial: 'HOME', sourceIp: '10.1.1.5', cellIds: [HOME_CELL], sessionId: 's1' }),
      ev.attach(10, { cellId: HOME_CELL, imsi: A, msisdn: OLD_NO }),
      ev.attach(20, { cellId: HOME_CELL, imsi: B, msisdn: OLD_NO }),
      ev.attach(30, { cellId: ROGUE_CELL, imsi: A, msisdn: OLD_NO }),
      ev.payment(40, { txId: 'tx-a', msisdn: OLD_NO }),
    ]);
    expect(r.one('payment-exposure')).toMatchObject({ imsi: A, txId: 'tx-a' });
  });

  it('fail/the number moved to B: B pays and B was never on the rogue cell', () => {
    const B = imsi(3);
    const r = detect(homeFleet, [
      ev.attach(10, { cellId: ROGUE_CELL, imsi: A, msisdn: OLD_NO }),
      ev.attach(20, { cellId: HOME_CELL, imsi: B, msisdn: OLD_NO }),
      ev.payment(40, { txId: 'tx-b', msisdn: OLD_NO }),
    ]);
    expect(r.of('payment-exposure')).toEqual([]);
  });
});

describe('B: a relocation ends the sessions of the old line', () => {
  it('fail/r1_reloc_nodown: no `down` before the move, up from the new line 25 min later: no credential-shared', () => {
    const r = detect(relFleet, relocation(false));
    expect(r.of('credential-shared')).toEqual([]);
  });

  it('fail/r2_reloc_down: with a clean `down` nothing fires either', () => {
    expect(detect(relFleet, relocation(true)).alerts).toEqual([]);
  });

  it('ok/a clone left on the old line that reports after the move is still caught when the unit comes up from the new line', () => {
    const r = detect(relFleet, relocation(false, [ev.report(130, oldLine)]));
    expect(r.one('credential-shared')).toMatchObject({ ts: iso(145), evidence: { kind: 'concurrent-sessions', sourceIp: NEW_IP, otherSourceIp: OLD_IP } });
    expect(r.one('source-ip-mismatch').ts).toBe(iso(130));
  });

  it('ok/a clone bringing a session up from the old line after the unit is on its new line is caught', () => {
    const r = detect(relFleet, relocation(false, [ev.session(200, { serial: 'REL', sourceIp: OLD_IP, cellIds: oldLine.cellIds, sessionId: 's3' })]));
    expect(r.one('credential-shared')).toMatchObject({ ts: iso(200), evidence: { sourceIp: OLD_IP, otherSourceIp: NEW_IP } });
  });

  it('ok/a move that keeps the lines (site only) ends no session: a second address is still a clone', () => {
    const r = detect(relFleet, [
      ev.session(0, { serial: 'REL', sourceIp: OLD_IP, sessionId: 's1' }),
      ev.update(10, { serial: 'REL', siteLat: 37.51 }),
      ev.session(20, { serial: 'REL', sourceIp: '10.1.1.77', sessionId: 's2' }),
    ]);
    expect(r.one('credential-shared').ts).toBe(iso(20));
  });

  it('ok/a session from outside the old prefixes too was never the unit line: a move does not end it', () => {
    const r = detect(relFleet, [
      ev.session(0, { serial: 'REL', sourceIp: '121.160.8.8', sessionId: 'x' }),
      ev.update(10, move),
      ev.session(20, { serial: 'REL', sourceIp: NEW_IP, sessionId: 's2' }),
    ]);
    expect(r.one('credential-shared')).toMatchObject({ ts: iso(20), evidence: { otherSourceIp: '121.160.8.8' } });
  });

  it('ok/the same relocation from the live registry poll (engine.registryChange) ends the old session too', () => {
    const engine = createEngine({ registry: RegistryView.from(relFleet), config: detectionConfigSchema.parse({}) });
    const events = relocation(false).filter((e) => e.type !== 'registry.update');
    const moveAt = Date.parse(iso(120));
    // The poll reads the change just before the first event after it arrives: held, in force at 02:00.
    const i = events.findIndex((e) => e.t >= moveAt);
    events.slice(0, i).forEach((e) => engine.push(e));
    engine.registryChange({ ...(relFleet[0] as DeviceInput), ...move }, moveAt);
    expect(engine.sizes().registryChanges).toBe(1);
    events.slice(i).forEach((e) => engine.push(e));
    engine.finish();
    expect(engine.alerts().filter((a) => a.rule === 'credential-shared')).toEqual([]);
  });

  it('ok/a change put in force at once (older than the watermark) ends the old session, and a later sighting of the old line revives it', () => {
    const engine = createEngine({ registry: RegistryView.from(relFleet), config: detectionConfigSchema.parse({}) });
    const events = relocation(false, [ev.report(150, oldLine)]).filter((e) => e.type !== 'registry.update');
    const i = events.findIndex((e) => e.t >= Date.parse(iso(120)));
    events.slice(0, i).forEach((e) => engine.push(e));
    engine.drain();
    // No time: in force at once, after everything the device sent so far (all processed here).
    engine.registryChange({ ...(relFleet[0] as DeviceInput), ...move }, Number.NaN);
    expect(engine.sizes().registryChanges).toBe(0);
    events.slice(i).forEach((e) => engine.push(e));
    engine.finish();
    // Up from the new line at 02:25: the old session ended with the move. Its address reported
    // again at 02:30 (a clone), so the new line's next session up would be concurrent with it.
    expect(engine.alerts().filter((a) => a.rule === 'credential-shared')).toEqual([]);
    engine.push(ev.session(160, { serial: 'REL', sourceIp: '10.2.2.6', sessionId: 's4' }));
    engine.finish();
    expect(engine.alerts().filter((a) => a.rule === 'credential-shared').map((a) => a.evidence)).toMatchObject([{ sourceIp: '10.2.2.6', otherSourceIp: OLD_IP }]);
  });
});

describe('C: gateway sessions (with a sessionId) live until their `down`', () => {
  it('fail/c4_segw_only: two sessions of one serial up at once, no reports: credential-shared at the second up', () => {
    const r = detect(segwFleet, segwOnly());
    expect(r.one('credential-shared')).toMatchObject({ serial: 'REL', severity: 'critical', ts: iso(120), evidence: { sourceIp: '203.0.113.9', otherSourceIp: '198.51.100.7', eventId: 'second-up' } });
    expect(r.alerts.map((a) => a.serial)).not.toContain('OTH');
  });

  it('ok/gatewaySessionMaxMs bounds a gateway session whose `down` was lost (the threshold is read)', () => {
    const cfg = { rules: { 'credential-shared': { gatewaySessionMaxMs: 90 * 60_000 } } };
    expect(detect(segwFleet, segwOnly(), cfg).of('credential-shared')).toEqual([]);
  });

  it('fail/without session ids the feed keeps the report-based liveness (a crash sends no `down`)', () => {
    const r = detect(segwFleet, [ev.session(0, { serial: 'REL', sourceIp: '198.51.100.7' }), ev.session(120, { serial: 'REL', sourceIp: '203.0.113.9' })]);
    expect(r.of('credential-shared')).toEqual([]);
  });

  it('fail/a `down` naming another session id, or none, still ends the session from its address: the next address is no clone', () => {
    for (const down of [{ sessionId: 's1-other' }, {}]) {
      const r = detect(segwFleet, [
        ev.session(0, { serial: 'REL', sourceIp: '198.51.100.7', sessionId: 's1' }),
        ev.down(30, { serial: 'REL', sourceIp: '198.51.100.7', ...down }),
        ev.session(180, { serial: 'REL', sourceIp: '203.0.113.9', sessionId: 's2' }),
      ]);
      expect(r.of('credential-shared'), JSON.stringify(down)).toEqual([]);
      expect(r.engine.sizes().sessions).toBe(1);
    }
  });

  it('ok/new session ids from one address whose `down`s were lost do not pile up: one session per address', () => {
    const events: FgEvent[] = [];
    // A new IKE SA every hour from the same address for five days, each `down` lost; reports every 15 min keep the address seen.
    for (let m = 0; m < 5 * 24 * 60; m += 15) {
      if (m % 60 === 0) events.push(ev.session(m, { serial: 'REL', sourceIp: '198.51.100.7', sessionId: `sa-${m}` }));
      events.push(ev.report(m + 1, { serial: 'REL', sourceIp: '198.51.100.7' }));
    }
    const r = detect(segwFleet, events);
    expect(r.engine.sizes().sessions).toBe(1);
    expect(r.of('credential-shared')).toEqual([]);
  });

  it('ok/memory stays bounded: gateway sessions never closed are pruned once past gatewaySessionMaxMs', () => {
    const events: FgEvent[] = [];
    // A new session id and address every hour for three days, never a `down`.
    for (let h = 0; h < 72; h++) events.push(ev.session(h * 60, { serial: 'REL', sourceIp: `198.51.${100 + (h % 100)}.${h % 250}`, sessionId: `ike-${h}` }));
    const r = detect(segwFleet, events);
    // Live at the end: those seen within the last 24 h (the one just up included).
    expect(r.engine.sizes().sessions).toBeLessThanOrEqual(25);
    expect(r.engine.sizes().addresses).toBeLessThanOrEqual(25);
  });
});

describe('the scenarios through femtoguard detect (partitioned replay on a worker thread)', () => {
  it('ok/p5 raises no payment-exposure, r1 no credential-shared, c4 one credential-shared', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fg-gaps-'));
    const csv = (devices: readonly DeviceInput[]): string =>
      'serial,status,cell_ids,site_lat,site_lon,site_radius_m,ip_prefixes,expected_neighbors,cert_fingerprints,owner\n' +
      devices.map((d) => [d.serial, d.status, d.cellIds.join(';'), d.siteLat ?? '', d.siteLon ?? '', d.siteRadiusM, d.ipPrefixes.join(';'), d.expectedNeighbors.join(';'), '', ''].join(',')).join('\n') +
      '\n';
    const run = async (name: string, devices: readonly DeviceInput[], events: readonly FgEvent[]) => {
      const registryPath = join(dir, `${name}.csv`);
      const eventsPath = join(dir, `${name}.ndjson`);
      writeFileSync(registryPath, csv(devices));
      writeFileSync(eventsPath, events.map((e) => JSON.stringify({ ...e, t: undefined })).join('\n') + '\n');
      const { alerts } = await replayFilesOnThread({ registryPath, eventsPath, config: detectionConfigSchema.parse({}) });
      // idle-device (a unit of the fleet quiet for a day) is beside the point here
      return alerts.filter((a) => a.rule !== 'idle-device').map((a) => a.rule);
    };
    expect(await run('p5', homeFleet, staleLink())).toEqual(['unregistered-cell']);
    expect(await run('r1', relFleet, relocation(false))).toEqual([]);
    expect(await run('c4', segwFleet, segwOnly())).toEqual(['credential-shared']);
  });
});
