import { describe, expect, it } from 'vitest';
import type { FgEvent } from '../events/index.js';
import type { Alert } from './alerts.js';
import { alertId, subjectKey } from './alerts.js';
import { detectionConfigSchema } from './config.js';
import { createEngine } from './engine.js';
import { RegistryView } from './state.js';
import { DAY, HOUR, MIN, T0, at, detect, type ConfigOverrides, device, ev, fp, imsi, iso, msisdn, north, rng } from './test-kit.js';

const C1 = '45008-200000001';
const ROGUE = '45008-300000001';
const fleet = [device('KTF1', { cellIds: [C1], ipPrefixes: ['175.198.195.0/24'] }), device('KTF2', { status: 'provisioned' })];

describe('engine: alerts are folded per rule and subject', () => {
  it('ok/repeats add to count and move lastSeen; ts and firstSeen stay at the first event', () => {
    const r = detect(fleet, [ev.report(5, { serial: 'GHOST' }), ev.report(9, { serial: 'GHOST' }), ev.report(7.5, { serial: 'GHOST' }), ev.report(6, { serial: 'OTHER' })]);
    const ghost = r.of('unregistered-device').find((a) => a.serial === 'GHOST') as Alert;
    expect(ghost).toMatchObject({ ts: iso(5), firstSeen: iso(5), lastSeen: iso(9), count: 3 });
    expect(r.of('unregistered-device')).toHaveLength(2);
    expect(ghost.id).toBe(alertId(subjectKey({ rule: 'unregistered-device', serial: 'GHOST' })));
    // The id is stable across runs (same rule and subject, same id).
    expect(detect(fleet, [ev.report(50, { serial: 'GHOST' })]).one('unregistered-device').id).toBe(ghost.id);
  });

  it('ok/a more severe repeat raises the alert\'s severity and takes its summary and evidence', () => {
    const r = detect(fleet, [ev.report(1, { serial: 'KTF2' }), ev.update(2, { serial: 'KTF2', status: 'lost' }), ev.report(3, { serial: 'KTF2', sourceIp: '1.2.3.4' })]);
    const a = r.one('inactive-device');
    expect(a).toMatchObject({ severity: 'critical', ts: iso(1), lastSeen: iso(3), count: 2, evidence: { status: 'lost', sourceIp: '1.2.3.4' } });
    expect(a.summary).toMatch(/lost/);
  });

  it('ok/payment-exposure folds per txId; alerts are listed most severe first, then by time', () => {
    const s = { imsi: imsi(1), msisdn: msisdn(1) };
    const r = detect(fleet, [ev.attach(1, { cellId: ROGUE, ...s }), ev.payment(2, { txId: 'a', msisdn: s.msisdn }), ev.payment(3, { txId: 'b', msisdn: s.msisdn }), ev.payment(4, { txId: 'a', msisdn: s.msisdn })]);
    expect(r.of('payment-exposure').map((a) => [a.txId, a.count])).toEqual([['a', 2], ['b', 1]]);
    expect(r.alerts.map((a) => a.rule)).toEqual(['unregistered-cell', 'payment-exposure', 'payment-exposure']);
  });

  it('ok/onAlert tells a raise from a repeat', () => {
    const seen: [string, boolean][] = [];
    const engine = createEngine({ registry: RegistryView.from(fleet), config: detectionConfigSchema.parse({}), onAlert: (a, isNew) => seen.push([a.serial ?? '', isNew]) });
    for (const e of [ev.report(1, { serial: 'GHOST' }), ev.report(2, { serial: 'GHOST' })]) engine.push(e);
    engine.finish();
    expect(seen).toEqual([['GHOST', true], ['GHOST', false]]);
  });
});

describe('engine: how cells get flagged (what payment-exposure looks at)', () => {
  const s = { imsi: imsi(7), msisdn: msisdn(7) };
  it('ok/a device finding flags the device\'s registered cells', () => {
    const r = detect(fleet, [ev.attach(1, { cellId: C1, ...s }), ev.session(2, { serial: 'KTF1', sourceIp: '9.9.9.9' }), ev.payment(3, { txId: 't', msisdn: s.msisdn })]);
    expect(r.one('payment-exposure')).toMatchObject({ cellId: C1, evidence: { exposures: [{ flaggedAt: iso(2), rules: ['source-ip-mismatch'] }] } });
  });

  it('ok/a device finding flags the cells announced in the very event that raised it', () => {
    // An unknown serial announcing a registered cell (a clone of KTF1's cell).
    const r = detect(fleet, [ev.session(1, { serial: 'GHOST', sourceIp: '9.9.9.9', cellIds: [C1] }), ev.attach(2, { cellId: C1, ...s }), ev.payment(3, { txId: 't', msisdn: s.msisdn })]);
    expect(r.one('payment-exposure')).toMatchObject({ cellId: C1, evidence: { exposures: [{ flaggedAt: iso(1), rules: ['unregistered-device'] }] } });
  });

  it('fail/low-severity findings, idle-device and payment-exposure flag nothing', () => {
    const r = detect(fleet, [ev.attach(1, { cellId: C1, ...s }), ev.session(2, { serial: 'KTF1', sourceIp: '9.9.9.9' }), ev.payment(3, { txId: 't', msisdn: s.msisdn })], {
      rules: { 'source-ip-mismatch': { severity: 'low' } },
    });
    expect(r.of('payment-exposure')).toEqual([]);
    const idle = detect([device('KTF1', { cellIds: [C1] }), device('KTF3')], [ev.report(0, { serial: 'KTF1' }), ...Array.from({ length: 300 }, (_, i) => ev.report(i * 5, { serial: 'KTF3' })), ev.attach(1495, { cellId: C1, ...s }), ev.payment(1496, { txId: 't', msisdn: s.msisdn })]);
    expect(idle.one('idle-device').serial).toBe('KTF1');
    expect(idle.of('payment-exposure')).toEqual([]);
  });
});

/**
 * A mixed stream over a few hours that makes most rules fire: a lost unit driven around from
 * a foreign line announcing unknown cells to crowds of strangers with IMS IPsec stripped and
 * payments, a clone of KTF11, residents and payments on clean cells. Every event has an id.
 */
function incidentStream(seed: number): { devices: ReturnType<typeof device>[]; events: FgEvent[] } {
  const rand = rng(seed);
  const site = { lat: 37.5665, lon: 126.978 };
  const devices = Array.from({ length: 12 }, (_, i) =>
    device(`KTF${10 + i}`, {
      status: i === 5 ? 'lost' : 'active',
      cellIds: [`45008-2000000${10 + i}`],
      ipPrefixes: [`175.198.${10 + i}.0/24`],
      siteLat: north(site.lat, site.lon, i * 3000).lat,
      siteLon: site.lon,
      expectedNeighbors: [`45008-1000${i}1`, `45008-1000${i}2`, `45008-1000${i}3`],
      certFingerprints: [fp(`cert-${i}`)],
    }),
  );
  const raw: [number, (m: number, id: string) => FgEvent][] = [];
  const add = (minutes: number, f: (m: number, id: string) => FgEvent): void => void raw.push([minutes + Math.floor(rand() * 30) / 60, f]);
  for (let m = 0; m < 360; m += 15) {
    devices.forEach((d, i) => {
      if (i === 5) return;
      add(m, (t, id) => ev.report(t, { id, serial: d.serial, sourceIp: `175.198.${10 + i}.7`, cellIds: d.cellIds, gps: { ...north(d.siteLat as number, site.lon, rand() * 100), accuracyM: 30 }, neighbors: d.expectedNeighbors.slice(0, 2 + Math.floor(rand() * 2)) }));
      add(m, (t, id) => ev.attach(t, { id, cellId: d.cellIds[0] as string, imsi: imsi(i * 10 + Math.floor(rand() * 4)), msisdn: msisdn(i * 10) }));
      add(m + 1, (t, id) => ev.ims(t, { id, imsi: imsi(i * 10), cellId: d.cellIds[0] as string, ipsec: rand() > 0.05 }));
    });
    add(m, (t, id) => ev.payment(t, { id, txId: `ok${m}`, msisdn: msisdn(30) }));
  }
  // The rogue: KTF15 (lost) from a foreign line, moving, announcing unknown cells, from 02:00.
  for (let k = 0; k < 12; k++) {
    const m = 120 + k * 15;
    const cell = `45008-3000000${k % 4}`;
    add(m, (t, id) => ev.session(t, { id, serial: 'KTF15', sourceIp: '211.36.1.9', cellIds: [cell], sessionId: 'rogue', certFingerprint: fp('cert-5') }));
    add(m + 1, (t, id) => ev.report(t, { id, serial: 'KTF15', sourceIp: '211.36.1.9', gps: { ...north(site.lat, site.lon, 20_000 + k * 3000), accuracyM: 20 }, neighbors: [`45008-1009${k}1`, `45008-1009${k}2`] }));
    for (let j = 0; j < 16; j++) {
      const victim = 1000 + k * 16 + j;
      add(m + 2 + j * 0.5, (t, id) => ev.attach(t, { id, cellId: cell, imsi: imsi(victim) }));
      add(m + 3 + j * 0.5, (t, id) => ev.ims(t, { id, imsi: imsi(victim), msisdn: msisdn(victim), cellId: cell, ipsec: false }));
      if (j % 5 === 0) add(m + 12, (t, id) => ev.payment(t, { id, txId: `fraud${victim}`, msisdn: msisdn(victim) }));
    }
  }
  // A clone of KTF11 from another ISP at the same time as the real one.
  add(200, (t, id) => ev.session(t, { id, serial: 'KTF11', sourceIp: '175.198.11.7', sessionId: 'real' }));
  add(230, (t, id) => ev.session(t, { id, serial: 'KTF11', sourceIp: '121.160.8.8', sessionId: 'clone', endpoint: 'old-segw:500' }));
  raw.sort((a, b) => a[0] - b[0]);
  return { devices, events: raw.map(([m, f], n) => f(m, `e${String(n).padStart(6, '0')}`)) };
}

const streamConfig: ConfigOverrides = { rules: { 'stale-endpoint': { retired: [{ endpoint: 'old-segw:500', retiredAt: '2025-08-05T00:00:00Z' }] } } };

describe('engine: arrival order within maxOutOfOrderMs does not matter', () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`ok/shuffled arrival (seed ${seed}) gives exactly the alerts of sorted input`, () => {
      const { devices, events } = incidentStream(seed);
      const sorted = detect(devices, events, streamConfig);
      expect(new Set(sorted.alerts.map((a) => a.rule)).size).toBeGreaterThanOrEqual(10);
      // Each event arrives up to 10 minutes after its own time: never later than 10 minutes behind the newest.
      const rand = rng(seed * 7919);
      const shuffled = events.map((e) => ({ e, arrival: e.t + rand() * 10 * MIN })).sort((a, b) => a.arrival - b.arrival).map((x) => x.e);
      expect(shuffled).not.toEqual(events);
      const r = detect(devices, shuffled, streamConfig);
      expect(r.engine.stats().late).toBe(0);
      expect(r.alerts).toEqual(sorted.alerts);
    });
  }

  it('ok/an event later than the limit is still processed, and counted late', () => {
    const r = detect(fleet, [ev.report(0, { serial: 'KTF1' }), ev.report(30, { serial: 'KTF1' }), ev.report(5, { serial: 'GHOST' })]);
    expect(r.engine.stats()).toMatchObject({ late: 1, events: 3 });
    expect(r.one('unregistered-device').ts).toBe(iso(5));
  });
});

describe('engine: idempotency on id', () => {
  it('ok/the same id twice is counted once; events without ids are never deduplicated', () => {
    const once = ev.report(1, { serial: 'GHOST', id: 'x1' });
    const r = detect(fleet, [once, ev.report(1, { serial: 'GHOST', id: 'x1' }), ev.report(2, { serial: 'GHOST' }), ev.report(2, { serial: 'GHOST' })]);
    expect(r.engine.stats()).toMatchObject({ events: 3, duplicates: 1 });
    expect(r.one('unregistered-device').count).toBe(3);
  });

  it('ok/a duplicate arriving out of order is still a duplicate', () => {
    const r = detect(fleet, [ev.report(10, { serial: 'GHOST', id: 'a' }), ev.report(14, { serial: 'KTF1', id: 'b' }), ev.report(10, { serial: 'GHOST', id: 'a' })]);
    expect(r.engine.stats().duplicates).toBe(1);
    expect(r.one('unregistered-device').count).toBe(1);
  });

  it('fail/an event older than the dedup window is dropped and counted tooOld', () => {
    const r = detect(fleet, [ev.report(0, { serial: 'KTF1', id: 'a' }), ev.report(7 * 60, { serial: 'KTF1', id: 'b' }), ev.report(30, { serial: 'GHOST', id: 'c' })]);
    expect(r.engine.stats()).toMatchObject({ tooOld: 1, events: 2 });
    expect(r.of('unregistered-device')).toEqual([]);
    // With a longer dedup window the same event is only late.
    const longer = detect(fleet, [ev.report(0, { serial: 'KTF1', id: 'a' }), ev.report(7 * 60, { serial: 'KTF1', id: 'b' }), ev.report(30, { serial: 'GHOST', id: 'c' })], { dedupWindowMs: 8 * HOUR });
    expect(longer.engine.stats()).toMatchObject({ tooOld: 0, late: 1 });
  });
});

describe('engine: state is bounded by live entities, not by the length of the stream', () => {
  it('ok/200k events over 10 days: sizes after day 10 are those of day 2', { timeout: 120_000 }, () => {
    const N = 50;
    const devices = Array.from({ length: N }, (_, i) => device(`KTF${i}`, { cellIds: [`45008-2${String(i).padStart(8, '0')}`], ipPrefixes: [`10.${i}.0.0/16`] }));
    // Links (IMSI↔MSISDN) are kept 1 day here, so that the plateau is reached on day 2.
    const engine = createEngine({ registry: RegistryView.from(devices), config: detectionConfigSchema.parse({ subscriberLinkRetentionMs: 86_400_000 }) });
    const rand = rng(42);
    const sizesAt: ReturnType<typeof engine.sizes>[] = [];
    let n = 0;
    const push = (e: FgEvent): void => {
      n++;
      engine.push(e);
    };
    for (let day = 0; day < 10; day++) {
      // One minute-slot at a time, so arrival is in time order up to a few seconds.
      for (let slot = 0; slot < 1440; slot++) {
        const m = day * 1440 + slot;
        const id = (k: number): string => `d${day}s${slot}k${k}`;
        if (slot % 10 === 0) for (let i = 0; i < 5; i++) push(ev.report(m + i / 10, { id: id(100 + i), serial: `KTF${(slot / 10) % 10 + i * 10}`, sourceIp: `10.${(slot / 10) % 10 + i * 10}.${day}.1` }));
        if (slot % 360 === 7) {
          // Four reconnects a day per device, a new session id and address each time; half never send `down`.
          for (let i = 0; i < N; i++) {
            if (i % 2 === 0) push(ev.down(m, { id: id(200 + i), serial: `KTF${i}`, sourceIp: `10.${i}.${day}.${slot % 250}`, sessionId: `s${i}-${day}-${slot - 360}` }));
            push(ev.session(m + 0.5, { id: id(300 + i), serial: `KTF${i}`, sourceIp: `10.${i}.${day}.${(slot + 1) % 250}`, sessionId: `s${i}-${day}-${slot}`, cellIds: devices[i]?.cellIds }));
          }
        }
        // Residents (fixed) and visitors (new IMSIs every day) attach; some register IMS and pay.
        for (let k = 0; k < 10; k++) {
          const visitor = rand() < 0.3;
          const who = visitor ? 1_000_000 + day * 10_000 + Math.floor(rand() * 3000) : Math.floor(rand() * 500);
          push(ev.attach(m + k / 10, { id: id(k), cellId: `45008-2${String(who % N).padStart(8, '0')}`, imsi: imsi(who), msisdn: msisdn(who) }));
          if (k < 3) push(ev.ims(m + k / 10 + 0.01, { id: id(20 + k), imsi: imsi(who), cellId: `45008-2${String(who % N).padStart(8, '0')}`, ipsec: true }));
        }
        if (slot % 3 === 0) push(ev.payment(m + 0.7, { id: id(50), txId: `tx${day}-${slot}`, msisdn: msisdn(Math.floor(rand() * 500)) }));
      }
      if (day === 1 || day === 9) sizesAt.push({ ...engine.sizes() });
    }
    engine.finish();
    expect(n).toBeGreaterThan(200_000);
    const [d2, d10] = sizesAt as [ReturnType<typeof engine.sizes>, ReturnType<typeof engine.sizes>];
    expect(engine.stats()).toMatchObject({ duplicates: 0, tooOld: 0 });
    expect(d10.devices).toBe(N);
    // Subscribers: residents plus the visitors of the link retention (1 day here; cells for 2 h).
    expect(d10.subscribers).toBeLessThanOrEqual(d2.subscribers * 1.1);
    expect(d10.subscribers).toBeLessThan(5000);
    // Ids: about 6 hours of events (the dedup window); the reorder buffer: about 10 minutes of them.
    expect(d10.dedupIds).toBeLessThanOrEqual(d2.dedupIds * 1.1);
    expect(d10.dedupIds).toBeLessThan((n / 10 / 24) * 7);
    expect(d10.buffered).toBeLessThan((n / 10 / 1440) * 12);
    // Per-device session state: sessions that never sent `down` and old addresses age out.
    expect(d10.sessions).toBeLessThanOrEqual(d2.sessions);
    expect(d10.addresses).toBeLessThanOrEqual(d2.addresses);
  });
});

describe('engine: cell records and cell flags are bounded by the cells live recently', () => {
  it('fail/a fresh unregistered cell every 10 minutes for 3 days does not keep 432 cell records and flags; ok/each was flagged', () => {
    // Each cell serves two phones once (unregistered-cell flags it); flags lapse after an hour here.
    const engine = createEngine({ registry: RegistryView.from([device('KTF1', { cellIds: [C1] })]), config: detectionConfigSchema.parse({ rules: { 'payment-exposure': { flagRetentionMs: HOUR } } }) });
    let peak = { cells: 0, cellFlags: 0 };
    const cells = 3 * 24 * 6;
    for (let i = 0; i < cells; i++) {
      const cellId = `45008-9${String(i).padStart(8, '0')}`;
      for (let k = 0; k < 2; k++) engine.push(ev.attach(i * 10 + k, { id: `a${i}-${k}`, cellId, imsi: imsi(i * 2 + k) }));
      const s = engine.sizes();
      peak = { cells: Math.max(peak.cells, s.cells), cellFlags: Math.max(peak.cellFlags, s.cellFlags) };
    }
    engine.finish();
    expect(engine.alerts().filter((a) => a.rule === 'unregistered-cell')).toHaveLength(cells);
    // What the dedup window (6 h), the longest cell window (1 h), the flag retention (1 h) and
    // the hourly expiry hold: about 9 hours of cells, 54 of them.
    expect(peak.cells).toBeLessThanOrEqual(54);
    expect(peak.cellFlags).toBeLessThanOrEqual(54);
    expect(peak.cells).toBeGreaterThanOrEqual(36);
  });
});

describe('engine: registry changes with a time (live detection\'s registry poll)', () => {
  const OLD = { ipPrefixes: ['175.198.195.0/24'], siteLat: 37.5, siteLon: 127.0, expectedNeighbors: ['45008-9001', '45008-9002', '45008-9003'] };
  const NEW = { ipPrefixes: ['10.9.9.0/24'], siteLat: 35.1, siteLon: 129.0, expectedNeighbors: ['45008-7001', '45008-7002', '45008-7003'] };
  const unit = [device('KTF1', { cellIds: [C1], ...OLD })];
  // Reports every 30 s: the old line and site until 5 min, the new ones after the move at 5.25;
  // at 7 min one from the old line again (a clone, or the unit's credential used there).
  const stream: FgEvent[] = [];
  for (let m = 1; m <= 8; m += 0.5) {
    const before = m < 5.25 || m === 7;
    const ip = before ? '175.198.195.9' : '10.9.9.9';
    const nb = m < 5.25 ? OLD.expectedNeighbors : NEW.expectedNeighbors;
    stream.push(ev.report(m, { serial: 'KTF1', sourceIp: ip, cellIds: [C1], neighbors: nb, id: `r${m}` }));
  }
  const cfg = detectionConfigSchema.parse({ maxOutOfOrderMs: 2 * MIN });
  const summary = (alerts: Alert[]): string[] => alerts.map((a) => `${a.rule} ${a.ts} ${a.count}`);

  it('ok/a change given at any arrival point within the horizon gives the alerts of the same change as a registry.update event', () => {
    const offline = detect(unit, [...stream, ev.update(5.25, { serial: 'KTF1', ...NEW })].sort((a, b) => a.t - b.t), { maxOutOfOrderMs: 2 * MIN });
    expect(summary(offline.alerts)).toEqual([`source-ip-mismatch ${iso(7)} 1`]);
    let tried = 0;
    for (let k = 0; k <= stream.length; k++) {
      // Given before event k: past the horizon (newest event then more than 2 min after the
      // change) it takes effect at once (below), not this test's case.
      if (k > 0 && (stream[k - 1] as FgEvent).t - 2 * MIN > at(5.25)) break;
      const engine = createEngine({ registry: RegistryView.from(unit), config: cfg });
      stream.forEach((e, i) => {
        if (i === k) engine.registryChange(device('KTF1', { cellIds: [C1], ...NEW }), at(5.25));
        engine.push(e);
      });
      if (k === stream.length) engine.registryChange(device('KTF1', { cellIds: [C1], ...NEW }), at(5.25));
      engine.finish();
      expect(summary(engine.alerts()), `change given before event ${k}`).toEqual(summary(offline.alerts));
      tried++;
    }
    expect(tried).toBeGreaterThan(5);
  });

  it('fail/a change applied at arrival (the old behaviour) judges the held reports of the old line against the new one', () => {
    const engine = createEngine({ registry: RegistryView.from(unit), config: cfg });
    const view = RegistryView.from(unit);
    const eng2 = createEngine({ registry: view, config: cfg });
    for (const e of stream.slice(0, 9)) (engine.push(e), eng2.push(e)); // up to 5 min: 4.5..5 held
    engine.registryChange(device('KTF1', { cellIds: [C1], ...NEW }), at(5.25));
    view.put(device('KTF1', { cellIds: [C1], ...NEW }));
    expect(engine.sizes().registryChanges).toBe(1);
    for (const e of stream.slice(9)) (engine.push(e), eng2.push(e));
    engine.finish();
    eng2.finish();
    expect(engine.alerts().map((a) => a.ts)).toEqual([iso(7)]);
    expect(eng2.alerts().map((a) => `${a.rule} ${a.ts}`)).toEqual(expect.arrayContaining([`source-ip-mismatch ${iso(3)}`]));
  });

  it('ok/a change older than the watermark takes effect at once, after a held older one; equal times keep arrival order; a new serial at once', () => {
    const engine = createEngine({ registry: RegistryView.from(unit), config: cfg });
    const oldIp = (m: number, id: string): FgEvent => ev.report(m, { serial: 'KTF1', sourceIp: '175.198.195.9', id });
    engine.registryChange(device('KTF1', { cellIds: [C1], ...NEW }), at(5));
    engine.push(oldIp(1, 'a'));
    engine.push(oldIp(10, 'b')); // watermark 8: the report at 1 is processed; no event has reached 5
    expect(engine.sizes().registryChanges).toBe(1);
    engine.registryChange(device('KTF1', { cellIds: [C1], ...OLD }), at(6));
    expect(engine.sizes().registryChanges).toBe(0);
    // Two changes at one time (one poll): the later read wins for events at or after it.
    engine.registryChange(device('KTF1', { cellIds: [C1], ...NEW }), at(11));
    engine.registryChange(device('KTF1', { cellIds: [C1], ipPrefixes: ['192.0.2.0/24'] }), at(11));
    engine.registryChange(device('NEWU', { ipPrefixes: ['198.51.100.0/24'] }), at(30));
    expect(engine.sizes().registryChanges).toBe(2);
    engine.push(ev.report(10.5, { serial: 'NEWU', sourceIp: '198.51.100.1', id: 'n' }));
    engine.push(ev.report(11, { serial: 'KTF1', sourceIp: '192.0.2.9', id: 'c' }));
    engine.push(oldIp(12, 'd'));
    engine.finish();
    // At 10, the old line is the record again (5 then 6); at 11, 192.0.2.0/24; at 12 the old line is outside.
    expect(engine.alerts().map((a) => [a.rule, a.serial, a.ts, a.count])).toEqual([['source-ip-mismatch', 'KTF1', iso(12), 1]]);
  });
});

// Keep the kit's helpers honest: T0 is the start of the test day and `at` counts minutes.
it('ok/test-kit times', () => {
  expect(at(90)).toBe(T0 + 90 * MIN);
  expect(iso(DAY / MIN)).toBe('2025-08-06T00:00:00.000Z');
});
