/**
 * Fixture fleets for the fleet audit, made with the `openssl` CLI at test time: `openssl ca`
 * signs every certificate with exact validity dates (`-startdate`/`-enddate`), so tests
 * run at a fixed audit time. Keys, digests and extension profiles are chosen per
 * certificate to build the weak, mis-profiled and shared credentials the audit must find.
 */
import { createHash, createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { AuditReport, Finding, Severity } from '../../src/audit/index.js';
import { toPem } from '../../src/pki/der.js';
import { OID } from '../../src/pki/oids.js';
import { buildIssuingCa, buildRootCa, createDeviceIssuer, randomCertSerial } from '../../src/pki/profiles.js';
import { generateKeyPair, keyObjectSigner } from '../../src/pki/signer.js';
import { cli, run } from './run.js';

/** The audit time every fixture is built around. */
export const AUDIT_NOW = '2025-08-05T00:00:00Z';

export type KeySpec = 'P-256' | 'P-384' | 'P-192' | 'secp256k1' | 'RSA-2048' | 'RSA-1024' | 'RSA-2048-e3';
export type Profile =
  | 'root' // CA:TRUE critical, KU keyCertSign+cRLSign
  | 'issuing' // CA:TRUE critical pathlen 0, KU keyCertSign+cRLSign
  | 'issuing-loose' // CA:TRUE not critical, no pathlen, no KU
  | 'issuing-ku-no-certsign' // CA:TRUE critical pathlen 0, KU digitalSignature only
  | 'device' // CA:FALSE, KU digitalSignature, EKU clientAuth
  | 'device-ca' // CA:TRUE on a device certificate
  | 'device-server-eku' // EKU serverAuth only
  | 'device-no-eku' // no EKU
  | 'bare'; // no extensions at all (old factory certificates)

const PROFILES: Readonly<Record<Profile, string[]>> = {
  root: ['basicConstraints = critical,CA:TRUE', 'keyUsage = critical,keyCertSign,cRLSign', 'subjectKeyIdentifier = hash'],
  issuing: ['basicConstraints = critical,CA:TRUE,pathlen:0', 'keyUsage = critical,keyCertSign,cRLSign', 'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid:always'],
  'issuing-loose': ['basicConstraints = CA:TRUE', 'subjectKeyIdentifier = hash'],
  'issuing-ku-no-certsign': ['basicConstraints = critical,CA:TRUE,pathlen:0', 'keyUsage = critical,digitalSignature', 'subjectKeyIdentifier = hash'],
  device: ['basicConstraints = critical,CA:FALSE', 'keyUsage = critical,digitalSignature', 'extendedKeyUsage = clientAuth', 'subjectKeyIdentifier = hash'],
  'device-ca': ['basicConstraints = critical,CA:TRUE', 'keyUsage = critical,digitalSignature,keyCertSign', 'extendedKeyUsage = clientAuth'],
  'device-server-eku': ['basicConstraints = critical,CA:FALSE', 'keyUsage = critical,digitalSignature', 'extendedKeyUsage = serverAuth'],
  'device-no-eku': ['basicConstraints = critical,CA:FALSE', 'keyUsage = critical,digitalSignature'],
  bare: [],
};

const CA_CONFIG = `
[ca]
default_ca = fixture
[fixture]
dir = .
database = ./index.txt
new_certs_dir = ./newcerts
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
email_in_dn = no
rand_serial = yes
[anything]
commonName = optional
serialNumber = optional
organizationName = optional
[req]
distinguished_name = dn
[dn]
`;

export interface FixtureCert {
  certPath: string;
  keyPath: string;
  /** SHA-256 of the DER certificate, lowercase hex (FORMATS.md §1). */
  fingerprint: string;
  der: Buffer;
}

export interface CertSpec {
  /** openssl -subj, e.g. `/serialNumber=KTF1/CN=KTF1`. */
  subject: string;
  /** Adds SAN URI urn:femtoguard:device:<san>. */
  san?: string;
  /** A key kind, or the path of an existing key to reuse. */
  key?: KeySpec | { reuse: string };
  /** RFC 3339 UTC validity. */
  from: string;
  until: string;
  md?: 'sha256' | 'sha1' | 'md5';
  profile?: Profile;
  /** Signing CA; self-signed when 'self'. */
  issuer: FixtureCert | 'self';
  /** File path under the fleet's certificate directory (default `<name>.pem`). */
  file?: string;
}

/** openssl ca wants YYYYMMDDHHMMSSZ. */
function caDate(iso: string): string {
  return new Date(iso).toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const r = await run('openssl', args, { cwd });
  if (r.status !== 0) throw new Error(`openssl ${args.slice(0, 2).join(' ')} failed: ${r.stderr}`);
}

/** Directory layout: `<dir>/pki` (openssl state, keys), `<dir>/certs` (the dump the audit reads). */
export class AuditFleet {
  readonly pki: string;
  readonly certsDir: string;
  private n = 0;

  constructor(readonly dir: string) {
    this.pki = join(dir, 'pki');
    this.certsDir = join(dir, 'certs');
    mkdirSync(join(this.pki, 'newcerts'), { recursive: true });
    mkdirSync(this.certsDir, { recursive: true });
    writeFileSync(join(this.pki, 'index.txt'), '');
    writeFileSync(join(this.pki, 'ca.cnf'), CA_CONFIG);
  }

  async key(spec: KeySpec, name: string): Promise<string> {
    const path = join(this.pki, `${name}.key`);
    const ec = (curve: string): string[] => ['genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${curve}`, '-out', path];
    const rsa = (bits: number, e?: number): string[] => [
      'genpkey', '-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${bits}`, ...(e !== undefined ? ['-pkeyopt', `rsa_keygen_pubexp:${e}`] : []), '-out', path,
    ];
    const args: Record<KeySpec, string[]> = {
      'P-256': ec('P-256'), 'P-384': ec('P-384'), 'P-192': ec('P-192'), secp256k1: ec('secp256k1'),
      'RSA-2048': rsa(2048), 'RSA-1024': rsa(1024), 'RSA-2048-e3': rsa(2048, 3),
    };
    await openssl(args[spec], this.pki);
    return path;
  }

  /** Issues one certificate with `openssl ca` and writes it into the dump (unless `file` is ''). */
  async cert(spec: CertSpec): Promise<FixtureCert> {
    const name = `c${++this.n}`;
    const keyPath = typeof spec.key === 'object' ? spec.key.reuse : await this.key(spec.key ?? 'P-256', name);
    const csr = join(this.pki, `${name}.csr`);
    const ext = join(this.pki, `${name}.ext`);
    const out = join(this.pki, `${name}.pem`);
    const lines = [...PROFILES[spec.profile ?? 'device']];
    if (spec.san !== undefined) lines.push(`subjectAltName = URI:urn:femtoguard:device:${spec.san}`);
    writeFileSync(ext, `[ext]\n${lines.join('\n')}\n`);
    await openssl(['req', '-new', '-config', 'ca.cnf', '-key', keyPath, '-subj', spec.subject, '-out', csr], this.pki);
    const signer = spec.issuer === 'self' ? ['-selfsign', '-keyfile', keyPath] : ['-cert', spec.issuer.certPath, '-keyfile', spec.issuer.keyPath];
    await openssl(
      ['ca', '-batch', '-config', 'ca.cnf', ...signer, '-in', csr, '-out', out, '-startdate', caDate(spec.from), '-enddate', caDate(spec.until),
        '-md', spec.md ?? 'sha256', '-preserveDN', '-notext', '-extfile', ext, '-extensions', 'ext'],
      this.pki,
    );
    const pem = readFileSync(out, 'utf8');
    const der = Buffer.from(new X509Certificate(pem).raw);
    const fixture = { certPath: out, keyPath, fingerprint: createHash('sha256').update(der).digest('hex'), der };
    if (spec.file !== '') this.write(spec.file ?? `${name}.pem`, pem);
    return fixture;
  }

  /** A root (2020-2040) and a device-issuing CA under it (2024-2034, pathlen 0), written as one chain file. */
  async ca(opts: { issuingProfile?: Profile; issuingKey?: KeySpec; issuingUntil?: string; chainFile?: string } = {}): Promise<{ root: FixtureCert; issuing: FixtureCert }> {
    const root = await this.cert({ subject: '/O=Fixture Operator/CN=Fixture Root CA', profile: 'root', issuer: 'self', from: '2020-01-01T00:00:00Z', until: '2040-01-01T00:00:00Z', file: '' });
    const issuing = await this.cert({
      subject: '/O=Fixture Operator/CN=Fixture Issuing CA', profile: opts.issuingProfile ?? 'issuing', key: opts.issuingKey ?? 'P-256', issuer: root,
      from: '2024-01-01T00:00:00Z', until: opts.issuingUntil ?? '2034-01-01T00:00:00Z', file: '',
    });
    this.write(opts.chainFile ?? 'ca/chain.pem', readFileSync(root.certPath, 'utf8') + readFileSync(issuing.certPath, 'utf8'));
    return { root, issuing };
  }

  /** A per-device certificate in femtoguard's style: subject serialNumber+CN and the SAN URN. */
  device(serial: string, issuer: FixtureCert, o: Partial<CertSpec> = {}): Promise<FixtureCert> {
    return this.cert({ subject: `/serialNumber=${serial}/CN=${serial}`, san: serial, issuer, from: '2025-07-20T00:00:00Z', until: '2025-08-19T00:00:00Z', ...o });
  }

  /** Writes a file into the dump directory. */
  write(relPath: string, content: string | Buffer): string {
    const p = join(this.certsDir, relPath);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
    return p;
  }

  /** Writes a registry CSV (FORMATS.md §2) with every column. */
  inventory(rows: InventoryRow[], name = 'inventory.csv'): string {
    const header = 'serial,status,cell_ids,site_lat,site_lon,site_radius_m,ip_prefixes,expected_neighbors,cert_fingerprints,owner';
    const lines = rows.map((r) =>
      [r.serial, r.status, '', r.site?.[0] ?? '', r.site?.[1] ?? '', r.radiusM ?? '', (r.prefixes ?? []).join(';'), '', (r.certs ?? []).join(';'), r.owner ?? ''].join(','),
    );
    const p = join(this.dir, name);
    writeFileSync(p, [header, ...lines].join('\n') + '\n');
    return p;
  }

  /** Writes an NDJSON event file: objects are serialised, strings written as they are (to plant bad lines). */
  sessions(events: (Record<string, unknown> | string)[], name = 'events.ndjson'): string {
    const p = join(this.dir, name);
    writeFileSync(p, events.map((e) => (typeof e === 'string' ? e : JSON.stringify(e))).join('\n') + '\n');
    return p;
  }
}

export interface InventoryRow {
  serial: string;
  status: 'provisioned' | 'active' | 'suspended' | 'decommissioned' | 'lost';
  certs?: string[];
  prefixes?: string[];
  site?: [number, number];
  radiusM?: number;
  owner?: string;
}

// ---------------------------------------------------------------------------------------
// Running the audit through the CLI

export interface AuditRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** The JSON report written with --out, when the run wrote one. */
  report: AuditReport;
}

/**
 * `femtoguard audit ARGS --now AUDIT_NOW --out DIR/report-N.json` through the real CLI, and
 * the report it wrote. Pass `--now` or `--out` in `args` to override.
 */
let runs = 0;
export async function runAuditCli(dir: string, args: readonly string[]): Promise<AuditRun> {
  const extra: string[] = [];
  if (!args.includes('--now')) extra.push('--now', AUDIT_NOW);
  let out = args[args.indexOf('--out') + 1];
  if (!args.includes('--out')) {
    out = join(dir, `report-${++runs}.json`);
    extra.push('--out', out);
  }
  const r = await cli(['audit', ...args, ...extra], process.env);
  let report = undefined as unknown as AuditReport;
  if (out !== undefined && out.endsWith('.json')) {
    try {
      report = JSON.parse(readFileSync(out, 'utf8')) as AuditReport;
    } catch {
      // no report (a usage error): tests assert on status and stderr
    }
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, report };
}

/** The findings of a check, most severe first. */
export function findingsOf(report: AuditReport, id: string): Finding[] {
  return report.findings.filter((f) => f.id === id);
}

/** The one finding of a check at a severity; fails the test when there is not exactly one. */
export function findingOf(report: AuditReport, id: string, severity: Severity): Finding {
  const found = report.findings.filter((f) => f.id === id && f.severity === severity);
  if (found.length !== 1) {
    throw new Error(`expected one ${severity} ${id} finding, got ${found.length}: ${JSON.stringify(report.findings.map((f) => `${f.severity} ${f.id}: ${f.title}`), null, 1)}`);
  }
  return found[0] as Finding;
}

/** "severity id" of every finding: a compact view for assertions and failure messages. */
export function findingIds(report: AuditReport): string[] {
  return report.findings.map((f) => `${f.severity} ${f.id}`);
}

/**
 * Devices issued by femtoguard's own CA code (src/pki profiles: root, issuing CA, device
 * profile), each with its own P-256 key. Written as PEM, except every `derEvery`-th as DER.
 */
export async function femtoguardDevices(
  fleet: AuditFleet,
  serials: readonly string[],
  o: { from: string; until: string; derEvery?: number; dir?: string },
): Promise<{ chainFile: string; fingerprints: Map<string, string> }> {
  const rootSigner = keyObjectSigner(generateKeyPair('P-256').privateKey);
  const issuingKey = generateKeyPair('P-256');
  const rootDer = await buildRootCa({ signer: rootSigner, subject: [{ type: OID.commonName, value: 'femtoguard Fixture Root' }], notBefore: new Date('2024-01-01T00:00:00Z'), notAfter: new Date('2044-01-01T00:00:00Z') });
  const issuingSpki = createPublicKey(issuingKey.privateKey).export({ format: 'der', type: 'spki' });
  const issuingDer = await buildIssuingCa({
    signer: rootSigner, issuerCertDer: rootDer, spki: issuingSpki, subject: [{ type: OID.commonName, value: 'femtoguard Fixture Issuing CA' }],
    notBefore: new Date('2024-01-01T00:00:00Z'), notAfter: new Date('2034-01-01T00:00:00Z'),
  });
  const issuer = createDeviceIssuer({ signer: keyObjectSigner(issuingKey.privateKey), issuerCertDer: issuingDer, ocspUrl: 'http://fixture.invalid/ocsp', crlUrl: 'http://fixture.invalid/crl' });
  const dir = o.dir ?? 'femtoguard';
  const chainFile = fleet.write(`${dir}/chain.pem`, toPem('CERTIFICATE', rootDer) + toPem('CERTIFICATE', issuingDer));
  const fingerprints = new Map<string, string>();
  let k = 0;
  for (const serial of serials) {
    const spki = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'der', type: 'spki' });
    const der = await issuer.issue({ deviceSerial: serial, spki, serialNumber: randomCertSerial(), notBefore: new Date(o.from), notAfter: new Date(o.until) });
    fingerprints.set(serial, createHash('sha256').update(der).digest('hex'));
    k += 1;
    if (o.derEvery !== undefined && k % o.derEvery === 0) fleet.write(`${dir}/${serial}.der`, der);
    else fleet.write(`${dir}/${serial}.pem`, toPem('CERTIFICATE', der));
  }
  return { chainFile, fingerprints };
}
