import { describe, expect, it } from 'vitest';
import { detectionConfigSchema } from '../config.js';
import { detect, device, ev, iso } from '../test-kit.js';

const OLD = 'segw1.femto.example.net:500';
const NEW = 'segw2.femto.example.net:4500';
const fleet = [device('KTF1', { cellIds: ['45008-200000001'], ipPrefixes: ['175.198.195.0/24'] })];
const retired = { rules: { 'stale-endpoint': { retired: [{ endpoint: OLD, retiredAt: '2025-08-05T09:30:00+09:00' }] } } };
const up = (minutes: number, endpoint: string) => ev.session(minutes, { serial: 'KTF1', sourceIp: '175.198.195.7', endpoint, id: `u${minutes}` });

describe('stale-endpoint', () => {
  it('ok/a session up to a gateway address after it was retired: high, with the endpoint and when it was retired', () => {
    const r = detect(fleet, [up(20, NEW), up(45, OLD), up(50, OLD)], retired);
    const a = r.one('stale-endpoint');
    expect(a).toMatchObject({ rule: 'stale-endpoint', severity: 'high', serial: 'KTF1', ts: iso(45), count: 2 });
    expect(a.evidence).toMatchObject({ endpoint: OLD, retiredAt: iso(30), sourceIp: '175.198.195.7', eventId: 'u45' });
  });

  it('ok/the summary quotes the serial and the endpoint', () => {
    const a = detect(fleet, [up(45, OLD)], retired).one('stale-endpoint');
    expect(a.summary).toBe(`"KTF1" connected to "${OLD}", a gateway address retired at ${iso(30)}: a live device would have learned the new address; this one is replaying old configuration.`);
  });

  it('fail/the retired address before its retirement time, the current address, a session down', () => {
    const r = detect(fleet, [up(10, OLD), up(40, NEW), ev.down(41, { serial: 'KTF1', sourceIp: '175.198.195.7', endpoint: OLD })], retired);
    expect(r.alerts).toEqual([]);
  });

  it('fail/with no retired endpoints configured nothing is stale', () => {
    expect(detect(fleet, [up(45, OLD)]).alerts).toEqual([]);
  });

  it('fail/a session that names no endpoint', () => {
    expect(detect(fleet, [ev.session(45, { serial: 'KTF1', sourceIp: '175.198.195.7' })], retired).alerts).toEqual([]);
  });
});

describe('stale-endpoint config', () => {
  it('fail/a retiredAt that is not an RFC 3339 time is refused when the config is read (it would disable the check)', () => {
    for (const retiredAt of ['yesterday', '2025-08-05T09:30:00', '']) {
      const r = detectionConfigSchema.safeParse({ rules: { 'stale-endpoint': { retired: [{ endpoint: OLD, retiredAt }] } } });
      expect(r.success, retiredAt).toBe(false);
      expect(JSON.stringify(r.error?.issues)).toContain('retiredAt');
    }
  });
});
