/**
 * Child process for bench/ocsp.ts, so that the servers under load never share an event
 * loop (or a core's worth of JIT and GC) with the benchmark's parent. Two modes:
 *
 *   femtoguard WORKDIR   the production server (`startServer`, temp data dir, fresh CA) with
 *                        the dedicated revocation listener on (config `revocation`, the
 *                        production setting for OCSP: docs/pki.md), one active device with a
 *                        P-256 certificate issued directly; writes issuing.pem, chain.pem and
 *                        dev.pem into WORKDIR; the port printed is the revocation listener's
 *   fixed FILE           plain node:http answering every POST with the bytes of FILE, with the
 *                        headers femtoguard's OCSP path sends: the ceiling for that path
 *
 * Prints one JSON line `{"port":N,...}` when listening; stops on SIGTERM/SIGINT or when
 * stdin closes (the parent died), so it never outlives the benchmark.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';

type Stop = () => Promise<void>;

function stopOn(stop: Stop): void {
  let stopping = false;
  const once = (): void => {
    if (stopping) return;
    stopping = true;
    // process.exit (not a hard kill) so that --cpu-prof can write its profile.
    stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', once);
  process.on('SIGINT', once);
  process.stdin.on('end', once);
  process.stdin.on('close', once);
  process.stdin.resume();
}

async function femtoguard(work: string): Promise<void> {
  const [{ startTestServer }, { deviceCreateSchema }, { buildCsr, parseCsr, toPem, OID }] = await Promise.all([
    import('../test/helpers/server.js'),
    import('../src/registry/index.js'),
    import('../src/pki/index.js'),
  ]);
  // The production default poll interval (the test helper shortens it).
  const t = await startTestServer({ changePollMs: 250, revocation: '127.0.0.1:0' });
  if (!t.revocation) throw new Error('the revocation listener did not start');
  const serial = 'BENCH000001';
  await t.srv.base.registry.add(deviceCreateSchema.parse({ serial, status: 'active' }), 'bench');
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const csr = parseCsr(buildCsr({ privateKey, subject: [{ type: OID.serialNumber, value: serial }, { type: OID.commonName, value: serial }] }));
  const cert = await t.srv.ca.issuance.issue(csr, serial, { actor: 'bench' });
  writeFileSync(join(work, 'issuing.pem'), toPem('CERTIFICATE', t.srv.ca.ca.issuing.der));
  writeFileSync(join(work, 'chain.pem'), t.srv.ca.ca.chainPem);
  writeFileSync(join(work, 'dev.pem'), toPem('CERTIFICATE', cert.der));
  // The URL the certificate's AIA names, i.e. what a gateway would ask.
  const port = Number(new URL(t.revocation).port);
  stopOn(async () => {
    const s = t.srv.ca.ocsp.stats;
    process.stderr.write(`femtoguard OCSP stats: ${JSON.stringify(s)}\n`);
    await t.stop();
  });
  // apiPort: the same endpoints on the API listener (node:http), for comparison.
  process.stdout.write(`${JSON.stringify({ port, apiPort: Number(new URL(t.http).port), serialHex: cert.serialHex })}\n`);
}

async function fixed(file: string): Promise<void> {
  const body = readFileSync(file);
  const headers = { 'content-type': 'application/ocsp-response', 'content-length': body.length };
  // Same server options as femtoguard's HTTP listener (src/api/server.ts).
  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    // Reads the POST body to its end before answering, as any correct POST handler must
    // (and as femtoguard does); it only skips the OCSP work.
    req.on('data', () => {});
    req.on('end', () => {
      res.writeHead(200, headers);
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  stopOn(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  process.stdout.write(`${JSON.stringify({ port: addr.port })}\n`);
}

const [mode, arg] = process.argv.slice(2);
const main = mode === 'femtoguard' && arg ? femtoguard(arg) : mode === 'fixed' && arg ? fixed(arg) : Promise.reject(new Error('usage: ocsp-server.ts femtoguard WORKDIR | fixed FILE'));
main.catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
