import { describe, expect, it } from 'vitest';
import { detect, device, ev, iso } from '../test-kit.js';

const fleet = [device('KTF1', { cellIds: ['45008-200000001'], ipPrefixes: ['175.198.195.0/24'] })];

describe('unregistered-device', () => {
  it('ok/a session up from a serial not in the registry raises a critical alert at that event', () => {
    const r = detect(fleet, [ev.session(5, { serial: 'ROGUE9', sourceIp: '211.36.1.9', id: 'e1' }), ev.report(9, { serial: 'ROGUE9', sourceIp: '211.36.1.9' })]);
    const a = r.one('unregistered-device');
    expect(a).toMatchObject({ rule: 'unregistered-device', severity: 'critical', serial: 'ROGUE9', ts: iso(5), count: 2, lastSeen: iso(9) });
    expect(a.evidence).toMatchObject({ event: 'femto.session', sourceIp: '211.36.1.9', eventId: 'e1' });
    expect(a.summary).toContain('ROGUE9');
  });

  it('ok/a report alone is enough', () => {
    const r = detect(fleet, [ev.report(1, { serial: 'ROGUE9' })]);
    expect(r.one('unregistered-device')).toMatchObject({ ts: iso(1), evidence: { event: 'femto.report', sourceIp: null } });
  });

  it('ok/the severity comes from config', () => {
    const r = detect(fleet, [ev.report(1, { serial: 'ROGUE9' })], { rules: { 'unregistered-device': { severity: 'medium' } } });
    expect(r.one('unregistered-device').severity).toBe('medium');
  });

  it('fail/registered serials and session downs raise nothing', () => {
    const r = detect(fleet, [
      ev.session(1, { serial: 'KTF1', sourceIp: '175.198.195.7', cellIds: ['45008-200000001'] }),
      ev.report(2, { serial: 'KTF1', sourceIp: '175.198.195.7' }),
      ev.down(3, { serial: 'GHOST', sourceIp: '211.36.1.9' }),
    ]);
    expect(r.alerts).toEqual([]);
  });

  it('fail/a device added by registry.update before it connects is registered', () => {
    const r = detect(fleet, [ev.update(1, { serial: 'KTF2', status: 'active' }), ev.session(2, { serial: 'KTF2', sourceIp: '10.0.0.1' })]);
    expect(r.of('unregistered-device')).toEqual([]);
  });
});
