/**
 * Load client for bench/admission.ts: every request is a new TCP connection with a full
 * mutual-TLS handshake (no session resumption: no session is ever offered) and one
 * `POST /v1/femto/checkin` with `Connection: close`, as a femtocell checking in. wrk cannot
 * present client certificates, hence this client; the same client drives femtoguard and nginx.
 *
 *   tsx bench/admission-client.ts HOST PORT SECONDS CONCURRENCY WORKDIR CERTS
 *
 * Prints one JSON line: requests, ok (status 200), failures, latency p50/p99 (ms).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';

const [host, portArg, secondsArg, concArg, work, certsArg] = process.argv.slice(2) as [string, string, string, string, string, string];
const port = Number(portArg);
const certs = Number(certsArg);
const ca = readFileSync(join(work, 'chain.pem'));
const creds = Array.from({ length: certs }, (_, i) => ({ cert: readFileSync(join(work, 'certs', `${i}.pem`)), key: readFileSync(join(work, 'certs', `${i}.key`)) }));
const bodies = creds.map((_, i) => {
  const serial = `BENCH${String(i).padStart(7, '0')}`;
  const body = JSON.stringify({ serial, cellIds: [`45008-${200000000 + i}`], swVersion: '4.2.1' });
  return Buffer.from(`POST /v1/femto/checkin HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
});

let ok = 0;
let failed = 0;
let next = 0;
const errors = new Map<string, number>();
const latencies: number[] = [];
const end = Date.now() + Number(secondsArg) * 1000;

function one(): Promise<void> {
  const i = next++ % certs;
  const t0 = performance.now();
  return new Promise((resolve) => {
    let head = '';
    const c = creds[i] as { cert: Buffer; key: Buffer };
    // write, not end: the server closes after its answer (Connection: close); a half-close
    // from the client would read as the client going away before the answer.
    const sock = connect({ host, port, ca, cert: c.cert, key: c.key, rejectUnauthorized: true }, () => sock.write(bodies[i] as Buffer));
    sock.setEncoding('latin1');
    sock.on('data', (c: string) => {
      if (head.length < 16) head += c;
    });
    const done = (err?: Error): void => {
      if (err) errors.set(err.message, (errors.get(err.message) ?? 0) + 1);
      if (!err && head.startsWith('HTTP/1.1 200')) {
        ok++;
        latencies.push(performance.now() - t0);
      } else {
        failed++;
        if (!err) errors.set(head.slice(0, 12) || 'empty reply', (errors.get(head.slice(0, 12) || 'empty reply') ?? 0) + 1);
      }
      resolve();
    };
    sock.once('error', (e) => {
      sock.destroy();
      done(e);
    });
    sock.once('close', (hadError) => {
      if (!hadError) done();
    });
  });
}

async function worker(): Promise<void> {
  while (Date.now() < end) await one();
}

const t0 = Date.now();
await Promise.all(Array.from({ length: Number(concArg) }, worker));
latencies.sort((a, b) => a - b);
const q = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
process.stdout.write(`${JSON.stringify({ seconds: (Date.now() - t0) / 1000, ok, failed, p50Ms: q(0.5), p99Ms: q(0.99), errors: Object.fromEntries([...errors].slice(0, 5)) })}\n`);
