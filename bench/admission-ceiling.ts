/**
 * Child process for bench/admission.ts: the Node.js ceiling. Plain `node:https` with the same
 * TLS settings as femtoguard's gateway listeners (P-256 server key from the same CA, client
 * certificate requested and verified by OpenSSL against the same chain), answering a fixed 200:
 * what any Node.js server pays for the handshakes alone.
 *
 *   tsx bench/admission-ceiling.ts WORKDIR HOST PORT
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { join } from 'node:path';

const [work, host, port] = process.argv.slice(2) as [string, string, string];
const body = Buffer.from('{"decision":"admit"}');
const server = createServer(
  { key: readFileSync(join(work, 'nginx.key')), cert: readFileSync(join(work, 'nginx.pem')), ca: readFileSync(join(work, 'chain.pem')), requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' },
  (req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length, connection: 'close' }).end(body));
  },
);
server.listen({ host, port: Number(port) }, () => process.stdout.write(`${JSON.stringify({ port: Number(port) })}\n`));
const stop = (): void => void server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
