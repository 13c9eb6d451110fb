import { describe, expect, it } from 'vitest';
import { detect, device, ev, iso } from '../test-kit.js';

// Admission's femto.session carries endpointRetiredAt when the gateway address is past its
// grace period: the rule learns the retirement from the event, with no config entry.
const OLD = '127.0.0.2:9443';
const fleet = [device('KTF1')];
const up = (minutes: number, f: Record<string, unknown>) => ev.session(minutes, { serial: 'KTF1', sourceIp: '175.198.195.7', endpoint: OLD, id: `u${minutes}`, ...f });

describe('stale-endpoint learned from the rotation state (endpointRetiredAt)', () => {
  it('ok/a session that says its endpoint went stale raises stale-endpoint with that time', () => {
    const a = detect(fleet, [up(45, { endpointRetiredAt: iso(30) })]).one('stale-endpoint');
    expect(a.evidence).toMatchObject({ endpoint: OLD, retiredAt: iso(30), eventId: 'u45' });
  });

  it('fail/a retirement time after the session, an unparseable one, or a down', () => {
    expect(detect(fleet, [up(45, { endpointRetiredAt: iso(50) })]).alerts).toEqual([]);
    expect(detect(fleet, [up(45, { endpointRetiredAt: 'yesterday' })]).alerts).toEqual([]);
    expect(detect(fleet, [ev.down(45, { serial: 'KTF1', sourceIp: '175.198.195.7', endpoint: OLD, endpointRetiredAt: iso(30) })]).alerts).toEqual([]);
  });

  it('fail/the configured retirement wins over what an event claims', () => {
    const cfg = { rules: { 'stale-endpoint': { retired: [{ endpoint: OLD, retiredAt: iso(60) }] } } };
    expect(detect(fleet, [up(45, { endpointRetiredAt: iso(30) })], cfg).alerts).toEqual([]);
  });
});
