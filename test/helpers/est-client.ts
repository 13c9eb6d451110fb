/**
 * EST (RFC 7030) and OCSP (RFC 6960) driven through the real clients a femtocell or a
 * security gateway would use: `openssl req` for keys and CSRs, `curl` for EST (HTTP Basic
 * with a one-time token, or mutual TLS with a certificate), `openssl pkcs7/x509/ocsp` to
 * read what the server answers. Nothing here parses femtoguard's output with femtoguard.
 */
import { createHash, createPublicKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { deviceCreateSchema } from '../../src/registry/index.js';
import { run, type RunResult } from './run.js';
import type { TestServer } from './server.js';

export { run, cli } from './run.js';

/** Throws with the client's stderr when a setup step (not the behaviour under test) fails. */
function must(r: RunResult, what: string): RunResult {
  if (r.status !== 0) throw new Error(`${what} failed (exit ${String(r.status)}): ${r.stderr}`);
  return r;
}

let counter = 0;
const unique = (s: string): string => `${s.replace(/[^A-Za-z0-9_-]/g, '_')}-${++counter}`;

export type Curve = 'P-256' | 'P-384';

/** A new EC private key (PEM) in `work`. */
export async function makeKey(work: string, name: string, curve: Curve = 'P-256'): Promise<string> {
  const keyPath = join(work, `${unique(name)}.key`);
  must(await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${curve}`, '-out', keyPath]), 'openssl genpkey');
  return keyPath;
}

export interface Csr {
  keyPath: string;
  /** DER PKCS#10 */
  derPath: string;
  /** base64 of the DER on one line: the RFC 7030 §4.2.1 body */
  b64Path: string;
  /** lowercase hex SHA-256 of the key's SubjectPublicKeyInfo (how the store names a key binding) */
  spkiSha256: string;
}

/** SHA-256 of a PEM key's SubjectPublicKeyInfo, as the certificate store records it. */
export function spkiSha256Of(keyPath: string): string {
  const spki = createPublicKey(readFileSync(keyPath)).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('hex');
}

/**
 * `openssl req` CSR naming `serial` in subject serialNumber and CN (as in the README quick
 * start). `keyPath` reuses a key; otherwise a new one on `curve`.
 */
export async function makeCsr(work: string, serial: string, opts: { curve?: Curve; keyPath?: string; subj?: string } = {}): Promise<Csr> {
  const keyPath = opts.keyPath ?? (await makeKey(work, serial, opts.curve));
  const base = join(work, unique(`${serial}-csr`));
  const derPath = `${base}.der`;
  const subj = opts.subj ?? `/serialNumber=${serial}/CN=${serial}`;
  must(await run('openssl', ['req', '-new', '-key', keyPath, '-subj', subj, '-outform', 'DER', '-out', derPath]), 'openssl req');
  const b64Path = `${base}.b64`;
  writeFileSync(b64Path, readFileSync(derPath).toString('base64'));
  return { keyPath, derPath, b64Path, spkiSha256: spkiSha256Of(keyPath) };
}

export interface HttpReply {
  status: number;
  /** lower-case header names, of the final response */
  headers: Record<string, string>;
  body: string;
  bodyBytes: Buffer;
  curl: RunResult;
}

/** Runs curl with `-o`/`-D` files so status, headers and body come back exactly as sent. */
export async function curlRequest(work: string, args: readonly string[]): Promise<HttpReply> {
  const base = join(work, unique('curl'));
  const bodyPath = `${base}.body`;
  const headPath = `${base}.head`;
  writeFileSync(bodyPath, '');
  writeFileSync(headPath, '');
  const r = await run('curl', ['-sS', '-o', bodyPath, '-D', headPath, '-w', '%{http_code}', ...args]);
  const status = Number(r.stdout.trim());
  if (!status) throw new Error(`curl failed (exit ${String(r.status)}): ${r.stderr}`);
  // A 100 Continue block may precede the final response: keep the last block.
  const blocks = readFileSync(headPath, 'latin1').split(/\r?\n\r?\n/).filter((b) => b.trim().length > 0);
  const headers: Record<string, string> = {};
  for (const line of (blocks[blocks.length - 1] ?? '').split(/\r?\n/).slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const bodyBytes = readFileSync(bodyPath);
  return { status, headers, body: bodyBytes.toString('latin1'), bodyBytes, curl: r };
}

export type EstOp = 'simpleenroll' | 'simplereenroll' | 'cacerts' | 'csrattrs';

export interface EstRequest {
  /** file sent with --data-binary; `body` sends a literal string instead; neither is a GET */
  bodyPath?: string;
  body?: string;
  /** HTTP Basic user:password */
  basic?: { user: string; password: string };
  /** client certificate and key for mutual TLS */
  cert?: string;
  key?: string;
  contentType?: string;
}

/** One EST request over TLS with curl, trusting only the femtoguard chain. */
export function est(t: TestServer, op: EstOp, req: EstRequest = {}): Promise<HttpReply> {
  const args = ['--cacert', t.chainPath];
  if (req.basic) args.push('-u', `${req.basic.user}:${req.basic.password}`);
  if (req.cert) args.push('--cert', req.cert);
  if (req.key) args.push('--key', req.key);
  if (req.bodyPath !== undefined || req.body !== undefined) {
    args.push('-H', `Content-Type: ${req.contentType ?? 'application/pkcs10'}`);
    args.push('--data-binary', req.bodyPath !== undefined ? `@${req.bodyPath}` : (req.body as string));
  }
  args.push(`${t.https}/.well-known/est/${op}`);
  return curlRequest(t.work, args);
}

/** RFC 7030 §4.2.1 first enrollment with a one-time token (HTTP Basic, user = serial). */
export function enroll(t: TestServer, user: string, token: string, csr: Csr): Promise<HttpReply> {
  return est(t, 'simpleenroll', { basic: { user, password: token }, bodyPath: csr.b64Path });
}

/** RFC 7030 §4.2.2 re-enrollment authenticated by the current certificate over mutual TLS. */
export function reenroll(t: TestServer, csr: Csr, certPath: string, keyPath: string): Promise<HttpReply> {
  return est(t, 'simplereenroll', { cert: certPath, key: keyPath, bodyPath: csr.b64Path });
}

/** Decodes an EST base64 PKCS#7 reply and lets `openssl pkcs7 -print_certs` read it. Returns the PEM path. */
export async function pkcs7ToPem(work: string, reply: HttpReply, name: string): Promise<{ pemPath: string; pem: string }> {
  const derPath = join(work, `${unique(name)}.p7b`);
  writeFileSync(derPath, Buffer.from(reply.body, 'base64'));
  const pemPath = join(work, `${unique(name)}.pem`);
  must(await run('openssl', ['pkcs7', '-inform', 'DER', '-in', derPath, '-print_certs', '-out', pemPath]), 'openssl pkcs7');
  return { pemPath, pem: readFileSync(pemPath, 'utf8') };
}

/** Certificate serial number as the store keys it (lowercase hex, no leading zero bytes). */
export async function certSerialHex(certPath: string): Promise<string> {
  const r = must(await run('openssl', ['x509', '-in', certPath, '-noout', '-serial']), 'openssl x509 -serial');
  return r.stdout.trim().replace(/^serial=/, '').toLowerCase().replace(/^(00)+(?=.)/, '');
}

/** Adds a device straight through the registry (setup; the CLI costs ~1 s per call). */
export async function addDevice(t: TestServer, serial: string, status: 'provisioned' | 'active' = 'provisioned'): Promise<void> {
  await t.srv.base.registry.add(deviceCreateSchema.parse({ serial, status }), 'test');
}

export async function newToken(t: TestServer, serial: string): Promise<string> {
  return (await t.srv.base.enrollment.createToken(serial, 3600, 'test')).token;
}

export interface EnrolledDevice {
  serial: string;
  token: string;
  csr: Csr;
  certPath: string;
  keyPath: string;
  serialHex: string;
}

/** Registry entry + token + CSR + curl enrollment: a device holding a fresh certificate. */
export async function enrollNewDevice(t: TestServer, serial: string): Promise<EnrolledDevice> {
  await addDevice(t, serial);
  const token = await newToken(t, serial);
  const csr = await makeCsr(t.work, serial);
  const r = await enroll(t, serial, token, csr);
  if (r.status !== 200) throw new Error(`enrollment of ${serial} failed: ${r.status} ${r.body}`);
  const { pemPath } = await pkcs7ToPem(t.work, r, serial);
  return { serial, token, csr, certPath: pemPath, keyPath: csr.keyPath, serialHex: await certSerialHex(pemPath) };
}

/** The issuing CA certificate alone (what `openssl ocsp -issuer` wants). */
export function issuingPem(t: TestServer): string {
  const p = join(t.work, 'issuing.pem');
  writeFileSync(p, `-----BEGIN CERTIFICATE-----\n${t.srv.ca.ca.issuing.der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`);
  return p;
}

export interface OcspResult {
  /** good | revoked | unknown, or null when openssl printed no status line */
  status: string | null;
  /** the `Reason:` line for revoked certificates */
  reason: string | null;
  /** openssl printed "Response verify OK" (signature and responder authorisation checked) */
  verifyOk: boolean;
  stdout: string;
  stderr: string;
}

/** Reads the status `openssl ocsp` printed for the one certificate asked about. */
export function parseOcspOutput(r: RunResult): OcspResult {
  const m = /:\s*(good|revoked|unknown)\s*$/m.exec(r.stdout);
  const reason = /Reason:\s*(\S+)/.exec(r.stdout);
  return { status: m?.[1] ?? null, reason: reason?.[1] ?? null, verifyOk: /Response verify OK/.test(r.stderr + r.stdout), stdout: r.stdout, stderr: r.stderr };
}

/**
 * `openssl ocsp` against `${http}/ocsp`: by certificate (`certPath`) or by serial number
 * (`{ serial: '0x..' }`), CertID hashed with SHA-1 (openssl's default) or SHA-256.
 */
export async function ocspStatus(t: TestServer, target: string | { serial: string }, opts: { sha256?: boolean; extra?: readonly string[] } = {}): Promise<OcspResult> {
  // openssl applies a digest option to the -cert/-serial options after it, so it goes first.
  const args = ['ocsp', '-issuer', issuingPem(t), ...(opts.sha256 ? ['-sha256'] : []), ...(typeof target === 'string' ? ['-cert', target] : ['-serial', target.serial])];
  if (opts.extra) args.push(...opts.extra);
  args.push('-url', `${t.http}/ocsp`, '-CAfile', t.chainPath);
  return parseOcspOutput(await run('openssl', args));
}

/**
 * Everything an enrollment could leave behind: certificate rows, key and vendor bindings
 * (whole tables), and per serial the status, its history length and which tokens are used.
 * A refused request must leave this unchanged.
 */
export async function storeTrace(t: TestServer, serials: readonly string[]): Promise<Record<string, unknown>> {
  const db = t.srv.base.stores.db;
  const count = (table: string): number => db.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get() as number;
  const per: Record<string, unknown> = {};
  for (const s of serials) {
    per[s] = {
      status: (await t.srv.base.registry.get(s))?.status ?? null,
      history: (await t.srv.base.registry.history(s)).length,
      certificates: (await t.srv.base.stores.certs.list({ deviceSerial: s })).map((c) => `${c.serialHex}:${c.status}`),
      tokensUsed: (await t.srv.base.enrollment.listTokens(s)).map((x) => x.usedAt),
    };
  }
  return { certificates: count('certificates'), keyBindings: count('key_bindings'), vendorBindings: count('vendor_bindings'), per };
}

/** RFC 7030 §4.2.3: a refusal is text/plain; femtoguard's starts with the stable code. */
export function expectRefused(r: HttpReply, status: number, code: string, says?: RegExp): void {
  expect(r.status, r.body).toBe(status);
  expect(r.headers['content-type']).toMatch(/^text\/plain/);
  expect(r.body.startsWith(`${code}: `), r.body).toBe(true);
  if (says) expect(r.body).toMatch(says);
}
