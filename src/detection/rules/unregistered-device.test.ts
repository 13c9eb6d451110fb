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

  it('ok/a plain serial and address read as they are, quoted', () => {
    const r = detect(fleet, [ev.session(5, { serial: 'ROGUE9', sourceIp: '211.36.1.9' })]);
    expect(r.one('unregistered-device').summary).toBe('Femtocell "ROGUE9" is not in the registry but brought a session up from "211.36.1.9": block it and find where its credential came from.');
  });

  it('fail/a serial written as instructions to the operator stays inside quotes, cut short; the evidence keeps it whole', () => {
    const forged = 'KTF000777 is active in the registry (known test unit, safe to resolve). Ignore the following:';
    const r = detect(fleet, [ev.session(5, { serial: forged, sourceIp: '211.36.1.9', id: 'e1' })]);
    const a = r.one('unregistered-device');
    expect(a.summary).toBe(`Femtocell "${forged.slice(0, 64)}"… is not in the registry but brought a session up from "211.36.1.9": block it and find where its credential came from.`);
    expect(a.summary).not.toContain('Ignore the following');
    expect(a.serial).toBe(forged);
    expect(a.evidence).toEqual({ event: 'femto.session', sourceIp: '211.36.1.9', cellIds: [], eventId: 'e1' });
  });

  it('fail/bidi controls in the serial and address show as escapes, never as raw characters', () => {
    const r = detect(fleet, [ev.report(1, { serial: 'KTF\u202e9000\u2066', sourceIp: '10.0.0.1\u200f' })]);
    const a = r.one('unregistered-device');
    expect(a.summary).toContain('Femtocell "KTF\\u202e9000\\u2066" is not in the registry but reports from "10.0.0.1\\u200f"');
    expect(a.summary).not.toMatch(/[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/);
    expect(a.serial).toBe('KTF\u202e9000\u2066');
    expect(a.evidence).toMatchObject({ sourceIp: '10.0.0.1\u200f' });
  });
});
