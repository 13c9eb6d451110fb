/**
 * Child process for bench/admission.ts: the production server (`startServer` through the test
 * helper: temp data dir, fresh CA) with one gateway pool address, 100,000 registered devices,
 * and BENCH_CERTS of them enrolled (P-256 keys and certificates written to WORKDIR/certs for
 * the load client). Also writes a P-256 server certificate from the same CA for nginx, and
 * measures the decision function alone over the full registry before serving.
 *
 *   tsx bench/admission-server.ts WORKDIR HOST:PORT DEVICES CERTS
 *
 * Prints one JSON line when ready; answers `stats` on stdin with the recorded decisions'
 * durations; stops on SIGTERM or when stdin closes.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decide, createPolicyResolver, LiveSessions, type DecisionInput } from '../src/admission/index.js';
import { sqliteDecisionStore } from '../src/adapters/sqlite/decision-store.js';
import { buildCsr, issueTlsServerCertificate, OID, parseCsr, toPem } from '../src/pki/index.js';
import type { DeviceWrite } from '../src/registry/index.js';
import { startTestServer } from '../test/helpers/server.js';

const [work, pool, devicesArg, certsArg] = process.argv.slice(2) as [string, string, string, string];
const DEVICES = Number(devicesArg);
const CERTS = Number(certsArg);
const serialOf = (i: number): string => `BENCH${String(i).padStart(7, '0')}`;

function quantile(sorted: readonly number[], q: number): number {
  return sorted.length ? (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number) : NaN;
}

async function main(): Promise<void> {
  // Production poll interval; rotation far away so the run never crosses one.
  const t = await startTestServer({ changePollMs: 250, admission: { rotation: { pool: [pool], intervalSeconds: 86_400 } } } as never);
  const at = new Date().toISOString();
  const setup0 = Date.now();
  for (let i = 0; i < DEVICES; i += 5000) {
    const writes: DeviceWrite[] = [];
    for (let k = i; k < Math.min(DEVICES, i + 5000); k++) {
      const serial = serialOf(k);
      writes.push({
        kind: 'insert',
        device: { serial, status: 'active', cellIds: [`45008-${200000000 + k}`], siteLat: 37.5 + (k % 1000) / 10_000, siteLon: 127 + (k % 997) / 10_000, siteRadiusM: 300, ipPrefixes: ['127.0.0.0/8'], expectedNeighbors: ['45008-100', '45008-101'], certFingerprints: [], owner: null },
        change: { serial, from: null, to: 'active', actor: 'bench', reason: 'bench', at },
      });
    }
    await t.srv.base.stores.devices.write(writes, at);
  }
  mkdirSync(join(work, 'certs'));
  const fingerprints: string[] = [];
  for (let i = 0; i < CERTS; i++) {
    const serial = serialOf(i);
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const csr = parseCsr(buildCsr({ privateKey, subject: [{ type: OID.serialNumber, value: serial }, { type: OID.commonName, value: serial }] }));
    const cert = await t.srv.ca.issuance.issue(csr, serial, { actor: 'bench' });
    fingerprints.push(cert.fingerprint);
    writeFileSync(join(work, 'certs', `${i}.pem`), toPem('CERTIFICATE', cert.der));
    writeFileSync(join(work, 'certs', `${i}.key`), privateKey.export({ format: 'pem', type: 'pkcs8' }));
  }
  writeFileSync(join(work, 'chain.pem'), t.srv.ca.ca.chainPem);
  const nginx = await issueTlsServerCertificate(t.srv.ca.ca, ['127.0.0.3', '127.0.0.4']);
  writeFileSync(join(work, 'nginx.pem'), nginx.certPem);
  writeFileSync(join(work, 'nginx.key'), nginx.keyPem);
  const setupS = (Date.now() - setup0) / 1000;

  // The decision alone, over the 100,000-device registry: enrolled devices (every check
  // runs) and unknown serials (the lookup misses), as one sequence.
  const sessions = new LiveSessions({ checkinTtlMs: 900_000, gatewayTtlMs: 86_400_000 });
  const deps = {
    devices: t.srv.base.stores.devices,
    certs: t.srv.base.stores.certs,
    issuing: () => t.srv.ca.ca.issuing,
    sessions,
    endpoints: t.srv.base.config.admission.rotation.pool.length ? { status: () => ({ state: 'current' as const }) } : { status: () => ({ state: 'no-rotation' as const }) },
    policy: createPolicyResolver(t.srv.base.config.admission),
  };
  const durations: number[] = [];
  const cpu: number[] = [];
  let admitted = 0;
  for (let n = 0; n < 20_000; n++) {
    const i = (n * 7919) % CERTS;
    const input: DecisionInput = { kind: 'session-up', serial: serialOf(i), certFingerprint: fingerprints[i], sourceIp: '127.0.0.1', cellIds: [`45008-${200000000 + i}`], now: new Date() };
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const d = await decide(input, deps);
    durations.push(Number(process.hrtime.bigint() - t0) / 1000);
    const c = process.cpuUsage(c0);
    cpu.push(c.user + c.system);
    if (d.decision === 'admit') admitted++;
  }
  durations.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  if (admitted !== durations.length) throw new Error(`only ${admitted} of ${durations.length} bench decisions admitted`);

  const port = Number(pool.slice(pool.lastIndexOf(':') + 1));
  process.stdout.write(`${JSON.stringify({ port, setupS, devices: DEVICES, certs: CERTS, decide: { n: durations.length, p50Us: quantile(durations, 0.5), p99Us: quantile(durations, 0.99), maxUs: durations[durations.length - 1], cpuP99Us: quantile(cpu, 0.99) } })}\n`);

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void t.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (line: string) => {
    if (!line.includes('stats')) return;
    void sqliteDecisionStore(t.srv.base.stores.db)
      .list({ limit: 10_000 })
      .then((ds) => {
        const checkins = ds.filter((d) => d.kind === 'checkin');
        const us = checkins.map((d) => d.durationUs).sort((a, b) => a - b);
        const cpuUs = checkins.map((d) => d.cpuUs).sort((a, b) => a - b);
        const denied = ds.filter((d) => d.decision === 'deny').length;
        process.stdout.write(`${JSON.stringify({ stats: { n: us.length, denied, p50Us: quantile(us, 0.5), p99Us: quantile(us, 0.99), maxUs: us[us.length - 1] ?? NaN, cpuP99Us: quantile(cpuUs, 0.99) } })}\n`);
      });
  });
  process.stdin.on('end', stop);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
