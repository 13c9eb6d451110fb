import { describe, expect, it } from 'vitest';
import type { Truth } from '../types.js';
import { liveTruth, liveUrls } from './driver.js';
import { TimeMap } from './net.js';

describe('liveUrls', () => {
  it('ok/takes the API URL and derives the TLS listener on port 8443 of the same host unless given', () => {
    const a = liveUrls('http://127.0.0.1:8080');
    expect(a.est.href).toBe('https://127.0.0.1:8443/');
    expect(liveUrls('https://[::1]:9000').est.href).toBe('https://[::1]:8443/');
    expect(liveUrls('http://localhost:1', 'https://127.0.0.2:2/').est.href).toBe('https://127.0.0.2:2/');
  });

  it('fail/a server on another machine is a usage error: the units connect from loopback addresses and trust a CA fetched from the target', () => {
    expect(() => liveUrls('http://192.0.2.10:8080')).toThrow(/--target http:\/\/192.0.2.10:8080 is not on this machine/);
    expect(() => liveUrls('http://127.0.0.1:8080', 'https://femto.example.net:8443')).toThrow(/--est https:\/\/femto.example.net:8443 is not on this machine/);
  });

  it('fail/a string that is not a URL, or the wrong scheme, is a usage error naming the flag', () => {
    expect(() => liveUrls('ftp://127.0.0.1:21')).toThrow(/--target ftp:\/\/127.0.0.1:21 must be http:\/\/ or https:\/\//);
    expect(() => liveUrls('not a url')).toThrow(/--target "not a url" is not a URL/);
    expect(() => liveUrls('http://127.0.0.1:1', 'http://127.0.0.1:2')).toThrow(/--est http:\/\/127.0.0.1:2 must be https:\/\//);
  });
});

describe('liveTruth', () => {
  it('ok/moves every rogue window to event time and leaves the rest of the truth alone', () => {
    const start = Date.parse('2025-08-04T03:00:00Z');
    const truth = { seed: 1, rogues: [{ name: 'clone', serials: ['S'], cellIds: ['C'], start: '2025-08-04T04:00:00.000Z', end: '2025-08-04T05:00:00.000Z' }], fraudTx: ['t'] } as unknown as Truth;
    const t = liveTruth(truth, new TimeMap(start, Date.parse('2026-01-01T00:00:00Z'), 60));
    expect(t.rogues[0]).toMatchObject({ start: '2026-01-01T00:01:00.000Z', end: '2026-01-01T00:02:00.000Z' });
    expect(t.fraudTx).toEqual(['t']);
    expect(truth.rogues[0]?.start).toBe('2025-08-04T04:00:00.000Z');
  });
});
