/**
 * `femtoguard audit` on certificates openssl makes wrong on purpose: weak keys (RSA-1024,
 * P-192, secp256k1, exponent 3), SHA-1 and MD5 signatures, a CA flag or the wrong EKU on a
 * device certificate, lifetimes beyond policy, expired and expiring certificates, and CA
 * certificates with weak keys, bad signatures, path length and key usage mistakes.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditReport } from '../../src/audit/index.js';
import { AuditFleet, findingIds, findingOf, findingsOf, runAuditCli, type FixtureCert } from '../helpers/audit-fleet.js';
import { requireTool } from '../helpers/run.js';

const dirs: string[] = [];
function newFleet(): AuditFleet {
  const dir = mkdtempSync(join(tmpdir(), 'fg-audit-crypto-'));
  dirs.push(dir);
  return new AuditFleet(dir);
}
beforeAll(() => requireTool('openssl', 'openssl'));
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('audit: keys, signatures and the device profile', () => {
  let report: AuditReport;
  const fp: Record<string, string> = {};
  beforeAll(async () => {
    const f = newFleet();
    const { issuing } = await f.ca();
    const make = async (serial: string, o: Parameters<AuditFleet['device']>[2]): Promise<void> => {
      fp[serial] = (await f.device(serial, issuing, o)).fingerprint;
    };
    await make('RSA1024', { key: 'RSA-1024' });
    await make('P192', { key: 'P-192' });
    await make('K1', { key: 'secp256k1' });
    await make('E3', { key: 'RSA-2048-e3' });
    await make('SHA1', { md: 'sha1' });
    await make('CAFLAG', { profile: 'device-ca' });
    await make('SERVER', { profile: 'device-server-eku' });
    await make('NOEKU', { profile: 'device-no-eku' });
    await make('FINE', { key: 'P-384' });
    // MD5 takes an RSA issuer: a self-signed RSA certificate named for the device.
    fp.MD5 = (await f.cert({ subject: '/serialNumber=MD5/CN=MD5', san: 'MD5', key: 'RSA-2048', md: 'md5', issuer: 'self', profile: 'device', from: '2025-07-20T00:00:00Z', until: '2025-08-19T00:00:00Z' })).fingerprint;
    // An expired weak certificate authenticates nothing: not flagged.
    fp.OLDWEAK = (await f.device('OLDWEAK', issuing, { key: 'RSA-1024', from: '2025-01-01T00:00:00Z', until: '2025-01-31T00:00:00Z' })).fingerprint;
    const inv = f.inventory(Object.keys(fp).map((serial) => ({ serial, status: 'active' as const, certs: [fp[serial] as string] })));
    const r = await runAuditCli(f.dir, ['--inventory', inv, '--certs', f.certsDir]);
    expect(r.status, r.stderr).toBe(0);
    report = r.report;
  });

  it('fail/RSA below 2048 and curves below P-256 are high; secp256k1 and exponent 3 are medium', () => {
    const high = findingOf(report, 'weak-key', 'high');
    expect(high.devices).toEqual(['P192', 'RSA1024']);
    expect(high.deviceNotes).toEqual({ P192: 'curve P-192 (192 bits, below P-256)', RSA1024: 'RSA 1024 bits (below 2048)' });
    const medium = findingOf(report, 'weak-key', 'medium');
    expect(medium.devices).toEqual(['E3', 'K1']);
    expect(medium.deviceNotes?.E3).toBe('RSA exponent 3 (below 65537)');
    expect(medium.deviceNotes?.K1).toMatch(/secp256k1/);
  });

  it('fail/SHA-1 signatures are high and MD5 critical', () => {
    expect(findingOf(report, 'weak-signature', 'high').devices).toEqual(['SHA1']);
    expect(findingOf(report, 'weak-signature', 'high').deviceNotes?.SHA1).toBe('signed with ecdsa-with-SHA1');
    expect(findingOf(report, 'weak-signature', 'critical').devices).toEqual(['MD5']);
  });

  it('fail/a device certificate that is a CA is critical', () => {
    const f = findingOf(report, 'ca-flag-on-device', 'critical');
    expect(f.devices).toEqual(['CAFLAG']);
    expect(f.deviceNotes?.CAFLAG).toBe('cA=TRUE and keyCertSign');
  });

  it('fail/an EKU without clientAuth is medium, no EKU at all low', () => {
    expect(findingOf(report, 'missing-client-auth', 'medium').devices).toEqual(['SERVER']);
    expect(findingOf(report, 'missing-client-auth', 'medium').deviceNotes?.SERVER).toMatch(/1\.3\.6\.1\.5\.5\.7\.3\.1/);
    expect(findingOf(report, 'missing-client-auth', 'low').devices).toEqual(['NOEKU']);
  });

  it('ok/a P-384 certificate and an expired weak one appear in no key or signature finding', () => {
    expect(report.findings.filter((f) => f.devices.includes('FINE')).map((f) => f.id)).toEqual([]);
    // OLDWEAK's only certificate has expired: that is what it is flagged for, not its key.
    expect(report.findings.filter((f) => f.devices.includes('OLDWEAK')).map((f) => `${f.severity} ${f.id}`)).toEqual(['medium certificate-expired']);
  });
});

describe('audit: lifetime, expiry and age', () => {
  it('fail/lifetimes beyond policy by band, expired and expiring certificates, and old keys', async () => {
    const f = newFleet();
    const { issuing } = await f.ca();
    const c = async (serial: string, from: string, until: string): Promise<FixtureCert> => f.device(serial, issuing, { from, until });
    const fp = {
      TENYEAR: (await c('TENYEAR', '2023-01-01T00:00:00Z', '2033-01-01T00:00:00Z')).fingerprint,
      TWOYEAR: (await c('TWOYEAR', '2025-01-01T00:00:00Z', '2027-01-01T00:00:00Z')).fingerprint,
      D120: (await c('D120', '2025-07-01T00:00:00Z', '2025-10-29T00:00:00Z')).fingerprint,
      EXPIRED: (await c('EXPIRED', '2025-06-01T00:00:00Z', '2025-07-01T00:00:00Z')).fingerprint,
      OLDRENEWED: (await c('RENEWED', '2025-06-01T00:00:00Z', '2025-07-01T00:00:00Z')).fingerprint,
      RENEWED: (await c('RENEWED', '2025-07-25T00:00:00Z', '2025-08-24T00:00:00Z')).fingerprint,
      EXPIRING: (await c('EXPIRING', '2025-07-10T00:00:00Z', '2025-08-09T00:00:00Z')).fingerprint,
      EXPIRINGOK: (await c('EXPIRINGOK', '2025-07-10T00:00:00Z', '2025-08-09T00:00:00Z')).fingerprint,
      SUCCESSOR: (await c('EXPIRINGOK', '2025-08-03T00:00:00Z', '2025-09-02T00:00:00Z')).fingerprint,
      GONE: (await c('GONE', '2025-06-01T00:00:00Z', '2025-07-01T00:00:00Z')).fingerprint,
    };
    const inv = f.inventory([
      ...['TENYEAR', 'TWOYEAR', 'D120', 'EXPIRED', 'RENEWED', 'EXPIRING', 'EXPIRINGOK'].map((serial) => ({ serial, status: 'active' as const })),
      { serial: 'GONE', status: 'decommissioned' }, // an expired certificate of a retired unit is fine
    ]);
    const r = await runAuditCli(f.dir, ['--inventory', inv, '--certs', f.certsDir]);
    expect(r.status, r.stderr).toBe(0);
    const life = (s: 'critical' | 'high' | 'medium'): string[] => findingOf(r.report, 'lifetime-beyond-policy', s).devices;
    expect([life('critical'), life('high'), life('medium')]).toEqual([['TENYEAR'], ['TWOYEAR'], ['D120']]);
    expect(findingOf(r.report, 'lifetime-beyond-policy', 'critical').deviceNotes?.TENYEAR).toBe('valid 3653 days, until 2033-01-01');
    expect(findingOf(r.report, 'certificate-expired', 'medium').devices).toEqual(['EXPIRED']);
    expect(findingOf(r.report, 'certificate-expired', 'low').certificates).toEqual([fp.OLDRENEWED]);
    const expiring = findingOf(r.report, 'certificate-expiring', 'medium');
    expect(expiring.devices).toEqual(['EXPIRING']);
    expect(expiring.deviceNotes?.EXPIRING).toBe('expires 2025-08-09 (4 days left)');
    expect(findingOf(r.report, 'certificate-age', 'medium').devices).toEqual(['TENYEAR']);
    expect(r.report.findings.filter((x) => x.devices.includes('GONE'))).toEqual([]);

    // The policy is the operator's: with a 400-day limit the two-year certificate is still high,
    // the 120-day one is fine.
    const loose = await runAuditCli(f.dir, ['--inventory', inv, '--certs', f.certsDir, '--max-lifetime-days', '400']);
    expect(findingsOf(loose.report, 'lifetime-beyond-policy').map((x) => [x.severity, x.devices])).toEqual([['critical', ['TENYEAR']], ['high', ['TWOYEAR']]]);
    expect(loose.report.policy.maxLifetimeDays).toBe(400);
  });
});

describe('audit: CA certificates', () => {
  it('fail/weak CA keys, SHA-1 intermediates, path length and key usage mistakes, and expiring CAs', async () => {
    const f = newFleet();
    const root = await f.cert({ subject: '/CN=Fixture Root', profile: 'root', issuer: 'self', md: 'sha1', from: '2015-01-01T00:00:00Z', until: '2040-01-01T00:00:00Z', file: 'ca/root.pem' });
    const ca = (cn: string, o: Partial<Parameters<AuditFleet['cert']>[0]> = {}): Promise<FixtureCert> =>
      f.cert({ subject: `/CN=${cn}`, profile: 'issuing', issuer: root, from: '2024-01-01T00:00:00Z', until: '2034-01-01T00:00:00Z', file: `ca/${cn}.pem`, ...o });
    const good = await ca('Good Issuing');
    const weak = await ca('Weak Issuing', { key: 'RSA-1024' });
    const sha1 = await ca('SHA1 Issuing', { md: 'sha1' });
    const loose = await ca('Loose Issuing', { profile: 'issuing-loose' });
    const noCertSign = await ca('NoCertSign Issuing', { profile: 'issuing-ku-no-certsign' });
    const soon = await ca('Soon Issuing', { until: '2025-08-20T00:00:00Z' });
    const under = await f.cert({ subject: '/CN=Under Zero', profile: 'issuing', issuer: good, from: '2024-06-01T00:00:00Z', until: '2030-01-01T00:00:00Z', file: 'ca/under-zero.pem' });
    const devs: [string, FixtureCert][] = [['D-GOOD', good], ['D-WEAK', weak], ['D-SHA1', sha1], ['D-LOOSE', loose], ['D-SOON', soon], ['D-ROOT', root]];
    for (const [serial, issuer] of devs) await f.device(serial, issuer);
    const inv = f.inventory(devs.map(([serial]) => ({ serial, status: 'active' as const })));
    const r = await runAuditCli(f.dir, ['--inventory', inv, '--certs', f.certsDir]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.report.inputs.certificates.caCertificates).toBe(8);
    const one = (id: string, ca: FixtureCert): { severity: string; title: string; devices: string[] } => {
      const found = findingsOf(r.report, id).filter((x) => x.certificates.includes(ca.fingerprint));
      expect(found, `${id} for ${ca.certPath}: ${findingIds(r.report).join(', ')}`).toHaveLength(1);
      return found[0] as { severity: string; title: string; devices: string[] };
    };
    expect(one('ca-weak-key', weak)).toMatchObject({ severity: 'high', devices: ['D-WEAK'] });
    expect(one('ca-weak-signature', sha1)).toMatchObject({ severity: 'high', devices: ['D-SHA1'] });
    expect(findingsOf(r.report, 'ca-weak-signature').filter((x) => x.certificates.includes(root.fingerprint))).toEqual([]); // a root's self-signature is not checked by anyone
    expect(one('ca-expiring', soon)).toMatchObject({ severity: 'high', devices: ['D-SOON'], title: expect.stringMatching(/expires 2025-08-20, in 15 days/) });
    expect(one('ca-path-length', loose)).toMatchObject({ severity: 'medium', title: expect.stringMatching(/pathLen unlimited.*basicConstraints is not critical/) });
    expect(one('ca-path-length', under)).toMatchObject({ severity: 'high', title: expect.stringMatching(/pathLen is 0/) });
    expect(one('ca-path-length', root)).toMatchObject({ severity: 'medium', title: expect.stringMatching(/root issues device certificates/) });
    expect(one('ca-key-usage', loose)).toMatchObject({ severity: 'medium', title: expect.stringMatching(/no keyUsage/) });
    expect(one('ca-key-usage', noCertSign)).toMatchObject({ severity: 'high', title: expect.stringMatching(/without keyCertSign/) });
    expect(r.report.findings.filter((x) => x.certificates.includes(good.fingerprint))).toEqual([]);
    // The chain file of a real deployment carries the same certificates: read once each.
    f.write('chain.pem', readFileSync(root.certPath, 'utf8') + readFileSync(good.certPath, 'utf8'));
    const again = await runAuditCli(f.dir, ['--inventory', inv, '--certs', f.certsDir]);
    expect(again.report.inputs.certificates).toMatchObject({ caCertificates: 8, duplicates: 2 });
  });
});
