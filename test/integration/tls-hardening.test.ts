/**
 * The TLS listeners devices reach (the HTTPS listener: EST and check-in; the gateway pool's
 * listeners behind the first-byte sniff) with real `openssl s_client` subprocesses: TLS 1.2
 * offers ECDHE with AEAD suites only (no CBC with HMAC-SHA1/SHA-256, no static RSA), TLS 1.3
 * keeps its suites, and a client that asks to renegotiate loses the connection.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdmissionServer, type AdmissionServer } from '../helpers/admission.js';
import { requireTool, run } from '../helpers/run.js';

let t: AdmissionServer;
let listeners: { name: string; endpoint: string }[];
beforeAll(async () => {
  requireTool('openssl', 'openssl');
  t = await startAdmissionServer();
  listeners = [
    { name: 'https (EST, check-in)', endpoint: new URL(t.https).host },
    { name: 'gateway pool', endpoint: t.pool[0] as string },
  ];
});
afterAll(async () => t?.stop());

/** One handshake with s_client limited to `args` (a version and a suite); stdin closed at once. */
async function handshake(endpoint: string, args: readonly string[]): Promise<{ ok: boolean; cipher: string | null; output: string }> {
  const r = await run('openssl', ['s_client', '-connect', endpoint, '-CAfile', t.chainPath, ...args], { input: '', timeoutMs: 10_000 });
  const cipher = /Cipher is (\S+)/.exec(r.stdout)?.[1] ?? null;
  return { ok: r.status === 0 && cipher !== null && cipher !== '(NONE)', cipher, output: r.stdout + r.stderr };
}

/**
 * A TLS 1.2 connection that asks to renegotiate ('R' on s_client's stdin), then sends a request.
 * Answered means the connection survived the renegotiation.
 */
function renegotiateThenRequest(endpoint: string): Promise<{ status: number | null; answered: boolean; output: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn('openssl', ['s_client', '-connect', endpoint, '-CAfile', t.chainPath, '-tls1_2'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (out += d.toString()));
    c.stdin.on('error', () => undefined);
    const timers = [
      setTimeout(() => c.stdin.write('R\n'), 700),
      setTimeout(() => c.stdin.write('GET /healthz HTTP/1.1\r\nHost: femtoguard\r\n\r\n'), 1700),
      setTimeout(() => c.stdin.end(), 2700),
      setTimeout(() => c.kill('SIGKILL'), 10_000),
    ];
    c.on('error', reject);
    c.on('close', (status) => {
      for (const x of timers) clearTimeout(x);
      resolve({ status, answered: out.includes('{"status":"ok"}'), output: out });
    });
  });
}

describe('TLS listeners: cipher suites', () => {
  it('ok/TLS 1.2 with ECDHE-ECDSA and an AEAD cipher (AES-GCM, ChaCha20-Poly1305) is accepted on every listener', async () => {
    for (const l of listeners) {
      for (const suite of ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305']) {
        const h = await handshake(l.endpoint, ['-tls1_2', '-cipher', suite]);
        expect({ listener: l.name, suite, ok: h.ok, cipher: h.cipher }, h.output).toEqual({ listener: l.name, suite, ok: true, cipher: suite });
      }
    }
  });

  it('fail/TLS 1.2 CBC suites with HMAC-SHA1 (ECDHE-ECDSA-AES128-SHA, ECDHE-ECDSA-AES256-SHA) are refused on every listener', async () => {
    for (const l of listeners) {
      for (const suite of ['ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA']) {
        const h = await handshake(l.endpoint, ['-tls1_2', '-cipher', suite]);
        expect({ listener: l.name, suite, ok: h.ok }, h.output).toEqual({ listener: l.name, suite, ok: false });
        expect(h.output).toMatch(/handshake failure|no shared cipher|alert/i);
      }
    }
  });

  it('fail/TLS 1.2 CBC suites with HMAC-SHA256/384 and static-RSA suites (AES256-SHA, AES128-GCM-SHA256) are refused', async () => {
    for (const l of listeners) {
      for (const suite of ['ECDHE-ECDSA-AES128-SHA256', 'ECDHE-ECDSA-AES256-SHA384', 'AES256-SHA', 'AES128-GCM-SHA256']) {
        const h = await handshake(l.endpoint, ['-tls1_2', '-cipher', suite]);
        expect({ listener: l.name, suite, ok: h.ok }, h.output).toEqual({ listener: l.name, suite, ok: false });
      }
    }
  });

  it('fail/a client offering the old default list less every AEAD suite gets no connection', async () => {
    // what an old client with only CBC suites left enabled offers
    const h = await handshake(listeners[0]?.endpoint as string, ['-tls1_2', '-cipher', 'DEFAULT:!AESGCM:!CHACHA20']);
    expect(h.ok, h.output).toBe(false);
  });

  it('ok/TLS 1.3 keeps its suites on every listener', async () => {
    for (const l of listeners) {
      for (const suite of ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256']) {
        const h = await handshake(l.endpoint, ['-tls1_3', '-ciphersuites', suite]);
        expect({ listener: l.name, suite, ok: h.ok, cipher: h.cipher }, h.output).toEqual({ listener: l.name, suite, ok: true, cipher: suite });
      }
    }
  });
});

describe('TLS listeners: renegotiation', () => {
  it('ok/without a renegotiation the same kind of session is answered (the check below can fail)', async () => {
    for (const l of listeners) {
      const r = await run('openssl', ['s_client', '-connect', l.endpoint, '-CAfile', t.chainPath, '-tls1_2', '-quiet'], {
        input: 'GET /healthz HTTP/1.1\r\nHost: femtoguard\r\nConnection: close\r\n\r\n',
        timeoutMs: 10_000,
      });
      expect({ listener: l.name, answered: r.stdout.includes('{"status":"ok"}') }, r.stderr).toEqual({ listener: l.name, answered: true });
    }
  });

  it('fail/a client-initiated renegotiation ends the connection on every listener, and the listener stays up', async () => {
    for (const l of listeners) {
      const r = await renegotiateThenRequest(l.endpoint);
      expect({ listener: l.name, answered: r.answered, status: r.status }, r.output).toEqual({ listener: l.name, answered: false, status: 1 });
      expect(r.output).toMatch(/RENEGOTIATING/);
      expect(r.output).toMatch(/no renegotiation|unexpected record|alert/i);
      const after = await handshake(l.endpoint, ['-tls1_2']);
      expect({ listener: l.name, ok: after.ok }, after.output).toEqual({ listener: l.name, ok: true });
    }
  });
});
