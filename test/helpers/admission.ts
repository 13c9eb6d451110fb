/**
 * Admission test helpers: a server with a gateway pool on loopback aliases (127.0.0.2-4, no
 * setup needed on Linux), active enrolled devices, check-ins with curl as the device
 * (`--cert/--key`, `--interface` to choose the source address), and a foreign CA made with
 * openssl.
 */
import { createServer } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { sqliteDecisionStore } from '../../src/adapters/sqlite/decision-store.js';
import type { RecordedDecision } from '../../src/admission/index.js';
import type { ConfigInput } from '../../src/config/index.js';
import type { DeviceInput } from '../../src/registry/index.js';
import { curlRequest, enrollNewDevice, type EnrolledDevice, type HttpReply } from './est-client.js';
import { run, type RunResult } from './run.js';
import { startTestServer, type TestServer } from './server.js';

export const POOL_HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'] as const;

function canListen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ host, port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** A port free on every pool host. */
export async function freePoolPort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    let ok = true;
    for (const h of POOL_HOSTS) ok = ok && (await canListen(h, port));
    if (ok) return port;
  }
  throw new Error('no free port on 127.0.0.2-4');
}

export interface AdmissionServer extends TestServer {
  pool: string[];
}

/** A test server whose admission listeners serve 127.0.0.2-4 on one free port. */
export async function startAdmissionServer(admission: Record<string, unknown> = {}, rest: Partial<ConfigInput> = {}): Promise<AdmissionServer> {
  const port = await freePoolPort();
  const pool = POOL_HOSTS.map((h) => `${h}:${port}`);
  const rotation = { pool, graceSeconds: 3600, pollMs: 100, ...((admission.rotation as object | undefined) ?? {}) };
  const t = await startTestServer({ ...rest, admission: { ...admission, rotation } } as Partial<ConfigInput>);
  return Object.assign(t, { pool });
}

/** An enrolled device (curl EST with a token) made active, with the registry fields given. */
export async function activeDevice(t: TestServer, serial: string, fields: Partial<Omit<DeviceInput, 'serial' | 'status'>> = {}): Promise<EnrolledDevice> {
  const dev = await enrollNewDevice(t, serial);
  const reg = t.srv.base.registry;
  await reg.update(serial, { ipPrefixes: ['127.0.0.0/29'], cellIds: ['45008-200000001'], siteLat: 37.5665, siteLon: 126.978, siteRadiusM: 300, ...fields }, 'test');
  // first enrollment already makes a provisioned device active
  if ((await reg.mustGet(serial)).status !== 'active') await reg.setStatus(serial, 'active', 'test', 'installed');
  return dev;
}

export interface CheckinRequest {
  cert?: string;
  key?: string;
  /** JSON body (an object is serialised); a string is sent as is */
  body?: unknown;
  bodyPath?: string;
  /** source address (curl --interface) */
  from?: string;
}

/** `POST /v1/femto/checkin` with curl against `endpoint` (host:port), trusting only femtoguard's chain. */
export function checkin(t: TestServer, endpoint: string, req: CheckinRequest): Promise<HttpReply> {
  const args = ['--cacert', t.chainPath, '--interface', req.from ?? '127.0.0.1', '-H', 'Content-Type: application/json'];
  if (req.cert) args.push('--cert', req.cert);
  if (req.key) args.push('--key', req.key);
  if (req.bodyPath) args.push('--data-binary', `@${req.bodyPath}`);
  else args.push('--data-binary', typeof req.body === 'string' ? req.body : JSON.stringify(req.body ?? {}));
  args.push(`https://${endpoint}/v1/femto/checkin`);
  return curlRequest(t.work, args);
}

/** A check-in as `dev` reporting its own serial (plus `report` fields). */
export function checkinAs(t: TestServer, endpoint: string, dev: { serial: string; certPath: string; keyPath: string }, report: Record<string, unknown> = {}, from = '127.0.0.5'): Promise<HttpReply> {
  return checkin(t, endpoint, { cert: dev.certPath, key: dev.keyPath, body: { serial: dev.serial, ...report }, from });
}

/** A refusal: the status, and a body of exactly `{decision:'deny', reason}`. */
export function expectDenied(r: HttpReply, status: number, reason: string): void {
  expect({ status: r.status, body: r.body }).toEqual({ status, body: JSON.stringify({ decision: 'deny', reason }) });
}

export function decisions(t: TestServer, serial?: string): Promise<RecordedDecision[]> {
  return sqliteDecisionStore(t.srv.base.stores.db).list({ serial, limit: 1000 });
}

function must(r: RunResult, what: string): RunResult {
  if (r.status !== 0) throw new Error(`${what} failed (exit ${String(r.status)}): ${r.stderr}`);
  return r;
}

/** A CA that is not femtoguard's (openssl), and a client certificate from it naming `serial`. */
export async function foreignCertificate(work: string, serial: string): Promise<{ certPath: string; keyPath: string }> {
  const p = (n: string): string => join(work, `foreign-${serial}-${n}`);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  must(await run('openssl', ['req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '30', '-subj', '/O=femtoguard/CN=femtoguard Device Issuing CA']), 'openssl ca');
  must(await run('openssl', ['req', '-new', ...ec, '-keyout', p('dev.key'), '-out', p('dev.csr'), '-subj', `/serialNumber=${serial}/CN=${serial}`]), 'openssl req');
  writeFileSync(p('ext.cnf'), 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n');
  must(await run('openssl', ['x509', '-req', '-in', p('dev.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-days', '7', '-extfile', p('ext.cnf'), '-out', p('dev.pem')]), 'openssl x509 -req');
  return { certPath: p('dev.pem'), keyPath: p('dev.key') };
}
