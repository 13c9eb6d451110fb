import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, publicBaseUrl } from './load.js';

describe('config', () => {
  it('ok/defaults', () => {
    const c = loadConfig({ env: {} });
    expect(c.http).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(c.https).toEqual({ host: '127.0.0.1', port: 8443 });
    expect(c.ca.deviceValidityDays).toBe(30);
    expect(c.dataDir.endsWith('femtoguard-data')).toBe(true);
    expect(Object.isFrozen(c) && Object.isFrozen(c.ca)).toBe(true);
  });

  it('ok/precedence is defaults < file < env < flags', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ http: '0.0.0.0:1000', ca: { deviceValidityDays: 10 }, ocsp: { nextUpdateSeconds: 60 } }));
    const c = loadConfig({ file, env: { FEMTOGUARD_HTTP: '127.0.0.2:2000', FEMTOGUARD_DEVICE_VALIDITY_DAYS: '20' }, flags: { 'ca.deviceValidityDays': 25 } });
    expect(c.http).toEqual({ host: '127.0.0.2', port: 2000 });
    expect(c.ca.deviceValidityDays).toBe(25);
    expect(c.ocsp.nextUpdateSeconds).toBe(60);
    expect(publicBaseUrl(c)).toBe('http://127.0.0.2:2000');
  });

  it('ok/an environment value made of digits stays text where the setting is text', () => {
    const c = loadConfig({ env: { FEMTOGUARD_CA_NAME: '12345', FEMTOGUARD_DATA_DIR: '2026', FEMTOGUARD_DEVICE_VALIDITY_DAYS: '30' } });
    expect(c.ca.name).toBe('12345');
    expect(c.dataDir).toMatch(/2026$/);
    expect(c.ca.deviceValidityDays).toBe(30);
  });

  it('fail/device certificates above one year are refused', () => {
    expect(() => loadConfig({ env: { FEMTOGUARD_DEVICE_VALIDITY_DAYS: '3650' } })).toThrow(/ca.deviceValidityDays: device certificates above one year are refused/);
  });

  it('fail/bad listen address, unknown key and malformed file name what is wrong', () => {
    expect(() => loadConfig({ env: {}, flags: { http: 'localhost' } })).toThrow(/http: expected HOST:PORT/);
    expect(() => loadConfig({ env: {}, flags: { http: '1.2.3.4:70000' } })).toThrow(/port 70000 is out of range/);
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'u.json'), JSON.stringify({ colour: 'red' }));
    expect(() => loadConfig({ file: join(dir, 'u.json'), env: {} })).toThrow(/colour/);
    // A misspelt key inside a section too: it would leave the setting it meant at its default.
    for (const [section, key] of [['alerts', 'includeIdentifier'], ['est', 'maxFailedAtempts'], ['api', 'maxBody'], ['live', 'quietFlush'], ['events', 'retention'], ['ca', 'nam'], ['ocsp', 'next'], ['crl', 'next']]) {
      writeFileSync(join(dir, 'n.json'), JSON.stringify({ [section as string]: { [key as string]: 1 } }));
      expect(() => loadConfig({ file: join(dir, 'n.json'), env: {} }), `${section}.${key}`).toThrow(new RegExp(`${section}.*${key}|${key}.*${section}`));
    }
    writeFileSync(join(dir, 'm.json'), '{ not json');
    expect(() => loadConfig({ file: join(dir, 'm.json'), env: {} })).toThrow(/is not a JSON object/);
    expect(() => loadConfig({ file: join(dir, 'missing.json'), env: {} })).toThrow(/cannot read config file/);
  });
});
