import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isAppError } from '../core/errors.js';
import { parseRoot, readNode } from './der.js';
import { OID } from './oids.js';
import { encodeName, nameToString, parseName, type NameAttr } from './names.js';
import { buildCsr } from './csr-build.js';

const asn1 = (der: Buffer): string => execFileSync('openssl', ['asn1parse', '-inform', 'DER'], { input: der, encoding: 'utf8' });
const parseWhole = (der: Buffer): NameAttr[] => parseName(der, parseRoot(der));
/** Subject of a CSR as openssl prints it in RFC 2253 form (reverse order, escaped). */
function opensslSubject(subject: NameAttr[]): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return execFileSync('openssl', ['req', '-inform', 'DER', '-noout', '-subject', '-nameopt', 'RFC2253'], { input: buildCsr({ privateKey, subject }), encoding: 'utf8' }).trim();
}

describe('encodeName', () => {
  it('ok/string types: PrintableString for C and serialNumber, UTF8String otherwise', () => {
    const der = encodeName([
      { type: OID.countryName, value: 'DE' }, { type: OID.organizationName, value: 'Telco AG' },
      { type: OID.commonName, value: 'KTF000001' }, { type: OID.serialNumber, value: 'KTF000001' },
    ]);
    const lines = asn1(der).split('\n').filter((l) => /STRING/.test(l));
    expect(lines.map((l) => /prim: (\w+)\s+:(.*)$/.exec(l)?.slice(1, 3))).toEqual([
      ['PRINTABLESTRING', 'DE'], ['UTF8STRING', 'Telco AG'], ['UTF8STRING', 'KTF000001'], ['PRINTABLESTRING', 'KTF000001'],
    ]);
    expect(asn1(der).match(/cons: SET/g)).toHaveLength(4); // one attribute per RDN
  });

  it('ok/a serialNumber outside the PrintableString alphabet falls back to UTF8String', () => {
    expect(asn1(encodeName([{ type: OID.serialNumber, value: 'KTF_01*' }]))).toMatch(/UTF8STRING\s+:KTF_01\*/);
  });

  it('ok/openssl reads the name we write, including non-ASCII and special characters', () => {
    const subj = opensslSubject([{ type: OID.organizationName, value: 'Zürich, Süd' }, { type: OID.commonName, value: 'a+b' }]);
    expect(subj).toBe('subject=CN=a\\+b,O=Z\\C3\\BCrich\\, S\\C3\\BCd');
  });

  it('ok/round trip through parseName', () => {
    const attrs = [{ type: OID.commonName, value: 'Zelle 7 ☎' }, { type: '1.2.3.4.5', value: 'x' }];
    expect(parseWhole(encodeName(attrs))).toEqual(attrs);
  });
});

describe('parseName', () => {
  it('ok/multi-valued RDNs from openssl are flattened in order', () => {
    const out = execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', '/dev/null',
      '-multivalue-rdn', '-subj', '/C=FR/CN=a+OU=b', '-outform', 'DER'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const cri = readNode(out, readNode(out, 0).contentStart);
    const version = readNode(out, cri.contentStart);
    const attrs = parseName(out, readNode(out, version.end));
    expect(attrs.map((a) => a.value).sort()).toEqual(['FR', 'a', 'b']);
    expect(attrs[0]).toEqual({ type: OID.countryName, value: 'FR' });
  });

  const bad: [string, string][] = [
    ['a SET instead of a SEQUENCE', '3100'],
    ['an empty RDN', '30023100'],
    ['an ATV with two values', '300e310c300a0603550403130161130162'],
    ['an ATV without a value', '3009310730050603550403'],
    ['a non-string value', '300c310a30080603550403020101'],
    ['an RDN that is not a SET', '300c300a30080603550403130178'],
    ['a length running past the end', '300c310a3008060355040313057878'],
  ];
  it.each(bad)('fail/refuses %s with der.malformed', (_what, hex) => {
    try {
      const b = Buffer.from(hex, 'hex');
      parseName(b, readNode(b, 0));
      throw new Error('accepted');
    } catch (e) {
      expect(isAppError(e) && e.code).toBe('der.malformed');
    }
  });
});

describe('nameToString', () => {
  it('ok/short names and dotted OIDs, in encoding order', () => {
    expect(nameToString([{ type: OID.commonName, value: 'KTF000001' }, { type: OID.serialNumber, value: 'KTF000001' }])).toBe('CN=KTF000001, serialNumber=KTF000001');
    expect(nameToString([{ type: OID.countryName, value: 'DE' }, { type: OID.organizationName, value: 'O' }, { type: OID.organizationalUnitName, value: 'U' }, { type: '2.5.4.7', value: 'Bonn' }]))
      .toBe('C=DE, O=O, OU=U, 2.5.4.7=Bonn');
  });
  it('fail/special characters cannot break out of a value (RFC 4514 §2.4 escaping)', () => {
    expect(nameToString([{ type: OID.commonName, value: 'x, CN=admin' }])).toBe('CN=x\\, CN\\=admin');
    expect(nameToString([{ type: OID.commonName, value: '#a+b;"<>\\ ' }])).toBe('CN=\\#a\\+b\\;\\"\\<\\>\\\\\\ ');
    expect(nameToString([{ type: OID.commonName, value: 'a\nb' }])).toBe('CN=a\\0ab');
  });
});
