import { describe, expect, it } from 'vitest';
import type { FgEvent } from '../../events/index.js';
import type { DeviceStatus } from '../../registry/index.js';
import { detect, device, ev, iso } from '../test-kit.js';

/** KTF2 reports every 5 minutes from `from` to `to` (inclusive): it keeps event time moving. */
const heartbeat = (from: number, to: number): FgEvent[] => {
  const out: FgEvent[] = [];
  for (let m = from; m <= to; m += 5) out.push(ev.report(m, { serial: 'KTF2' }));
  return out;
};
const fleet = (status: DeviceStatus = 'active') => [device('KTF1', { status }), device('KTF2')];

describe('idle-device', () => {
  it('ok/an active device silent for longer than idleMs: low, with when it was last seen', () => {
    const r = detect(fleet(), [ev.report(0, { serial: 'KTF1' }), ...heartbeat(0, 1500)]);
    const a = r.one('idle-device');
    // Idleness is checked every 10 minutes of event time: 24 h passed at 1440, the check at 1450 sees it.
    expect(a).toMatchObject({ rule: 'idle-device', severity: 'low', serial: 'KTF1', ts: iso(1450), count: 1 });
    expect(a.evidence).toMatchObject({ lastSeen: iso(0), idleHours: 24 });
  });

  it('ok/at the end of a stream, even between two periodic checks', () => {
    const r = detect(fleet(), [ev.report(0, { serial: 'KTF1' }), ...heartbeat(0, 1445)]);
    expect(r.one('idle-device')).toMatchObject({ serial: 'KTF1', ts: iso(1445), evidence: { lastSeen: iso(0) } });
  });

  it('ok/a device never seen is idle counted from the start of the stream', () => {
    const r = detect(fleet(), heartbeat(30, 30 + 1450));
    expect(r.one('idle-device')).toMatchObject({ serial: 'KTF1', evidence: { lastSeen: iso(30) } });
  });

  it('fail/devices that are not active (provisioned, suspended, decommissioned, lost) are not idle', () => {
    for (const status of ['provisioned', 'suspended', 'decommissioned', 'lost'] as const) {
      expect(detect(fleet(status), heartbeat(0, 3000)).of('idle-device'), status).toEqual([]);
    }
  });

  it('fail/a device seen within the limit; ok/idleMs is read', () => {
    const events = [ev.report(0, { serial: 'KTF1' }), ev.report(1000, { serial: 'KTF1' }), ...heartbeat(0, 2000)];
    expect(detect(fleet(), events).of('idle-device')).toEqual([]);
    expect(detect(fleet(), events, { rules: { 'idle-device': { idleMs: 12 * 3_600_000 } } }).one('idle-device').evidence).toMatchObject({ lastSeen: iso(0) });
  });

  it('fail/a device that comes back is not raised again for the same silence', () => {
    const r = detect(fleet(), [ev.report(0, { serial: 'KTF1' }), ...heartbeat(0, 1500), ev.report(1501, { serial: 'KTF1' }), ...heartbeat(1505, 2000)]);
    expect(r.one('idle-device')).toMatchObject({ count: 1 });
  });

  it('ok/devices put in the registry during the stream, and several silent at once, are all raised', () => {
    const three = [device('KTF1'), device('KTF2'), device('KTF3')];
    // KTF9 joins at 10 and is never seen; KTF3 and KTF1 go silent after 0 and 5: all idle at the 1450 check.
    const events = [ev.report(0, { serial: 'KTF3' }), ev.report(5, { serial: 'KTF1' }), ev.update(10, { serial: 'KTF9', status: 'active' }), ...heartbeat(0, 1500)];
    const raised = detect(three, events).of('idle-device');
    expect(raised.map((a) => [a.serial, a.ts]).sort()).toEqual([
      ['KTF1', iso(1450)],
      ['KTF3', iso(1450)],
      ['KTF9', iso(1450)],
    ]);
  });

  it('ok/a device suspended while silent is raised once it is active again, not before', () => {
    const events = [ev.report(0, { serial: 'KTF1' }), ev.update(1, { serial: 'KTF1', status: 'suspended' }), ...heartbeat(0, 1500), ev.update(1502, { serial: 'KTF1', status: 'active' }), ...heartbeat(1505, 1530)];
    expect(detect(fleet(), events).one('idle-device')).toMatchObject({ serial: 'KTF1', ts: iso(1510), evidence: { lastSeen: iso(0) } });
  });
});
