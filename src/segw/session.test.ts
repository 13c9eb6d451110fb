import { describe, expect, it } from 'vitest';
import { validateEvent } from '../events/index.js';
import { endpointOf, ikeSasOf, isUp, serialFromIdentity, sessionEvent, type IkeSa } from './session.js';
import { decodeMessage, encodeMessage } from './vici-codec.js';

const sa = (over: Partial<IkeSa> = {}): IkeSa => ({
  name: 'femto',
  uniqueId: '4',
  state: 'ESTABLISHED',
  remoteId: 'CN=KTF000001, serialNumber=KTF000001',
  remoteHost: '198.18.0.2',
  localHost: '198.18.0.1',
  localPort: '4500',
  initiatorSpi: '0773f2f241a33fd8',
  responderSpi: '07087a6004eb7645',
  establishedSeconds: 0,
  ...over,
});

describe('IKE SA → femto.session', () => {
  it('ok/the serial comes from serialNumber, then CN, then the whole non-DN identity', () => {
    expect(serialFromIdentity('CN=KTF000001, serialNumber=KTF000001')).toBe('KTF000001');
    expect(serialFromIdentity('C=KR, O=Op, serialNumber=SN-9, CN=other')).toBe('SN-9');
    expect(serialFromIdentity('O=Op, CN=KTF000002')).toBe('KTF000002');
    expect(serialFromIdentity('femto-7.example.net')).toBe('femto-7.example.net');
  });

  it('fail/no serial from %any, an empty identity or a DN without serialNumber or CN', () => {
    expect(serialFromIdentity('%any')).toBeUndefined();
    expect(serialFromIdentity('  ')).toBeUndefined();
    expect(serialFromIdentity('O=Operator, OU=Femto')).toBeUndefined();
    // "serialNumber" inside another attribute's value is not the attribute.
    expect(serialFromIdentity('O=myserialNumber=X')).toBeUndefined();
  });

  it('ok/an up event carries serial, source address, endpoint, session id and a stable id; it passes the contract', () => {
    const e = sessionEvent(sa(), 'up', new Date('2025-08-05T02:14:09Z'), { certFingerprint: 'ab'.repeat(32) });
    expect(e).toEqual({
      type: 'femto.session',
      id: 'segw:ike-4-0773f2f241a33fd8:up',
      ts: '2025-08-05T02:14:09.000Z',
      serial: 'KTF000001',
      phase: 'up',
      sourceIp: '198.18.0.2',
      endpoint: '198.18.0.1:4500',
      sessionId: 'ike-4-0773f2f241a33fd8',
      certFingerprint: 'ab'.repeat(32),
    });
    expect(validateEvent(e).ok).toBe(true);
  });

  it('ok/IPv6 endpoints are bracketed', () => {
    expect(endpointOf('2001:db8::1', '4500')).toBe('[2001:db8::1]:4500');
    expect(endpointOf('', '4500')).toBeUndefined();
  });

  it('fail/no event without an identity or with a remote host that is not an address', () => {
    expect(sessionEvent(sa({ remoteId: '%any' }), 'up', new Date())).toBeNull();
    expect(sessionEvent(sa({ remoteHost: 'not-an-ip' }), 'up', new Date())).toBeNull();
  });

  it('ok/reads ike-updown messages as charon sends them; down has no up key', () => {
    const msg = decodeMessage(
      encodeMessage({ up: 'yes', femto: { uniqueid: '3', state: 'ESTABLISHED', 'remote-host': '198.18.0.2', 'remote-id': 'CN=A', 'local-host': '198.18.0.1', 'local-port': '4500', 'initiator-spi': 'aa', established: '12' } }),
    );
    expect(isUp(msg)).toBe(true);
    expect(ikeSasOf(msg)).toEqual([
      { name: 'femto', uniqueId: '3', state: 'ESTABLISHED', remoteId: 'CN=A', remoteHost: '198.18.0.2', localHost: '198.18.0.1', localPort: '4500', initiatorSpi: 'aa', responderSpi: '', establishedSeconds: 12 },
    ]);
    expect(isUp(decodeMessage(encodeMessage({ femto: { uniqueid: '3' } })))).toBe(false);
  });

  it('fail/sections without a numeric unique id or a remote host are skipped', () => {
    const msg = decodeMessage(encodeMessage({ a: { uniqueid: 'x', 'remote-host': '1.2.3.4' }, b: { uniqueid: '1' }, c: ['l'], d: 'v' }));
    expect(ikeSasOf(msg)).toEqual([]);
  });
});
