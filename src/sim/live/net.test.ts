import { describe, expect, it } from 'vitest';
import { certsOnlyPkcs7 } from '../../pki/index.js';
import { certsFromPkcs7, LoopbackMap, TimeMap, toPem } from './net.js';

describe('LoopbackMap', () => {
  it('ok/gives each simulated /24 its own loopback /24, the same for an address and its prefix', () => {
    const m = new LoopbackMap();
    expect(m.prefix('175.0.3.0/24')).toBe('127.0.1.0/24');
    expect(m.address('175.0.3.20')).toBe('127.0.1.20');
    expect(m.address('211.36.140.77')).toBe('127.0.2.77');
    expect(m.prefix('176.0.3.0/24')).toBe('127.0.3.0/24');
    expect(m.address('175.0.3.21')).toBe('127.0.1.21');
    const n = new LoopbackMap();
    for (let i = 0; i < 300; i++) n.prefix(`10.${i >> 8}.${i & 255}.0/24`);
    // the 257th network is the first past 127.0.255.0/24
    expect(n.prefix('10.1.0.0/24')).toBe('127.1.1.0/24');
    expect(n.address('10.1.0.9')).toBe('127.1.1.9');
  });

  it('fail/leaves anything that is not a dotted IPv4 address or /24 alone', () => {
    const m = new LoopbackMap();
    expect(m.address('2001:db8::1')).toBe('2001:db8::1');
    expect(m.prefix('10.0.0.0/16')).toBe('10.0.0.0/16');
  });
});

describe('TimeMap', () => {
  it('ok/compresses simulated time onto event time at the speed-up, monotonically', () => {
    const t = new TimeMap(1_000_000, 5_000, 60);
    expect(t.event(1_000_000)).toBe(5_000);
    expect(t.event(1_000_000 + 3_600_000)).toBe(5_000 + 60_000);
    expect(t.event(1_000_059)).toBe(5_000);
    expect(t.simulated(65_000)).toBe(1_000_000 + 3_600_000);
  });
});

describe('certsFromPkcs7', () => {
  it('ok/reads back every certificate of a certs-only PKCS#7, whatever their length encoding', () => {
    const small = Buffer.from([0x30, 0x03, 0x02, 0x01, 0x07]);
    const big = Buffer.concat([Buffer.from([0x30, 0x82, 0x01, 0x2c]), Buffer.alloc(300, 1)]);
    const got = certsFromPkcs7(certsOnlyPkcs7([big, small]).toString('base64'));
    expect(got.map((b) => b.toString('hex')).sort()).toEqual([small, big].map((b) => b.toString('hex')).sort());
  });

  it('fail/a truncated or empty reply is an error naming the EST reply', () => {
    const der = certsOnlyPkcs7([Buffer.from([0x30, 0x00])]);
    expect(() => certsFromPkcs7(der.subarray(0, der.length - 3).toString('base64'))).toThrow(/EST reply: truncated DER/);
    expect(() => certsFromPkcs7('')).toThrow(/EST reply/);
  });

  it('ok/toPem wraps at 64 characters', () => {
    const pem = toPem(Buffer.alloc(100, 7));
    expect(pem.split('\n').slice(1, -2).every((l) => l.length <= 64)).toBe(true);
    expect(pem).toMatch(/^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----\n$/);
  });
});
