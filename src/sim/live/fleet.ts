/**
 * Setting up a live run the way an operator would: API tokens for the feeds, the fleet
 * loaded into the registry (REST CSV import), a one-time enrollment token per device (REST),
 * then every device enrolls over EST (RFC 7030 §4.2.1 simpleenroll, HTTP Basic) with a key it
 * generated itself. Units that are lost or decommissioned in the simulation were once in
 * service: they enroll as active first, then the operator marks them (REST), which revokes
 * their certificates (docs/pki.md: lost → keyCompromise, decommissioned → cessationOfOperation).
 */
import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AppError } from '../../core/index.js';
import { buildCsr, OID } from '../../pki/index.js';
import { Api, problemText, tlsAgent, tlsRequest } from './http.js';
import { certsFromPkcs7, LoopbackMap, toPem } from './net.js';

export interface SimDevice {
  serial: string;
  status: string;
  /** the generator's (random) fingerprint: how the event stream names this device's certificate */
  simFingerprint: string;
  /** first address on its line, loopback-mapped (the device enrolls from there) */
  address: string;
  key?: string;
  cert?: string;
  /** SHA-256 of the DER certificate, lowercase hex (FORMATS.md §1) */
  fingerprint?: string;
}

export interface Setup {
  ca: string;
  admin: Api;
  ingest: Api;
  payment: Api;
  devices: Map<string, SimDevice>;
  /** generator fingerprint → serial of the device it was issued to */
  bySimFingerprint: Map<string, string>;
}

/** Runs `f` over `items` with at most `n` in flight. */
export async function pool<T>(items: readonly T[], n: number, f: (x: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      await f(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}

/** Reads the generator's registry.csv (no quoting: the generator writes none) and rewrites it for the server. */
export function registryForServer(path: string, net: LoopbackMap): { csv: string; devices: SimDevice[] } {
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
  const header = (lines[0] ?? '').split(',');
  const col = (name: string): number => {
    const i = header.indexOf(name);
    if (i < 0) throw new AppError('internal', 'sim.registry', `registry.csv has no ${name} column`);
    return i;
  };
  const [cSerial, cStatus, cPrefix, cFp] = [col('serial'), col('status'), col('ip_prefixes'), col('cert_fingerprints')];
  const out = [header.join(',')];
  const devices: SimDevice[] = [];
  for (const line of lines.slice(1)) {
    const f = line.split(',');
    const status = f[cStatus] as string;
    const prefix = net.prefix(f[cPrefix] as string);
    devices.push({ serial: f[cSerial] as string, status, simFingerprint: f[cFp] as string, address: prefix.replace(/0\/24$/, '10') });
    f[cPrefix] = prefix;
    // The server learns real fingerprints when it issues certificates; the generator's are placeholders.
    f[cFp] = '';
    // A lost or decommissioned unit was in service once: it enrolls as active, then is marked.
    if (status === 'lost' || status === 'decommissioned') f[cStatus] = 'active';
    out.push(f.join(','));
  }
  return { csv: out.join('\n') + '\n', devices };
}

/** Tokens, registry, enrollment tokens, EST enrollment, status changes. */
export async function setUp(admin: Api, est: URL, registryPath: string, net: LoopbackMap, concurrency: number, onEnrolled: (serial: string, done: number, total: number) => void, onFail: (serial: string, why: string) => void): Promise<Setup> {
  const ca = (await admin.call('GET', '/ca/chain.pem')).body;
  if (!ca.includes('BEGIN CERTIFICATE')) throw new AppError('unavailable', 'sim.no_ca', `${admin.base}/ca/chain.pem gave no CA certificate: is the server's CA initialised?`);
  const mk = async (role: string): Promise<Api> => new Api(admin.base, (await admin.json<{ token: string }>('POST', '/v1/tokens', { role, label: `femtoguard simulate (${role})` })).token);
  const ingest = await mk('ingest');
  const payment = await mk('payment');

  const { csv, devices } = registryForServer(registryPath, net);
  const imported = await admin.json<{ errors: { line: number; message: string }[]; inserted: number; updated: number }>('POST', '/v1/devices/import', csv, 'text/csv');
  if (imported.errors.length) throw new AppError('internal', 'sim.registry_import', `the server refused registry rows: line ${imported.errors[0]?.line}: ${imported.errors[0]?.message}`);

  const byId = new Map(devices.map((d) => [d.serial, d]));
  const bySimFingerprint = new Map(devices.map((d) => [d.simFingerprint, d.serial]));
  const enrolling = devices.filter((d) => d.status !== 'provisioned');
  let done = 0;
  await pool(enrolling, concurrency, async (d) => {
    try {
      await enroll(admin, est, ca, d);
      onEnrolled(d.serial, ++done, enrolling.length);
    } catch (e) {
      if (e instanceof AppError && (e.kind === 'unavailable' || e.kind === 'unauthenticated' || e.kind === 'forbidden')) throw e;
      onFail(d.serial, (e as Error).message);
    }
  });
  for (const d of devices) {
    if (d.status === 'lost' || d.status === 'decommissioned') {
      await admin.json('POST', `/v1/devices/${encodeURIComponent(d.serial)}/status`, { status: d.status, reason: d.status === 'lost' ? 'reported lost by the subscriber (simulation)' : 'returned and retired (simulation)' });
    }
  }
  return { ca, admin, ingest, payment, devices: byId, bySimFingerprint };
}

/** One device: a fresh P-256 key, a CSR naming its serial, a one-time token, simpleenroll. */
async function enroll(admin: Api, est: URL, ca: string, d: SimDevice): Promise<void> {
  const { token } = await admin.json<{ token: string }>('POST', `/v1/devices/${encodeURIComponent(d.serial)}/enroll-tokens`, { ttlSeconds: 3600 });
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const csr = buildCsr({ privateKey, subject: [{ type: OID.serialNumber, value: d.serial }, { type: OID.commonName, value: d.serial }] });
  const agent = tlsAgent(ca, {}, d.address);
  try {
    const url = new URL('/.well-known/est/simpleenroll', est);
    const r = await tlsRequest(url, agent, 'POST', { authorization: `Basic ${Buffer.from(`${d.serial}:${token}`).toString('base64')}`, 'content-type': 'application/pkcs10' }, csr.toString('base64'), d.address).catch((e: Error) => {
      throw new AppError('unavailable', 'sim.est_unreachable', `cannot reach EST at ${est.origin}: ${(e as NodeJS.ErrnoException).code ?? e.message} (set --est to the server's TLS listener)`);
    });
    if (r.status !== 200) throw new Error(`EST simpleenroll for ${d.serial} answered ${r.status}: ${problemText(r.body)}`);
    // A certs-only reply is a DER SET OF (sorted), so the device's own certificate is the one for its key.
    const leaf = certsFromPkcs7(r.body).find((der) => new X509Certificate(der).checkPrivateKey(privateKey));
    if (!leaf) throw new Error(`EST simpleenroll for ${d.serial}: no certificate for the device's key in the reply`);
    d.key = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    d.cert = toPem(leaf);
    d.fingerprint = createHash('sha256').update(leaf).digest('hex');
  } finally {
    agent.destroy();
  }
}
