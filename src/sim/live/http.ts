/**
 * The live driver's clients: the REST API (bearer token, problem+json errors) and the TLS
 * listener (EST with HTTP Basic, check-ins with the device's own certificate). Both are plain
 * node clients, the way an operator's script and a femtocell would talk to the server.
 */
import { Agent, request as httpsRequest, type AgentOptions } from 'node:https';
import { AppError } from '../../core/index.js';

export interface Reply {
  status: number;
  body: string;
}

/** A REST client for one base URL and token; every failure names the method, path and cause. */
export class Api {
  constructor(
    readonly base: string,
    private readonly token: string,
  ) {}

  async call(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Reply> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    let payload: string | undefined;
    if (body !== undefined) {
      headers['content-type'] = contentType;
      payload = typeof body === 'string' ? body : JSON.stringify(body);
    }
    let res: Response;
    try {
      res = await fetch(this.base + path, { method, headers, ...(payload !== undefined ? { body: payload } : {}), signal: AbortSignal.timeout(30_000) });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new AppError('unavailable', 'sim.target_unreachable', `cannot reach the femtoguard server at ${this.base} (${method} ${path}): ${cause?.code ?? cause?.message ?? (e as Error).message}`);
    }
    return { status: res.status, body: await res.text() };
  }

  /** `call`, then JSON of a 2xx answer; a 401/403 or any other error status is an AppError naming it. */
  async json<T>(method: string, path: string, body?: unknown, contentType?: string): Promise<T> {
    const r = await this.call(method, path, body, contentType);
    if (r.status === 401) throw new AppError('unauthenticated', 'sim.bad_token', `the server at ${this.base} refused the token (401 on ${method} ${path}): give a valid admin token with --token or FEMTOGUARD_TOKEN`);
    if (r.status === 403) throw new AppError('forbidden', 'sim.token_role', `the token may not ${method} ${path} (403): live mode needs an admin token`);
    if (r.status < 200 || r.status >= 300) throw new AppError('internal', 'sim.api_error', `${method} ${path} answered ${r.status}: ${problemText(r.body)}`);
    try {
      return (r.body === '' ? {} : JSON.parse(r.body)) as T;
    } catch {
      throw new AppError('internal', 'sim.api_error', `${method} ${path}: the answer is not JSON (is ${this.base} a femtoguard API?)`);
    }
  }
}

/** The `detail`/`title` of a problem+json body, or the start of whatever came back. */
export function problemText(body: string): string {
  try {
    const p = JSON.parse(body) as { detail?: string; title?: string; message?: string };
    return p.detail ?? p.message ?? p.title ?? body.slice(0, 200);
  } catch {
    return body.slice(0, 200);
  }
}

export interface TlsIdentity {
  key?: string;
  cert?: string;
}

/**
 * One TLS client per (identity, source address): keep-alive, so a device that checks in every
 * few minutes reuses its connection as a real one would, and the server sees the source
 * address the device "lives" at (`localAddress` inside 127.0.0.0/8).
 */
export function tlsAgent(ca: string, id: TlsIdentity, localAddress: string): Agent {
  // An idle connection is closed after 20 s: a large fleet must not hold one descriptor per unit forever.
  const o: AgentOptions & { localAddress?: string } = { ca, keepAlive: true, maxSockets: 1, timeout: 20_000, localAddress, ...(id.key ? { key: id.key } : {}), ...(id.cert ? { cert: id.cert } : {}) };
  return new Agent(o);
}

/**
 * A request over the TLS listener (EST or check-in); network and TLS failures reject. A keep-alive
 * connection the server closed just as it was reused is retried once on a new connection (the
 * request never reached the server; node's documented `reusedSocket` pattern).
 */
export function tlsRequest(url: URL, agent: Agent, method: string, headers: Record<string, string>, body: string, localAddress: string, retried = false): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: url.hostname, port: url.port || 443, path: url.pathname, method, agent, localAddress, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, timeout: 30_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (!retried && req.reusedSocket && (e.code === 'ECONNRESET' || e.code === 'EPIPE')) tlsRequest(url, agent, method, headers, body, localAddress, true).then(resolve, reject);
      else reject(e);
    });
    req.end(body);
  });
}
