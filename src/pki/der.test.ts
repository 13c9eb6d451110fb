import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { children, fromPemAll, generalizedTime, int, oid, parseRoot, readNode, readOid, readTime, readUnsignedInt, seq, time, tlv, toPem, utf8, type TruncatedPem } from './der.js';

/** openssl asn1parse as the independent reader of what we write. */
function asn1parse(der: Buffer): string {
  const dir = mkdtempSync(join(tmpdir(), 'der-'));
  writeFileSync(join(dir, 'x.der'), der);
  return execFileSync('openssl', ['asn1parse', '-inform', 'DER', '-in', join(dir, 'x.der')]).toString();
}

describe('der writer', () => {
  it('ok/openssl reads integers, OIDs, strings, times and long lengths as written', () => {
    const big = Buffer.alloc(300, 0x41);
    const der = seq(int(0), int(127), int(128), int(0x1234567890n), oid('1.2.840.10045.4.3.2'), utf8('Grüße'), time(new Date('2049-12-31T23:59:59Z')), time(new Date('2050-01-01T00:00:00Z')), tlv(0x04, big));
    const out = asn1parse(der);
    expect(out).toContain('INTEGER           :00');
    expect(out).toContain('INTEGER           :7F');
    expect(out).toContain('INTEGER           :80');
    expect(out).toContain('INTEGER           :1234567890');
    expect(out).toContain('ecdsa-with-SHA256');
    expect(out).toContain('UTCTIME           :491231235959Z');
    expect(out).toContain('GENERALIZEDTIME   :20500101000000Z');
    expect(out).toContain('l= 300 prim: OCTET STRING');
  });

  it('ok/reader round-trips what the writer wrote', () => {
    const when = new Date('2031-02-03T04:05:06Z');
    const der = seq(int(Buffer.from([0x00, 0x00, 0xff])), oid('2.5.29.19'), generalizedTime(when), time(when));
    const root = parseRoot(der);
    const [i, o, g, u] = children(der, root);
    expect(readUnsignedInt(der, i!).toString('hex')).toBe('ff');
    expect(readOid(der, o!)).toBe('2.5.29.19');
    expect(readTime(der, g!).toISOString()).toBe(when.toISOString());
    expect(readTime(der, u!).toISOString()).toBe(when.toISOString());
  });
});

describe('der reader', () => {
  it('fail/indefinite, non-minimal and overlong lengths', () => {
    expect(() => readNode(Buffer.from([0x30, 0x80, 0x00, 0x00]), 0)).toThrow(/indefinite/);
    expect(() => readNode(Buffer.from([0x04, 0x81, 0x05, 1, 2, 3, 4, 5]), 0)).toThrow(/non-minimal/);
    expect(() => readNode(Buffer.from([0x04, 0x05, 1, 2]), 0)).toThrow(/past its container/);
    expect(() => parseRoot(Buffer.from([0x05, 0x00, 0x00]))).toThrow(/trailing/);
    expect(() => readNode(Buffer.from([0x1f, 0x01, 0x00]), 0)).toThrow(/high tag/);
  });

  it('fail/time values out of range are refused, not rolled over', () => {
    const bad = (s: string, tag = 0x17): Buffer => tlv(tag, Buffer.from(s, 'latin1'));
    for (const b of [bad('251301000000Z'), bad('250132000000Z'), bad('250101240000Z'), bad('250101006000Z'), bad('250101000099Z'), bad('20250230000000Z', 0x18)]) {
      expect(() => readTime(b, parseRoot(b))).toThrow(/out of range/);
    }
    const ok = bad('20240229120000Z', 0x18);
    expect(readTime(ok, parseRoot(ok)).toISOString()).toBe('2024-02-29T12:00:00.000Z');
  });

  it('fail/an OID whose last byte has the continuation bit', () => {
    const b = Buffer.from([0x06, 0x02, 0x2a, 0x86]);
    expect(() => readOid(b, parseRoot(b))).toThrow(/ends inside an arc/);
  });

  it('ok/openssl-written DER parses (a real certificate walk)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'der-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'k'), '-subj', '/CN=x', '-days', '1', '-outform', 'DER', '-out', join(dir, 'c.der')], { stdio: 'ignore' });
    const der = readFileSync(join(dir, 'c.der'));
    const [tbs] = children(der, parseRoot(der));
    expect(children(der, tbs!).length).toBeGreaterThanOrEqual(7);
  });
});

describe('PEM blocks (fromPemAll)', () => {
  const a = seq(int(1));
  const b = seq(int(2));
  const c = seq(int(3));
  const cut = '-----BEGIN CERTIFICATE-----\nMIIBzzCCAXWgAwIBAgIUtruncated\n';
  const read = (text: string, label?: string): { ders: string[]; truncated: TruncatedPem[] } => {
    const truncated: TruncatedPem[] = [];
    const ders = fromPemAll(text, label, (t) => truncated.push(t)).map((x) => x.der.toString('hex'));
    return { ders, truncated };
  };

  it('ok/every block of a bundle, text between blocks ignored, other labels filtered', () => {
    const text = `subject=CN=a\n${toPem('CERTIFICATE', a)}\n${toPem('X509 CRL', b)}${toPem('CERTIFICATE', c)}`;
    expect(read(text)).toEqual({ ders: [a, b, c].map((x) => x.toString('hex')), truncated: [] });
    expect(read(text, 'CERTIFICATE').ders).toEqual([a, c].map((x) => x.toString('hex')));
    expect(fromPemAll(text, 'X509 CRL').map((x) => x.label)).toEqual(['X509 CRL']);
  });

  it('fail/a BEGIN without its END does not swallow the next block: reported by line, reading restarts at the inner BEGIN', () => {
    const text = toPem('CERTIFICATE', a) + cut + toPem('CERTIFICATE', b);
    expect(read(text)).toEqual({ ders: [a, b].map((x) => x.toString('hex')), truncated: [{ label: 'CERTIFICATE', line: 4 }] });
    // cut short at the very end, and two cut blocks in a row
    expect(read(toPem('CERTIFICATE', a) + cut + cut)).toEqual({ ders: [a.toString('hex')], truncated: [{ label: 'CERTIFICATE', line: 4 }, { label: 'CERTIFICATE', line: 6 }] });
  });

  it('fail/an END of another label does not close a block; a later BEGIN still starts afresh', () => {
    const text = `-----BEGIN CERTIFICATE-----\nAAAA\n-----END X509 CRL-----\n${toPem('CERTIFICATE', b)}`;
    expect(read(text)).toEqual({ ders: [b.toString('hex')], truncated: [{ label: 'CERTIFICATE', line: 1 }] });
  });

  it('fail/without a handler a truncated block of the wanted label is refused with its line; other labels are not', () => {
    expect(() => fromPemAll(toPem('CERTIFICATE', a) + cut + toPem('CERTIFICATE', b), 'CERTIFICATE')).toThrow(/^PEM CERTIFICATE block at line 4 has no END line$/);
    expect(fromPemAll(`-----BEGIN PUBLIC KEY-----\nAAAA\n${toPem('CERTIFICATE', b)}`, 'CERTIFICATE').map((x) => x.der.toString('hex'))).toEqual([b.toString('hex')]);
  });

  it('ok/linear in the text: 20,000 BEGIN lines without END read in well under a second', () => {
    const text = cut.repeat(20_000) + toPem('CERTIFICATE', a);
    const t0 = performance.now();
    const r = read(text);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(r.ders).toEqual([a.toString('hex')]);
    expect(r.truncated).toHaveLength(20_000);
    expect(r.truncated[19_999]?.line).toBe(39_999);
  });
});
