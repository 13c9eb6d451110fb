import { describe, expect, it } from 'vitest';
import { detect, device, ev, iso } from '../test-kit.js';

const fleet = [
  device('KTF96', { cellIds: ['45008-200000096'], ipPrefixes: ['175.198.195.0/24', '2001:db8:96::/48'] }),
  device('KTF97', { cellIds: ['45008-200000097'] }),
];

describe('source-ip-mismatch', () => {
  it('ok/a session up from outside the registered prefixes: high, with the address and the prefixes', () => {
    const r = detect(fleet, [ev.session(3, { serial: 'KTF96', sourceIp: '211.36.1.9', id: 'up1' }), ev.report(8, { serial: 'KTF96', sourceIp: '211.36.1.9' })]);
    const a = r.one('source-ip-mismatch');
    expect(a).toMatchObject({ rule: 'source-ip-mismatch', severity: 'high', serial: 'KTF96', ts: iso(3), count: 2, lastSeen: iso(8) });
    expect(a.evidence).toMatchObject({ sourceIp: '211.36.1.9', ipPrefixes: ['175.198.195.0/24', '2001:db8:96::/48'], event: 'femto.session', eventId: 'up1' });
  });

  it('ok/an IPv6 address outside the IPv6 prefix, and a report alone', () => {
    const r = detect(fleet, [ev.report(1, { serial: 'KTF96', sourceIp: '2001:db8:97::1' })]);
    expect(r.one('source-ip-mismatch')).toMatchObject({ ts: iso(1), evidence: { event: 'femto.report' } });
  });

  it('ok/after registry.update narrows the prefixes, the old line no longer matches', () => {
    const r = detect(fleet, [
      ev.session(1, { serial: 'KTF96', sourceIp: '175.198.195.7' }),
      ev.update(2, { serial: 'KTF96', ipPrefixes: ['175.198.200.0/24'] }),
      ev.session(3, { serial: 'KTF96', sourceIp: '175.198.195.7' }),
    ]);
    expect(r.one('source-ip-mismatch').ts).toBe(iso(3));
  });

  it('fail/addresses inside the prefixes (v4 and v6), a reboot to another address in the prefix', () => {
    const r = detect(fleet, [
      ev.session(1, { serial: 'KTF96', sourceIp: '175.198.195.7' }),
      ev.down(2, { serial: 'KTF96', sourceIp: '175.198.195.7' }),
      ev.session(3, { serial: 'KTF96', sourceIp: '175.198.195.200' }),
      ev.report(4, { serial: 'KTF96', sourceIp: '2001:db8:96:1::5' }),
      ev.report(5, { serial: 'KTF96' }),
    ]);
    expect(r.alerts).toEqual([]);
  });

  it('fail/a device without registered prefixes, a session down from elsewhere, an unregistered serial', () => {
    const r = detect(fleet, [
      ev.session(1, { serial: 'KTF97', sourceIp: '8.8.8.8' }),
      ev.down(2, { serial: 'KTF96', sourceIp: '211.36.1.9' }),
      ev.session(3, { serial: 'NOPE', sourceIp: '8.8.8.8' }),
    ]);
    expect(r.of('source-ip-mismatch')).toEqual([]);
  });

  it('fail/a relocation announced by registry.update before the first session from the new line', () => {
    const r = detect(fleet, [ev.update(1, { serial: 'KTF96', ipPrefixes: ['121.160.0.0/16'] }), ev.session(2, { serial: 'KTF96', sourceIp: '121.160.8.8' })]);
    expect(r.alerts).toEqual([]);
  });
});
