/**
 * `femtoguard audit` on fleets built at test time with openssl (and femtoguard's own CA
 * code): a healthy fleet, a fleet on one shared ten-year certificate, lost and
 * decommissioned units with live certificates, orphans both ways, and a dump full of
 * broken files. Run through the real CLI; the JSON report is what the assertions read.
 * Key, signature, expiry and CA checks: audit-crypto.test.ts; session history:
 * audit-sessions.test.ts; report formats and exit codes: audit-reports.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditFleet, femtoguardDevices, findingIds, findingOf, findingsOf, runAuditCli, type FixtureCert, type InventoryRow } from '../helpers/audit-fleet.js';
import { requireTool } from '../helpers/run.js';

const dirs: string[] = [];
function newFleet(): AuditFleet {
  const dir = mkdtempSync(join(tmpdir(), 'fg-audit-'));
  dirs.push(dir);
  return new AuditFleet(dir);
}
beforeAll(() => requireTool('openssl', 'openssl'));
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('audit: a healthy fleet', () => {
  it('ok/per-device 30-day certificates from openssl and femtoguard\'s CA, used as registered, give no finding above low', async () => {
    const f = newFleet();
    const { issuing } = await f.ca();
    const rows: InventoryRow[] = [];
    for (let i = 1; i <= 5; i++) {
      const serial = `OSSL${i}`;
      const c = await f.device(serial, issuing, { key: i === 5 ? 'RSA-2048' : 'P-256' });
      rows.push({ serial, status: 'active', certs: [c.fingerprint], prefixes: [`175.198.${i}.0/24`], site: [37.5, 127.0 + i / 100] });
    }
    const fg = Array.from({ length: 20 }, (_, i) => `FG${String(i).padStart(3, '0')}`);
    const { fingerprints } = await femtoguardDevices(f, fg, { from: '2025-07-25T00:00:00Z', until: '2025-08-24T00:00:00Z', derEvery: 4 });
    // Half the rows list their fingerprint; the other half are linked by the SAN the certificate carries.
    fg.forEach((serial, i) => rows.push({ serial, status: 'active', certs: i % 2 === 0 ? [fingerprints.get(serial) as string] : [] }));
    rows.push({ serial: 'NEW1', status: 'provisioned' }); // not enrolled yet: nothing to say
    const inv = f.inventory(rows);
    // Three months of history: every unit connects from its own line, near its site, with its own certificate.
    const events: Record<string, unknown>[] = [{ type: 'femto.report', ts: '2025-05-01T00:00:00Z', serial: 'OSSL1' }];
    rows.filter((x) => x.status === 'active').forEach((x, i) => {
      const ip = x.prefixes?.[0]?.replace(/0\/24$/, '20') ?? `198.51.100.${i}`;
      const ts = `2025-08-0${1 + (i % 4)}T0${i % 10}:00:00Z`;
      events.push({ type: 'femto.session', ts, serial: x.serial, phase: 'up', sourceIp: ip, certFingerprint: x.certs?.[0] ?? fingerprints.get(x.serial), sessionId: `s-${x.serial}` });
      if (x.site !== undefined) events.push({ type: 'femto.report', ts, serial: x.serial, sourceIp: ip, gps: { lat: x.site[0] + 0.001, lon: x.site[1], accuracyM: 30 } });
    });

    const r = await runAuditCli(f.dir, ['--inventory', inv, '--certs', f.certsDir, '--sessions', f.sessions(events), '--fail-on', 'medium']);
    expect(r.status, `${r.stderr}\n${findingIds(r.report).join('\n')}`).toBe(0);
    expect(r.report.summary.bySeverity).toMatchObject({ critical: 0, high: 0, medium: 0 });
    expect(findingIds(r.report)).toEqual([]); // not even a low one
    expect(r.report.inputs.certificates).toMatchObject({ certificates: 29, deviceCertificates: 25, caCertificates: 4, malformed: 0 });
    expect(r.report.inputs.inventory).toMatchObject({ devices: 26, rejectedRows: 0 });
    expect(r.report.problems).toEqual([]);
    expect(r.report.checks).toContain('idle-device'); // the usage checks ran, and found nothing
    expect(r.report.inputs.sessions).toMatchObject({ events: 31, malformed: 0 });
    expect(r.stdout).toContain('findings: 0 critical, 0 high, 0 medium');
  });
});

describe('audit: one shared ten-year certificate', () => {
  let f: AuditFleet;
  let shared: FixtureCert;
  let rows: InventoryRow[];
  beforeAll(async () => {
    f = newFleet();
    // The incident's credential: one factory certificate, valid ten years, in every unit.
    shared = await f.cert({ subject: '/O=Vendor/CN=femtocell', key: 'RSA-2048', profile: 'bare', issuer: 'self', from: '2021-03-01T00:00:00Z', until: '2031-03-01T00:00:00Z', file: 'factory.pem' });
    rows = Array.from({ length: 2500 }, (_, i) => ({ serial: `KTF${String(i).padStart(6, '0')}`, status: 'active' as const, certs: [shared.fingerprint] }));
    rows[7] = { ...rows[7], status: 'lost' } as InventoryRow;
    rows[8] = { ...rows[8], status: 'lost' } as InventoryRow;
    rows[9] = { ...rows[9], status: 'decommissioned' } as InventoryRow;
  });

  it('fail/a critical certificate-shared finding names every device on the certificate', async () => {
    const r = await runAuditCli(f.dir, ['--inventory', f.inventory(rows), '--certs', f.certsDir]);
    expect(r.status, r.stderr).toBe(0);
    const s = findingOf(r.report, 'certificate-shared', 'critical');
    expect(s.devices).toEqual(rows.map((x) => x.serial).sort());
    expect(s.certificates).toEqual([shared.fingerprint]);
    expect(s.title).toMatch(/used by 2500 devices/);
    expect(s.evidence).toMatchObject({ fingerprint: shared.fingerprint, subject: 'O=Vendor, CN=femtocell', listedBy: 2500 });
    expect(s.why).toMatch(/lost/);
    expect(s.fix).toMatch(/femtoguard/);
    // Ten years is critical on its own, and the certificate is old.
    expect(findingOf(r.report, 'lifetime-beyond-policy', 'critical').devices).toHaveLength(2500);
    expect(findingOf(r.report, 'certificate-age', 'medium').certificates).toEqual([shared.fingerprint]);
    // The lost units hold a credential that still works for all 2500.
    expect(findingOf(r.report, 'inactive-device-live-certificate', 'critical').devices).toEqual(['KTF000007', 'KTF000008']);
    expect(findingOf(r.report, 'inactive-device-live-certificate', 'high').devices).toEqual(['KTF000009']);
    expect(findingOf(r.report, 'inactive-device-live-certificate', 'critical').deviceNotes?.KTF000007).toMatch(/lost; certificate .* valid until 2031-03-01 \(shared\)/);
    expect(r.report.findings[0]?.severity).toBe('critical');
    expect(r.stdout).toMatch(/CRITICAL\s+certificate-shared\s+Certificate [0-9a-f]{12} is used by 2500 devices/);
  });

  it('fail/--fail-on critical exits 4 and says why', async () => {
    const r = await runAuditCli(f.dir, ['--inventory', f.inventory(rows), '--certs', f.certsDir, '--fail-on', 'critical']);
    expect(r.status).toBe(4);
    expect(r.stderr).toMatch(/--fail-on critical/);
    expect(r.report.summary.bySeverity.critical).toBeGreaterThan(0);
  });

  it('fail/the same certificate in two units is shared even when the inventory links it to one', async () => {
    const g = newFleet();
    const { issuing } = await g.ca();
    const clone = await g.device('CLONE1', issuing);
    const inv = g.inventory([{ serial: 'CLONE1', status: 'active' }, { serial: 'CLONE2', status: 'active', certs: [clone.fingerprint] }]);
    const r = await runAuditCli(g.dir, ['--inventory', inv, '--certs', g.certsDir]);
    const s = findingOf(r.report, 'certificate-shared', 'critical');
    expect(s.devices).toEqual(['CLONE1', 'CLONE2']);
    expect(s.deviceNotes).toEqual({ CLONE1: 'named in the certificate' });
  });
});

describe('audit: lifecycle, orphans and identities', () => {
  let report: Awaited<ReturnType<typeof runAuditCli>>['report'];
  const fp: Record<string, string> = {};
  beforeAll(async () => {
    const f = newFleet();
    const { issuing } = await f.ca();
    const live = { from: '2025-07-20T00:00:00Z', until: '2025-08-19T00:00:00Z' };
    const dead = { from: '2025-05-01T00:00:00Z', until: '2025-05-31T00:00:00Z' };
    for (const s of ['LOST1', 'DECOM1', 'OK1']) fp[s] = (await f.device(s, issuing, live)).fingerprint;
    fp.LOST2 = (await f.device('LOST2', issuing, dead)).fingerprint;
    fp.GHOST1 = (await f.device('GHOST1', issuing, live)).fingerprint;
    fp.GHOST2 = (await f.device('GHOST2', issuing, dead)).fingerprint;
    fp.MISMATCH1 = (await f.cert({ subject: '/CN=OTHER9', issuer: issuing, ...live })).fingerprint;
    const pk1 = await f.device('PK1', issuing, live);
    fp.PK1 = pk1.fingerprint;
    fp.PK2 = (await f.device('PK2', issuing, { ...live, key: { reuse: pk1.keyPath } })).fingerprint;
    const multi = [];
    for (let k = 0; k < 3; k++) multi.push((await f.device('MULTI1', issuing, { from: `2025-07-2${k}T00:00:00Z`, until: `2025-08-2${k}T00:00:00Z` })).fingerprint);
    const renew = [await f.device('RENEW1', issuing, live), await f.device('RENEW1', issuing, { from: '2025-08-01T00:00:00Z', until: '2025-08-31T00:00:00Z' })];
    const inv = f.inventory([
      { serial: 'LOST1', status: 'lost', certs: [fp.LOST1 as string] },
      { serial: 'DECOM1', status: 'decommissioned' }, // linked by the certificate's SAN only
      { serial: 'LOST2', status: 'lost', certs: [fp.LOST2] },
      { serial: 'OK1', status: 'active', certs: [fp.OK1 as string] },
      { serial: 'NOCERT1', status: 'active' },
      { serial: 'MISSING1', status: 'active', certs: ['ab'.repeat(32)] },
      { serial: 'IDLEPROV', status: 'provisioned' },
      { serial: 'MISMATCH1', status: 'active', certs: [fp.MISMATCH1] },
      { serial: 'PK1', status: 'active' },
      { serial: 'PK2', status: 'active' },
      { serial: 'MULTI1', status: 'active', certs: multi },
      { serial: 'RENEW1', status: 'active', certs: renew.map((c) => c.fingerprint) },
    ]);
    const r = await runAuditCli(f.dir, ['--inventory', inv, '--certs', f.certsDir]);
    expect(r.status, r.stderr).toBe(0);
    report = r.report;
  });

  it('fail/a lost device with a live certificate is critical, a decommissioned one high', () => {
    const lost = findingOf(report, 'inactive-device-live-certificate', 'critical');
    expect(lost.devices).toEqual(['LOST1']);
    expect(lost.certificates).toEqual([fp.LOST1]);
    expect(findingOf(report, 'inactive-device-live-certificate', 'high').devices).toEqual(['DECOM1']);
  });

  it('ok/a lost device whose certificate has expired is not flagged for it', () => {
    for (const f of findingsOf(report, 'inactive-device-live-certificate')) expect(f.devices).not.toContain('LOST2');
  });

  it('fail/certificates no inventory device holds are orphans: live medium, expired low', () => {
    expect(findingOf(report, 'orphan-certificate', 'medium').certificates).toEqual([fp.GHOST1]);
    expect(findingOf(report, 'orphan-certificate', 'medium').evidence).toMatchObject({ claimedSerials: ['GHOST1'] });
    expect(findingOf(report, 'orphan-certificate', 'low').certificates).toEqual([fp.GHOST2]);
  });

  it('fail/active devices without a certificate in the dump are reported, with the reason', () => {
    const f = findingOf(report, 'device-without-certificate', 'medium');
    expect(f.devices).toEqual(['MISSING1', 'NOCERT1']);
    expect(f.deviceNotes).toEqual({ MISSING1: 'lists 1 fingerprint missing from the dump', NOCERT1: 'no certificate listed or naming it' });
  });

  it('fail/a certificate naming another identity, one key pair in two certificates, and piles of live certificates', () => {
    const m = findingOf(report, 'certificate-identity-mismatch', 'medium');
    expect(m.devices).toEqual(['MISMATCH1']);
    expect(m.deviceNotes?.MISMATCH1).toMatch(/names OTHER9/);
    const k = findingOf(report, 'public-key-shared', 'critical');
    expect(k.devices).toEqual(['PK1', 'PK2']);
    expect(k.certificates).toEqual([fp.PK1, fp.PK2].sort());
    expect(findingOf(report, 'serial-several-live-certificates', 'medium').devices).toEqual(['MULTI1']);
    expect(findingOf(report, 'serial-several-live-certificates', 'low').devices).toEqual(['RENEW1']);
  });

  it('ok/a device with one proper certificate appears in no finding', () => {
    expect(report.findings.filter((f) => f.devices.includes('OK1')).map((f) => f.id)).toEqual([]);
    expect(report.findings.filter((f) => f.devices.includes('IDLEPROV')).map((f) => f.id)).toEqual([]);
  });
});

describe('audit: malformed inputs are reported by file and line, and the audit goes on', () => {
  it('fail/broken certificate files and inventory rows are named; good certificates are still audited', async () => {
    const f = newFleet();
    const { issuing } = await f.ca();
    const good = [await f.device('GOOD1', issuing), await f.device('GOOD2', issuing, { file: 'bundles/good2-chain.pem' }), await f.device('GOOD3', issuing, { file: '' })];
    f.write('der/good3.der', good[2]?.der as Buffer);
    f.write('junk.pem', 'this is not a certificate\n');
    f.write('truncated.pem', `-----BEGIN CERTIFICATE-----\n${(good[0]?.der as Buffer).toString('base64').slice(0, 200)}\n`);
    const pem = (der: Buffer): string => `-----BEGIN CERTIFICATE-----\n${der.toString('base64')}\n-----END CERTIFICATE-----\n`;
    f.write('bundle-bad.pem', pem(good[0]?.der as Buffer) + pem(Buffer.from('3082010a0282010100c0ffee', 'hex')));
    f.write('bad.der', Buffer.from('3082ffff0000', 'hex'));
    f.write('empty.crt', '');
    f.write('keys/dev.key', `-----BEGIN ${'PRIVATE'} KEY-----\nAAAA\n-----END ${'PRIVATE'} KEY-----\n`);
    const inv = f.inventory([
      { serial: 'GOOD1', status: 'active' },
      { serial: 'GOOD2', status: 'active' },
      { serial: 'GOOD3', status: 'active' },
    ]);
    const { appendFileSync } = await import('node:fs');
    appendFileSync(inv, 'BROKEN1,broken,,,,,,,,\nGOOD1,active,,,,,,,,\n');
    const missing = join(f.dir, 'no-such-dir');

    const r = await runAuditCli(f.dir, ['--inventory', inv, '--certs', f.certsDir, missing]);
    expect(r.status, r.stderr).toBe(3); // input problems, no --fail-on
    const byFile = (name: string): string[] => r.report.problems.filter((p) => p.file.endsWith(name)).map((p) => p.message);
    expect(byFile('junk.pem')).toEqual(['neither a PEM file nor a DER certificate']);
    expect(byFile('truncated.pem')).toEqual(['CERTIFICATE block at line 1 has no END line']);
    expect(byFile('bundle-bad.pem')).toEqual([expect.stringMatching(/^certificate 2: malformed certificate/)]);
    expect(byFile('bad.der')).toEqual([expect.stringMatching(/^malformed certificate/)]);
    expect(byFile('empty.crt')).toEqual(['empty file']);
    expect(byFile('no-such-dir')).toEqual(['cannot read: ENOENT']);
    expect(byFile('dev.key')).toEqual([]); // a key beside the certificates is skipped, not an error
    expect(r.report.problems.filter((p) => p.source === 'inventory')).toEqual([
      { source: 'inventory', file: inv, line: 5, message: expect.stringMatching(/status/) },
      { source: 'inventory', file: inv, line: 6, message: 'serial GOOD1 repeats line 2; this row is ignored' },
    ]);
    // The good certificates (one from the bad bundle, one DER) were all read and linked.
    expect(r.report.inputs.certificates).toMatchObject({ deviceCertificates: 3, malformed: 6, skippedFiles: 1 });
    expect(r.report.inputs.inventory).toMatchObject({ devices: 3, rejectedRows: 2 });
    expect(findingsOf(r.report, 'device-without-certificate')).toEqual([]);
    expect(r.stdout).toMatch(/input problems: 8/);
    expect(r.stdout).toMatch(/bundle-bad\.pem: certificate 2: malformed certificate/);
    expect(r.stdout).toContain('… and 3 more in the report');
  });

  it('fail/an inventory that cannot be used stops the audit with a usage error naming the file', async () => {
    const f = newFleet();
    const { writeFileSync } = await import('node:fs');
    const noSerial = join(f.dir, 'no-serial.csv');
    writeFileSync(noSerial, 'status,owner\nactive,x\n');
    let r = await runAuditCli(f.dir, ['--inventory', noSerial, '--certs', f.certsDir]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/registry\.csv_header.*no serial column/);
    r = await runAuditCli(f.dir, ['--inventory', join(f.dir, 'absent.csv')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/cannot read inventory .*absent\.csv: ENOENT/);
  });
});
