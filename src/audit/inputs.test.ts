import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toPem } from '../pki/der.js';
import { OID } from '../pki/oids.js';
import { buildIssuingCa, buildRootCa, createDeviceIssuer, randomCertSerial } from '../pki/profiles.js';
import { generateKeyPair, keyObjectSigner } from '../pki/signer.js';
import { addCertificateFile, listCertificateFiles, readCertificates, readInventory, type CertificateDump } from './inputs.js';

const dir = mkdtempSync(join(tmpdir(), 'fg-audit-inputs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let root: Buffer;
let issuing: Buffer;
const devices: Buffer[] = [];

beforeAll(async () => {
  const rootSigner = keyObjectSigner(generateKeyPair('P-256').privateKey);
  const issuingKey = generateKeyPair('P-256');
  const validity = { notBefore: new Date('2024-01-01T00:00:00Z'), notAfter: new Date('2030-01-01T00:00:00Z') };
  root = await buildRootCa({ signer: rootSigner, subject: [{ type: OID.commonName, value: 'Unit Root' }], ...validity });
  const spki = issuingKey.publicKey.export({ format: 'der', type: 'spki' });
  issuing = await buildIssuingCa({ signer: rootSigner, issuerCertDer: root, spki, subject: [{ type: OID.commonName, value: 'Unit Issuing' }], ...validity });
  const issuer = createDeviceIssuer({ signer: keyObjectSigner(issuingKey.privateKey), issuerCertDer: issuing, ocspUrl: 'http://x.invalid/ocsp', crlUrl: 'http://x.invalid/crl' });
  for (const serial of ['U1', 'U 2/ü']) {
    const deviceSpki = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'der', type: 'spki' });
    devices.push(await issuer.issue({ deviceSerial: serial, spki: deviceSpki, serialNumber: randomCertSerial(), ...validity }));
  }
});

const emptyDump = (): CertificateDump => ({ certs: new Map(), filesRead: 0, duplicates: 0, malformed: 0, skippedFiles: 0, problems: [] });

describe('certificate files', () => {
  it('ok/a chain bundle is split; each certificate is named file#n; the device serial comes from the SAN URN', () => {
    const dump = emptyDump();
    addCertificateFile(dump, 'bundle.pem', Buffer.from(`junk before\n${toPem('CERTIFICATE', devices[1] as Buffer)}${toPem('CERTIFICATE', issuing)}${toPem('CERTIFICATE', root)}`), false);
    expect(dump.problems).toEqual([]);
    const facts = [...dump.certs.values()];
    expect(facts.map((c) => c.source)).toEqual(['bundle.pem#1', 'bundle.pem#2', 'bundle.pem#3']);
    expect(facts[0]?.claimedSerial).toBe('U 2/ü'); // percent-decoded from urn:femtoguard:device:U%202%2F%C3%BC
    expect(facts.map((c) => c.basicConstraints?.ca)).toEqual([false, true, true]);
    expect(facts[2]?.selfIssued).toBe(true);
  });

  it('ok/DER is read as DER; the same certificate twice is one certificate and a duplicate', () => {
    const dump = emptyDump();
    addCertificateFile(dump, 'u1.der', devices[0] as Buffer, true);
    addCertificateFile(dump, 'u1.pem', Buffer.from(toPem('CERTIFICATE', devices[0] as Buffer)), true);
    expect(dump.certs.size).toBe(1);
    expect(dump.duplicates).toBe(1);
    expect([...dump.certs.values()][0]?.source).toBe('u1.der');
  });

  it('fail/a broken block in a bundle is reported by its position and the others are kept', () => {
    const dump = emptyDump();
    const broken = toPem('CERTIFICATE', Buffer.from('3003020101', 'hex'));
    const complete = toPem('CERTIFICATE', root) + broken + toPem('CERTIFICATE', issuing);
    addCertificateFile(dump, 'b.pem', Buffer.from(complete + '-----BEGIN CERTIFICATE-----\nAAAA\n'), false);
    expect(dump.certs.size).toBe(2);
    const cutLine = complete.split('\n').length;
    expect(dump.problems.map((p) => p.message)).toEqual([expect.stringMatching(/^certificate 2: malformed certificate/), `CERTIFICATE block at line ${cutLine} has no END line`]);
    expect(dump.malformed).toBe(2);
  });

  it('fail/a BEGIN without its END is reported by its line and does not swallow the valid certificate after it', () => {
    const dump = emptyDump();
    const cut = '-----BEGIN CERTIFICATE-----\nMIIBzzCCAXWgAwIBAgIUtruncated\n';
    const text = toPem('CERTIFICATE', devices[0] as Buffer) + cut + toPem('CERTIFICATE', devices[1] as Buffer);
    addCertificateFile(dump, 'bundle.pem', Buffer.from(text), false);
    expect([...dump.certs.values()].map((c) => [c.source, c.claimedSerial])).toEqual([
      ['bundle.pem#1', 'U1'],
      ['bundle.pem#2', 'U 2/ü'],
    ]);
    const line = text.slice(0, text.indexOf(cut)).split('\n').length;
    expect(dump.problems.map((p) => p.message)).toEqual([`CERTIFICATE block at line ${line} has no END line`]);
    expect(dump.malformed).toBe(1);
  });

  it('fail/a named file without a certificate is a problem; the same file found by walking is skipped', () => {
    const key = Buffer.from(`-----BEGIN EC ${'PRIVATE'} KEY-----\nAAAA\n-----END EC ${'PRIVATE'} KEY-----\n`);
    const named = emptyDump();
    addCertificateFile(named, 'dev.key', key, false);
    expect(named.problems.map((p) => p.message)).toEqual(['no CERTIFICATE block (holds EC PRIVATE KEY)']);
    const walked = emptyDump();
    addCertificateFile(walked, 'dev.key', key, true);
    expect(walked.problems).toEqual([]);
    expect(walked.skippedFiles).toBe(1);
  });

  it('ok/directories are walked in name order, dot-files skipped, symlinked directories not followed', () => {
    const d = join(dir, 'walk');
    mkdirSync(join(d, 'b', 'deep'), { recursive: true });
    writeFileSync(join(d, 'b', 'deep', 'z.pem'), '');
    writeFileSync(join(d, 'a.pem'), '');
    writeFileSync(join(d, '.hidden.pem'), '');
    symlinkSync(d, join(d, 'b', 'loop'));
    symlinkSync(join(d, 'a.pem'), join(d, 'c-link.pem'));
    const problems: never[] = [];
    expect(listCertificateFiles([d], problems).map((x) => x.file.slice(d.length + 1))).toEqual(['a.pem', 'b/deep/z.pem', 'c-link.pem']);
  });

  it('ok/readCertificates reports progress and reads every file', async () => {
    const d = join(dir, 'read');
    mkdirSync(d);
    for (let i = 0; i < 1500; i++) writeFileSync(join(d, `r${i}.pem`), toPem('CERTIFICATE', i % 2 === 0 ? root : issuing));
    const seen: number[] = [];
    const dump = await readCertificates([d], (done, total) => seen.push(done / total));
    expect(dump).toMatchObject({ filesRead: 1500, duplicates: 1498, malformed: 0 });
    expect(seen.at(-1)).toBe(1);
    expect(seen.length).toBeGreaterThan(1);
  });
});

describe('inventory', () => {
  it('fail/rows that fail validation and repeated serials are reported by line and left out', async () => {
    const p = join(dir, 'inv.csv');
    writeFileSync(p, '\uFEFFSerial,Status,IP_Prefixes\nA,active,10.0.0.0/8\nB,lost,10.0.0.7/8\nA,lost,\n"C,active\n"D",active,\n');
    const inv = await readInventory(p);
    expect([...inv.devices.keys()]).toEqual(['A', 'D']);
    expect(inv.devices.get('A')?.status).toBe('active');
    expect(inv.problems.map((x) => [x.line, x.message])).toEqual([
      [3, expect.stringMatching(/ip_prefixes .*host bits set; did you mean 10\.0\.0\.0\/8/)],
      [4, 'serial A repeats line 2; this row is ignored'],
      [5, expect.stringMatching(/quoted field is not closed|text after the closing quote|bare/)],
    ]);
    expect(inv.rejectedRows).toBe(3);
  });

  it('fail/an empty file or a header without serial stops with registry.csv_header', async () => {
    const empty = join(dir, 'empty.csv');
    writeFileSync(empty, '');
    await expect(readInventory(empty)).rejects.toMatchObject({ code: 'registry.csv_header' });
    const noStatus = join(dir, 'nostatus.csv');
    writeFileSync(noStatus, 'serial\nA\n');
    await expect(readInventory(noStatus)).rejects.toMatchObject({ code: 'registry.csv_header', message: expect.stringMatching(/no status column/) });
    await expect(readInventory(dir)).rejects.toMatchObject({ code: 'audit.input_unreadable' });
  });
});
