import { describe, expect, it } from 'vitest';
import type { DeviceStatus } from '../../registry/index.js';
import { detect, device, ev, iso } from '../test-kit.js';

const CELL = '45008-200000122';
const dev = (status: DeviceStatus) => device('KTF122', { status, cellIds: [CELL], ipPrefixes: ['175.198.0.0/16'] });
const up = (minutes: number) => ev.session(minutes, { serial: 'KTF122', sourceIp: '175.198.3.4', cellIds: [CELL], id: `s${minutes}` });

describe('inactive-device', () => {
  const cases: [DeviceStatus, string][] = [
    ['decommissioned', 'critical'],
    ['lost', 'critical'],
    ['suspended', 'high'],
    ['provisioned', 'medium'],
  ];
  for (const [status, severity] of cases) {
    it(`ok/a ${status} device bringing a session up is ${severity}`, () => {
      const r = detect([dev(status)], [up(7)]);
      const a = r.one('inactive-device');
      expect(a).toMatchObject({ rule: 'inactive-device', severity, serial: 'KTF122', ts: iso(7) });
      expect(a.evidence).toMatchObject({ status, event: 'femto.session', sourceIp: '175.198.3.4', cellIds: [CELL], eventId: 's7' });
    });
  }

  it('ok/a report from a lost device fires too and folds with the session', () => {
    const r = detect([dev('lost')], [ev.report(1, { serial: 'KTF122' }), up(2)]);
    expect(r.one('inactive-device')).toMatchObject({ ts: iso(1), count: 2, lastSeen: iso(2), evidence: { event: 'femto.report' } });
  });

  it('ok/per-status severities come from config', () => {
    const rules = { 'inactive-device': { severity: 'high', suspendedSeverity: 'low', provisionedSeverity: 'critical' } } as const;
    expect(detect([dev('lost')], [up(1)], { rules }).one('inactive-device').severity).toBe('high');
    expect(detect([dev('suspended')], [up(1)], { rules }).one('inactive-device').severity).toBe('low');
    expect(detect([dev('provisioned')], [up(1)], { rules }).one('inactive-device').severity).toBe('critical');
  });

  it('ok/a device made lost by registry.update is caught at its next session, and the severity rises', () => {
    const r = detect([dev('provisioned')], [up(1), ev.update(2, { serial: 'KTF122', status: 'lost' }), up(3)]);
    expect(r.one('inactive-device')).toMatchObject({ severity: 'critical', ts: iso(1), lastSeen: iso(3), count: 2, evidence: { status: 'lost' } });
  });

  it('fail/an active device, a session down, and an unregistered serial raise no inactive-device', () => {
    expect(detect([dev('active')], [up(1), ev.report(2, { serial: 'KTF122' })]).alerts).toEqual([]);
    expect(detect([dev('lost')], [ev.down(1, { serial: 'KTF122', sourceIp: '175.198.3.4' })]).alerts).toEqual([]);
    expect(detect([dev('lost')], [ev.session(1, { serial: 'OTHER', sourceIp: '1.2.3.4' })]).of('inactive-device')).toEqual([]);
  });

  it('fail/a device reactivated by registry.update is no longer inactive', () => {
    const r = detect([dev('suspended')], [ev.update(1, { serial: 'KTF122', status: 'active' }), up(2)]);
    expect(r.of('inactive-device')).toEqual([]);
  });
});
