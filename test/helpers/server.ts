/**
 * Starts a real femtoguard server in this process on ephemeral loopback ports, with its own
 * temporary data directory and CA, for integration tests. The server is the production
 * composition (`startServer`), not a test double.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../src/app/index.js';
import { loadConfig, type ConfigInput } from '../../src/config/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { buildCsr, OID, parseCsr } from '../../src/pki/index.js';
import { deviceCreateSchema } from '../../src/registry/index.js';

export interface TestServer {
  srv: RunningServer;
  dataDir: string;
  /** http://127.0.0.1:PORT */
  http: string;
  /** https://127.0.0.1:PORT */
  https: string;
  /** http://127.0.0.1:PORT of the dedicated revocation listener, when `revocation` was set (e.g. '127.0.0.1:0') */
  revocation: string | null;
  /** PEM file with the issuing and root CA certificates. */
  chainPath: string;
  /** A working directory for the test's files (keys, CSRs), removed at stop. */
  work: string;
  adminToken: string;
  /** env for CLI subprocesses against the same data directory */
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

export const TEST_PASSPHRASE = 'integration-test-passphrase';

export async function startTestServer(overrides: Partial<ConfigInput> = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fg-data-'));
  const work = mkdtempSync(join(tmpdir(), 'fg-work-'));
  const env = { ...process.env, FEMTOGUARD_CA_PASSPHRASE: TEST_PASSPHRASE, FEMTOGUARD_DATA_DIR: dataDir };
  const config = loadConfig({
    env: {},
    flags: { dataDir, http: '127.0.0.1:0', https: '127.0.0.1:0', logLevel: 'silent', changePollMs: 100, ...overrides },
  });
  const srv = await startServer(config, { logger: silentLogger(), env });
  const chainPath = join(work, 'chain.pem');
  writeFileSync(chainPath, srv.ca.ca.chainPem);
  if (!srv.adminToken) throw new Error('expected a first-start admin token');
  return {
    srv,
    dataDir,
    http: srv.httpUrl,
    https: srv.httpsUrl,
    revocation: srv.revocationUrl,
    chainPath,
    work,
    adminToken: srv.adminToken,
    env,
    async stop() {
      await srv.stop();
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(work, { recursive: true, force: true });
    },
  };
}

/** Registers an active device and issues it a certificate through the server's CA (a fresh P-256 key); returns the certificate's serial (hex). */
export async function issueDeviceCert(t: TestServer, serial: string): Promise<string> {
  await t.srv.base.registry.add(deviceCreateSchema.parse({ serial, status: 'active' }), 'test');
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const c = await t.srv.ca.issuance.issue(parseCsr(buildCsr({ privateKey, subject: [{ type: OID.commonName, value: serial }] })), serial, { actor: 'test' });
  return c.serialHex;
}

/** Posts `events` as one NDJSON body to `POST /v1/events` with `token`, then waits until live detection has taken them in. */
export async function postEventsAndFlush(t: TestServer, token: string, events: readonly object[]): Promise<Response> {
  const res = await fetch(`${t.http}/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-ndjson' },
    body: events.map((e) => JSON.stringify(e)).join('\n'),
  });
  if (res.status === 200) await t.srv.live.flush();
  return res;
}
