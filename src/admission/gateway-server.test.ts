import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../core/logger.js';
import { toPem } from '../pki/index.js';
import { OID } from '../pki/oids.js';
import { buildRootCa } from '../pki/profiles.js';
import { generateKeyPair, keyObjectSigner } from '../pki/signer.js';
import { createGatewayServer } from './gateway-server.js';
import { listenTlsFront, type TlsFront } from './listener.js';
import type { Admission } from './service.js';

let front: TlsFront;
let server: ReturnType<typeof createGatewayServer>;
let port: number;

beforeAll(async () => {
  const keys = generateKeyPair('P-256');
  const now = Date.now();
  const der = await buildRootCa({ signer: keyObjectSigner(keys.privateKey), subject: [{ type: OID.commonName, value: 'gateway-server test' }], notBefore: new Date(now - 60_000), notAfter: new Date(now + 3_600_000) });
  // Requests below never reach the check-in: no admission needed.
  server = createGatewayServer({
    tls: { key: keys.privateKey.export({ format: 'pem', type: 'pkcs8' }), cert: toPem('CERTIFICATE', der), headersTimeout: 300, requestTimeout: 600, connectionsCheckingInterval: 50 },
    admission: {} as Admission,
    maxReportBytes: 1024,
    logger: silentLogger(),
  });
  for (;;) {
    port = 20_000 + Math.floor(Math.random() * 30_000);
    try {
      front = await listenTlsFront(server, '127.0.0.1', port, () => undefined);
      break;
    } catch {
      /* port taken: another */
    }
  }
});
afterAll(async () => {
  server.closing = true;
  await front?.close();
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

/** Sends `bytes` over TLS and never more; resolves with what came back before the close. */
function send(bytes: string): Promise<{ reply: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    let reply = '';
    const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => s.write(bytes));
    s.setEncoding('latin1');
    s.on('data', (c: string) => (reply += c));
    s.on('error', () => undefined);
    s.on('close', () => resolve({ reply, ms: Date.now() - t0 }));
    setTimeout(() => s.destroy(), 5000).unref();
  });
}

describe('gateway listener without Fastify', () => {
  it('fail/a client that completes TLS and then stalls in its headers is answered 408 and closed (headersTimeout)', async () => {
    const { reply, ms } = await send('POST /v1/femto/checkin HTTP/1.1\r\nHost: x\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\nConnection: close\r\n/);
    expect(JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4))).toMatchObject({ code: 'request.timeout', status: 408 });
    expect(ms).toBeLessThan(3000);
  });

  it('fail/a client that sends its headers and then dribbles the body is answered 408 and closed (requestTimeout)', async () => {
    const t0 = Date.now();
    const reply = await new Promise<string>((resolve) => {
      let out = '';
      const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => s.write('POST /v1/femto/checkin HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{'));
      const drip = setInterval(() => s.write(' '), 100);
      s.setEncoding('latin1');
      s.on('data', (c: string) => (out += c));
      s.on('error', () => undefined);
      s.on('close', () => {
        clearInterval(drip);
        resolve(out);
      });
      setTimeout(() => s.destroy(), 5000).unref();
    });
    expect(reply).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('ok/GET /healthz', async () => {
    const { reply } = await send('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(reply.endsWith('{"status":"ok"}')).toBe(true);
  });

  it('fail/a closing listener answers 503 problem+json and closes', async () => {
    server.closing = true;
    try {
      const { reply } = await send('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      expect(reply).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
      expect(reply).toMatch(/\r\nconnection: close\r\n/i);
      expect(reply).toContain('"code":"unavailable"');
    } finally {
      server.closing = false;
    }
  });
});
