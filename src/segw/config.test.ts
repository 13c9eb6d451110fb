import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/index.js';

describe('config segw section', () => {
  it('ok/off by default; on with a VICI socket path', () => {
    expect(loadConfig({ env: {} }).segw).toEqual({ enabled: false });
    expect(loadConfig({ env: {}, flags: { segw: { enabled: true, vici: '/var/run/charon.vici' } } }).segw).toEqual({ enabled: true, vici: '/var/run/charon.vici' });
  });

  it('fail/enabled without a socket path, or an unknown key, is a config error', () => {
    expect(() => loadConfig({ env: {}, flags: { segw: { enabled: true } } })).toThrow(/segw\.vici|vici/);
    expect(() => loadConfig({ env: {}, flags: { segw: { enabled: true, vici: '/x', socket: '/y' } } })).toThrow();
    expect(() => loadConfig({ env: {}, flags: { segw: { enabled: 'yes' } } })).toThrow();
  });
});
