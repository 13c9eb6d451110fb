import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../core/errors.js';
import { bitString, bool, explicit, fromPemAll, int, octets, oid, seq, time, toPem } from './der.js';
import { keyObjectSigner } from './signer.js';
import { makeTestPki, type TestCert, type TestPki } from '../../test/helpers/openssl-pki.js';
import { CRL_REASONS, buildCrl, crlReasonName, parseCrl, parseCrlReason, type BuildCrlOptions, type RevokedEntry } from './crl.js';

let dir: string;
let pki: TestPki;
const now = Date.now();
const thisUpdate = new Date(now - 60_000);
const nextUpdate = new Date(now + 7 * 86_400_000);
const revokedAt = new Date(Date.UTC(2025, 2, 1, 12, 0, 5));

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'femtoguard-crl-'));
  pki = makeTestPki(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function openssl(args: string[]): { code: number; out: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8', maxBuffer: 1 << 28 });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

function opts(issuer: TestCert, revoked: RevokedEntry[], over: Partial<BuildCrlOptions> = {}): BuildCrlOptions {
  return {
    signer: keyObjectSigner(issuer.privateKey),
    issuerSubjectDer: issuer.subjectDer,
    authorityKeyId: issuer.subjectKeyId,
    thisUpdate,
    nextUpdate,
    crlNumber: 42n,
    revoked,
    ...over,
  };
}

/** Writes DER and PEM (label X509 CRL) files; returns their paths. */
function writeCrl(name: string, der: Buffer): { derPath: string; pemPath: string } {
  const derPath = join(dir, `${name}.crl.der`);
  const pemPath = join(dir, `${name}.crl.pem`);
  writeFileSync(derPath, der);
  writeFileSync(pemPath, toPem('X509 CRL', der));
  return { derPath, pemPath };
}

function verify(crlPem: string, cert: TestCert, issuer: TestCert): { code: number; out: string } {
  return openssl(['verify', '-crl_check', '-CRLfile', crlPem, '-CAfile', pki.root.certPath, '-untrusted', issuer.certPath, cert.certPath]);
}

const opensslTime = (d: Date): string => {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.toUTCString().slice(8, 11)} ${String(d.getUTCDate()).padStart(2, ' ')} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${d.getUTCFullYear()} GMT`;
};

function expectCode(f: () => unknown, code: string, msg?: RegExp): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    expect((e as AppError).code).toBe(code);
    if (msg) expect((e as AppError).message).toMatch(msg);
    return;
  }
  throw new Error(`expected ${code}`);
}

describe('buildCrl with openssl', () => {
  it('ok/entries, reasons, AKI and CRL number as openssl reads them', async () => {
    const other = Buffer.from('0badc0ffee', 'hex');
    const zero = Buffer.from('7e57', 'hex');
    const der = await buildCrl(
      opts(pki.issuing, [
        { serialNumber: pki.devices.revoked.serial, revokedAt, reason: CRL_REASONS.keyCompromise },
        { serialNumber: other, revokedAt, reason: CRL_REASONS.superseded },
        { serialNumber: zero, revokedAt, reason: 0 },
        { serialNumber: pki.devices.highBit.serial, revokedAt },
      ]),
    );
    const { derPath } = writeCrl('entries', der);
    const r = openssl(['crl', '-inform', 'DER', '-in', derPath, '-text', '-noout']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('Version 2 (0x1)');
    expect(r.out).toMatch(/X509v3 CRL Number:\s+42\b/);
    expect(r.out).toContain('Issuer: O = femtoguard test, CN = Test Issuing CA');
    const akiHex = [...pki.issuing.subjectKeyId].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');
    expect(r.out).toMatch(new RegExp(`X509v3 Authority Key Identifier:\\s+(keyid:)?${akiHex}`));
    const entries = r.out.split('Serial Number: ').slice(1);
    expect(entries).toHaveLength(4);
    const entryFor = (serial: Buffer): string => entries.find((e) => e.startsWith(serial.toString('hex').toUpperCase())) ?? '';
    expect(entryFor(pki.devices.revoked.serial)).toMatch(/CRL Reason Code:\s+Key Compromise/);
    expect(entryFor(other)).toMatch(/CRL Reason Code:\s+Superseded/);
    expect(entryFor(zero)).not.toContain('Reason');
    expect(entryFor(pki.devices.highBit.serial)).not.toContain('Reason');
    for (const e of entries) expect(e).toContain(`Revocation Date: ${opensslTime(revokedAt)}`);
    expect(openssl(['crl', '-inform', 'DER', '-in', derPath, '-CAfile', pki.issuing.certPath, '-noout']).out).toContain('verify OK');
  });

  it('ok/openssl verify -crl_check: good device OK, revoked device revoked', async () => {
    const der = await buildCrl(opts(pki.issuing, [{ serialNumber: pki.devices.revoked.serial, revokedAt, reason: 1 }]));
    const { pemPath } = writeCrl('verify', der);
    const good = verify(pemPath, pki.devices.good, pki.issuing);
    expect(good.out).toContain(`${pki.devices.good.certPath}: OK`);
    expect(good.code).toBe(0);
    const bad = verify(pemPath, pki.devices.revoked, pki.issuing);
    expect(bad.out).toContain('certificate revoked');
    expect(bad.code).not.toBe(0);
  });

  it('ok/empty CRL has no revokedCertificates and verifies', async () => {
    const der = await buildCrl(opts(pki.issuing, []));
    const { derPath, pemPath } = writeCrl('empty', der);
    expect(openssl(['crl', '-inform', 'DER', '-in', derPath, '-text', '-noout']).out).toContain('No Revoked Certificates.');
    expect(verify(pemPath, pki.devices.revoked, pki.issuing).out).toContain(`${pki.devices.revoked.certPath}: OK`);
    expect(parseCrl(der).revoked).toEqual([]);
  });

  it('ok/RSA issuing CA signs a CRL openssl accepts', async () => {
    const der = await buildCrl(opts(pki.rsaIssuing, [{ serialNumber: pki.rsaDevice.serial, revokedAt, reason: 4 }]));
    const { pemPath } = writeCrl('rsa', der);
    expect(openssl(['crl', '-in', pemPath, '-text', '-noout']).out).toContain('sha256WithRSAEncryption');
    expect(verify(pemPath, pki.rsaDevice, pki.rsaIssuing).out).toContain('certificate revoked');
    const empty = writeCrl('rsa-empty', await buildCrl(opts(pki.rsaIssuing, [])));
    expect(verify(empty.pemPath, pki.rsaDevice, pki.rsaIssuing).out).toContain(`${pki.rsaDevice.certPath}: OK`);
  });

  it('ok/200,000 entries', async () => {
    const n = 200_000;
    const base = Date.UTC(2025, 0, 1);
    const revoked: RevokedEntry[] = Array.from({ length: n }, (_, i) => {
      const serial = randomBytes(16);
      serial[0] = ((serial[0] as number) & 0x7f) | 0x01;
      return { serialNumber: serial, revokedAt: new Date(base + i * 1000), reason: i % 3 === 0 ? 1 : i % 3 === 1 ? 4 : undefined };
    });
    const t0 = performance.now();
    const der = await buildCrl(opts(pki.issuing, revoked));
    const built = performance.now() - t0;
    const parsed = parseCrl(der);
    const parsedMs = performance.now() - t0 - built;
    console.log(`CRL with ${n} entries: ${(der.length / 1e6).toFixed(1)} MB, built in ${built.toFixed(0)} ms, parsed in ${parsedMs.toFixed(0)} ms`);
    expect(parsed.revoked).toHaveLength(n);
    expect(parsed.revoked[n - 1]?.serialHex).toBe(revoked[n - 1]?.serialNumber.toString('hex'));
    expect(parsed.revoked[3]?.reason).toBe(1);
    expect(parsed.revoked[5]?.reason).toBeUndefined();
    const { derPath } = writeCrl('big', der);
    expect(openssl(['crl', '-inform', 'DER', '-in', derPath, '-CAfile', pki.issuing.certPath, '-noout']).out).toContain('verify OK');
  });

  it('fail/a CRL signed by another key is rejected by openssl', async () => {
    const der = await buildCrl({ ...opts(pki.issuing, []), signer: keyObjectSigner(pki.root.privateKey) });
    const { pemPath } = writeCrl('wrong-key', der);
    const r = verify(pemPath, pki.devices.good, pki.issuing);
    expect(r.out).toMatch(/CRL signature failure/i);
    expect(r.code).not.toBe(0);
  });

  it('fail/bad build inputs', async () => {
    const e = { serialNumber: Buffer.from([1]), revokedAt };
    await expect(buildCrl(opts(pki.issuing, [{ ...e, reason: 7 }]))).rejects.toThrow(/reason/);
    await expect(buildCrl(opts(pki.issuing, [{ ...e, reason: 11 }]))).rejects.toThrow(/reason/);
    await expect(buildCrl(opts(pki.issuing, [{ ...e, serialNumber: Buffer.alloc(0) }]))).rejects.toThrow(/serial/);
    await expect(buildCrl(opts(pki.issuing, [], { nextUpdate: thisUpdate }))).rejects.toThrow(/nextUpdate/);
    await expect(buildCrl(opts(pki.issuing, [], { crlNumber: 1n << 160n }))).rejects.toThrow(/crlNumber/);
    await expect(buildCrl(opts(pki.issuing, [], { crlNumber: -1n }))).rejects.toThrow(/crlNumber/);
    await expect(buildCrl(opts(pki.issuing, [], { authorityKeyId: Buffer.alloc(0) }))).rejects.toThrow(/authorityKeyId/);
    await expect(buildCrl(opts(pki.issuing, [], { issuerSubjectDer: Buffer.from([0x04, 0]) }))).rejects.toThrow(/Name/);
  });
});

describe('parseCrl', () => {
  it('ok/reads a CRL made by openssl ca -gencrl', () => {
    const yymmdd = (d: Date): string => d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
    const ca = join(dir, 'openssl-ca');
    spawnSync('mkdir', ['-p', ca]);
    const s1 = pki.devices.revoked.serial.toString('hex').toUpperCase();
    const s2 = pki.devices.highBit.serial.toString('hex').toUpperCase();
    writeFileSync(
      join(ca, 'index.txt'),
      `R\t301231235959Z\t${yymmdd(revokedAt)},keyCompromise\t${s1}\tunknown\t/CN=a\n` +
        `R\t301231235959Z\t${yymmdd(revokedAt)}\t${s2}\tunknown\t/CN=b\n` +
        `V\t301231235959Z\t\t0A0B\tunknown\t/CN=c\n`,
    );
    writeFileSync(join(ca, 'crlnumber'), '1F\n');
    writeFileSync(
      join(ca, 'ca.cnf'),
      `[ca]\ndefault_ca = d\n[d]\ndatabase = ${join(ca, 'index.txt')}\ncrlnumber = ${join(ca, 'crlnumber')}\n` +
        `default_md = sha256\ndefault_crl_days = 2\ncrl_extensions = ext\n[ext]\nauthorityKeyIdentifier = keyid:always\n`,
    );
    const out = join(ca, 'crl.pem');
    const r = openssl(['ca', '-gencrl', '-config', join(ca, 'ca.cnf'), '-keyfile', pki.issuing.keyPath, '-cert', pki.issuing.certPath, '-out', out]);
    expect(r.code, r.out).toBe(0);
    const der = fromPemAll(readFileSync(out, 'utf8'), 'X509 CRL')[0]?.der ?? Buffer.alloc(0);
    const c = parseCrl(der);
    expect(c.issuerDer.equals(pki.issuing.subjectDer)).toBe(true);
    expect(c.crlNumber).toBe(0x1fn);
    expect(c.authorityKeyId?.equals(pki.issuing.subjectKeyId)).toBe(true);
    expect(c.nextUpdate!.getTime() - c.thisUpdate.getTime()).toBe(2 * 86_400_000);
    expect(c.revoked).toEqual([
      { serialHex: s1.toLowerCase(), revokedAt, reason: 1 },
      { serialHex: s2.toLowerCase(), revokedAt },
    ]);
  });

  it('ok/round trip of buildCrl', async () => {
    const der = await buildCrl(opts(pki.issuing, [{ serialNumber: pki.devices.highBit.serial, revokedAt, reason: 9 }], { crlNumber: 2n ** 64n }));
    const c = parseCrl(der);
    expect(c.crlNumber).toBe(2n ** 64n);
    expect(c.thisUpdate.getTime()).toBe(Math.floor(thisUpdate.getTime() / 1000) * 1000);
    expect(c.revoked).toEqual([{ serialHex: pki.devices.highBit.serial.toString('hex'), revokedAt, reason: 9 }]);
    expect(c.tbsDer.length).toBeLessThan(der.length);
  });

  // Mutations of a small valid CRL; each must be refused.
  async function small(): Promise<Buffer> {
    return buildCrl(opts(pki.issuing, [{ serialNumber: Buffer.from([0x11]), revokedAt, reason: 1 }]));
  }
  /** Replaces the first occurrence of `from` (hex) with `to` (hex), same length. */
  const patch = (der: Buffer, from: string, to: string): Buffer => {
    const i = der.indexOf(Buffer.from(from, 'hex'));
    expect(i).toBeGreaterThan(-1);
    const out = Buffer.from(der);
    Buffer.from(to, 'hex').copy(out, i);
    return out;
  };

  it('fail/truncated, trailing bytes, wrong tag, random bytes', async () => {
    const der = await small();
    for (const n of [0, 1, 5, der.length - 1]) expectCode(() => parseCrl(der.subarray(0, n)), 'crl.malformed');
    expectCode(() => parseCrl(Buffer.concat([der, Buffer.from([0])])), 'crl.malformed', /trailing/);
    const set = Buffer.from(der);
    set[0] = 0x31;
    expectCode(() => parseCrl(set), 'crl.malformed');
    for (let i = 0; i < 100; i++) expectCode(() => parseCrl(randomBytes(1 + i * 3)), 'crl.malformed');
  });

  it('fail/version other than v2', async () => {
    const d = patch(await small(), '020101', '020102');
    expectCode(() => parseCrl(d), 'crl.malformed', /version/);
  });

  it('fail/inner and outer signature algorithms differ', async () => {
    // ecdsa-with-SHA256 (…04 03 02) appears first inside tbsCertList; make it SHA-384.
    const d = patch(await small(), '2a8648ce3d040302', '2a8648ce3d040303');
    expectCode(() => parseCrl(d), 'crl.malformed', /signature algorithms differ/);
  });

  it('fail/bad time', async () => {
    const der = await small();
    const yy = Buffer.from(der.toString('latin1').match(/\d{12}Z/)![0], 'latin1').toString('hex');
    expectCode(() => parseCrl(patch(der, yy, Buffer.from('25O301120005Z', 'latin1').toString('hex'))), 'crl.malformed', /time/);
  });

  it('fail/unassigned reason code', async () => {
    const d = patch(await small(), '0a0101', '0a0107');
    expectCode(() => parseCrl(d), 'crl.malformed', /reasonCode/);
  });

  it('fail/unsupported critical CRL and entry extensions', () => {
    const alg = keyObjectSigner(pki.issuing.privateKey).signatureAlgorithm;
    const ext = (id: string, critical: boolean): Buffer => seq(oid(id), ...(critical ? [bool(true)] : []), octets(seq()));
    const crl = (entryExts: Buffer[], crlExts: Buffer[]): Buffer =>
      seq(
        seq(
          int(1), alg, pki.issuing.subjectDer, time(thisUpdate), time(nextUpdate),
          seq(seq(int(0x11), time(revokedAt), ...(entryExts.length ? [seq(...entryExts)] : []))),
          ...(crlExts.length ? [explicit(0, seq(...crlExts))] : []),
        ),
        alg,
        bitString(Buffer.alloc(8)),
      );
    // non-critical unknown extensions are ignored (RFC 5280 §5.2)
    expect(parseCrl(crl([ext('2.5.29.29', false)], [ext('2.5.29.27', false)])).revoked).toHaveLength(1);
    // certificateIssuer (indirect CRL) and deltaCRLIndicator are not understood: the CRL must not be used
    expectCode(() => parseCrl(crl([ext('2.5.29.29', true)], [])), 'crl.unsupported_critical_extension', /2\.5\.29\.29/);
    expectCode(() => parseCrl(crl([], [ext('2.5.29.27', true)])), 'crl.unsupported_critical_extension', /2\.5\.29\.27/);
  });

  it('fail/parseCrlReason rejects unknown names and lists the allowed ones', () => {
    for (const bad of ['', 'compromised', '7', 'KeyCompromise2', 'key compromise']) {
      expectCode(() => parseCrlReason(bad), 'crl.bad_reason', /keyCompromise, cACompromise/);
    }
  });

  it('ok/parseCrlReason and crlReasonName', () => {
    expect(parseCrlReason('keyCompromise')).toBe(1);
    expect(parseCrlReason('CESSATIONOFOPERATION')).toBe(5);
    expect(parseCrlReason(' removeFromCRL ')).toBe(8);
    expect(parseCrlReason('aACompromise')).toBe(10);
    expect(crlReasonName(8)).toBe('removeFromCRL');
    expect(crlReasonName(7)).toBeUndefined();
  });
});
