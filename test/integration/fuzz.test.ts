/**
 * Seeded fuzzing of the public endpoints over real sockets: OCSP (POST and GET), CRL, EST
 * simpleenroll/simplereenroll, and raw garbage on both listeners. The PRNG is seeded, so a
 * failure replays exactly (set FUZZ_SEED to explore other seeds).
 *
 * What must hold for client garbage: every HTTP request gets an answer below 500; OCSP
 * answers are HTTP 200 `application/ocsp-response` carrying either femtoguard's constant
 * `malformedRequest` or a `successful` response signed by the responder (RFC 6960 §2.3,
 * §4.2.1: protocol errors are OCSP statuses, not HTTP ones); EST never issues anything
 * without credentials (always 4xx); garbage on a socket ends with the server closing it.
 * Afterwards the server is still healthy and a normal enrollment and OCSP check work.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  captureClientHello,
  classifyOcspResponse,
  fuzzClient,
  mutate,
  rawExchange,
  xorshift,
  type FuzzClient,
  type HttpOutcome,
  type Prng,
  type RawOutcome,
} from '../helpers/fuzz-net.js';
import { requireTool, run } from '../helpers/run.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed_f00d);
const STORM_BUDGET_MS = 30_000;

let t: TestServer;
let client: FuzzClient;
let caPem: string;
let issuingPem: string;
let ocspRequests: Buffer[] = [];
let csrDer: Buffer;
let hello: Buffer;
let httpTarget: { host: string; port: number };
let tlsTarget: { host: string; port: number };

async function addDevice(serial: string): Promise<string> {
  await t.srv.base.registry.add(
    { serial, status: 'provisioned', cellIds: [], siteLat: null, siteLon: null, siteRadiusM: 300, ipPrefixes: [], expectedNeighbors: [], certFingerprints: [], owner: null },
    'test',
  );
  return (await t.srv.base.enrollment.createToken(serial, 3600, 'test')).token;
}

async function ok(r: Promise<{ status: number | null; stderr: string }>): Promise<void> {
  const res = await r;
  expect(res.status, res.stderr).toBe(0);
}

/** The README's flow with real clients: openssl req, curl simpleenroll, openssl pkcs7. Returns the PEM path. */
async function enrollWithCurl(serial: string): Promise<string> {
  const token = await addDevice(serial);
  const w = (n: string): string => join(t.work, `${serial}.${n}`);
  await ok(run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', w('key'), '-subj', `/serialNumber=${serial}/CN=${serial}`, '-outform', 'DER', '-out', w('csr')]));
  writeFileSync(w('csr.b64'), readFileSync(w('csr')).toString('base64'));
  await ok(run('curl', ['-sS', '--fail', '--cacert', t.chainPath, '-u', `${serial}:${token}`, '-H', 'Content-Type: application/pkcs10', '--data-binary', `@${w('csr.b64')}`, '-o', w('p7.b64'), `${t.https}/.well-known/est/simpleenroll`]));
  writeFileSync(w('p7'), Buffer.from(readFileSync(w('p7.b64'), 'latin1'), 'base64'));
  await ok(run('openssl', ['pkcs7', '-inform', 'DER', '-in', w('p7'), '-print_certs', '-out', w('pem')]));
  return w('pem');
}

async function ocspStatus(certPem: string): Promise<string> {
  const r = await run('openssl', ['ocsp', '-issuer', join(t.work, 'issuing.pem'), '-cert', certPem, '-url', `${t.http}/ocsp`, '-CAfile', t.chainPath]);
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

beforeAll(async () => {
  requireTool('openssl', 'openssl');
  requireTool('curl', 'curl');
  // The storm sends some well-formed CSRs with wrong credentials from 127.0.0.1; keep the
  // per-address failure limit above that so the final enrollment is not rate-limited.
  t = await startTestServer({ est: { maxFailedAttempts: 1000 } });
  client = fuzzClient(t.http, t.https, t.srv.ca.ca.chainPem);
  caPem = t.srv.ca.ca.chainPem;
  issuingPem = caPem.slice(0, caPem.indexOf('-----END CERTIFICATE-----') + 26);
  writeFileSync(join(t.work, 'issuing.pem'), issuingPem);
  const devPem = await enrollWithCurl('FUZZ-BEFORE');
  // Valid OCSP requests from the real client: SHA-1 CertID with a nonce, SHA-256 without.
  await ok(run('openssl', ['ocsp', '-issuer', join(t.work, 'issuing.pem'), '-cert', devPem, '-reqout', join(t.work, 'req1.der')]));
  await ok(run('openssl', ['ocsp', '-issuer', join(t.work, 'issuing.pem'), '-sha256', '-cert', devPem, '-no_nonce', '-reqout', join(t.work, 'req2.der')]));
  ocspRequests = [readFileSync(join(t.work, 'req1.der')), readFileSync(join(t.work, 'req2.der'))];
  await addDevice('FUZZ-CSR');
  await ok(run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(t.work, 'fz.key'), '-subj', '/serialNumber=FUZZ-CSR/CN=FUZZ-CSR', '-outform', 'DER', '-out', join(t.work, 'fz.csr')]));
  csrDer = readFileSync(join(t.work, 'fz.csr'));
  hello = await captureClientHello();
  httpTarget = { host: new URL(t.http).hostname, port: Number(new URL(t.http).port) };
  tlsTarget = { host: new URL(t.https).hostname, port: Number(new URL(t.https).port) };
}, 60_000);
afterAll(async () => {
  client?.close();
  await t?.stop();
});

// ------------------------------------------------------------------ verdicts
interface Job {
  kind: string;
  run: () => Promise<string | null>;
}
const tally = new Map<string, Map<string, number>>();
function count(kind: string, outcome: string): void {
  const m = tally.get(kind) ?? new Map<string, number>();
  m.set(outcome, (m.get(outcome) ?? 0) + 1);
  tally.set(kind, m);
}
const noAnswer = (o: HttpOutcome): string => `no response (${o.error ?? 'unknown'})`;
/** Prefixes a failure with its kind, so the report says which generator found it. */
const labelled = (kind: string, v: string | null): string | null => (v ? `${kind}: ${v}` : null);

/** RFC 6960 Appendix A: OCSP errors are HTTP 200 with an OCSPResponse; 413/405/431 are transport refusals. */
function ocspCheck(kind: string, o: HttpOutcome, allowed: readonly number[] = []): string | null {
  if (o.status === null) return noAnswer(o);
  if (o.status !== 200) {
    count(kind, `HTTP ${o.status}`);
    return allowed.includes(o.status) ? null : `HTTP ${o.status}: ${o.body.toString('latin1').slice(0, 100)}`;
  }
  if (o.headers['content-type'] !== 'application/ocsp-response') return `content-type ${String(o.headers['content-type'])}`;
  try {
    const name = classifyOcspResponse(o.body, t.srv.ca.ca.responder.spki);
    count(kind, name);
    return name === 'malformedRequest' || name === 'successful' ? null : `OCSP responseStatus ${name}`;
  } catch (e) {
    return `not an OCSP response (${(e as Error).message}): ${o.body.toString('hex').slice(0, 80)}`;
  }
}

/** Garbage and credential-less requests to EST must be refused with a 4xx, never issued or 5xx. */
function estCheck(kind: string, o: HttpOutcome): string | null {
  if (o.status === null) return noAnswer(o);
  count(kind, `HTTP ${o.status}`);
  return o.status >= 400 && o.status < 500 ? null : `HTTP ${o.status}: ${o.body.toString('latin1').slice(0, 120)}`;
}

function httpCheck(kind: string, o: HttpOutcome, expectStatus?: (s: number) => boolean): string | null {
  if (o.status === null) return noAnswer(o);
  count(kind, `HTTP ${o.status}`);
  if (o.status >= 500) return `HTTP ${o.status}: ${o.body.toString('latin1').slice(0, 120)}`;
  return !expectStatus || expectStatus(o.status) ? null : `unexpected HTTP ${o.status}`;
}

const ocspVerdict = (kind: string, o: HttpOutcome, allowed: readonly number[] = []): string | null => labelled(kind, ocspCheck(kind, o, allowed));
const estVerdict = (kind: string, o: HttpOutcome): string | null => labelled(kind, estCheck(kind, o));
const httpVerdict = (kind: string, o: HttpOutcome, expectStatus?: (s: number) => boolean): string | null => labelled(kind, httpCheck(kind, o, expectStatus));
const rawVerdict = (kind: string, o: RawOutcome): string | null => labelled(kind, rawCheck(kind, o));

/** Raw socket garbage: no 5xx status line, and the server closes the connection. */
function rawCheck(kind: string, o: RawOutcome): string | null {
  count(kind, o.statuses.length ? `HTTP ${o.statuses.join(',')}` : o.closed ? 'closed' : 'left open');
  // RFC 9112 §9.6: a server closing after a response SHOULD say `Connection: close` in it;
  // without it a keep-alive client (or a proxy) reuses a dead socket. Checked in its own case.
  if (o.statuses.length && o.closedBeforeEnd && !o.closeAnnounced) unannouncedCloses.push(`${kind}: HTTP ${o.statuses.join(',')}`);
  if (o.statuses.some((s) => s >= 500)) return `HTTP ${o.statuses.join(',')}`;
  return o.closed ? null : 'server kept the connection open after our FIN';
}
const unannouncedCloses: string[] = [];

// ------------------------------------------------------------------ generators
const URL_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_%.~!$&\'()*,;:@?#[]';
const randText = (rng: Prng, n: number, alphabet = URL_CHARS): string => Array.from({ length: n }, () => alphabet[rng.int(alphabet.length)]).join('');
const truncations = (b: Buffer): Buffer[] => Array.from({ length: b.length }, (_, i) => b.subarray(0, i));
const EST_TYPES = ['application/pkcs10', 'application/json', 'text/plain', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', 'application/pkcs10; charset=utf-16', '*/*', ''];
const EST_OPS = ['/.well-known/est/simpleenroll', '/.well-known/est/simplereenroll'];

/**
 * The whole storm as a list of jobs. Every random choice is drawn here, while building, never
 * inside a job: jobs run concurrently, and drawing at run time would make the bytes depend
 * on scheduling instead of on the seed.
 */
function buildJobs(rng: Prng): Job[] {
  const jobs: Job[] = [];
  const add = (kind: string, run: () => Promise<string | null>): void => void jobs.push({ kind, run });
  const ocspPost = (kind: string, body: Buffer | Buffer[], type = 'application/ocsp-request', allowed: number[] = []): void =>
    add(kind, async () => ocspVerdict(kind, await client.http('POST', '/ocsp', { 'content-type': type }, body), allowed));
  const ocspGet = (kind: string, path: string, allowed: number[] = []): void => add(kind, async () => ocspVerdict(kind, await client.http('GET', `/ocsp/${path}`), allowed));
  const plain = (kind: string, tls: boolean, method: string, path: string, expectStatus?: (s: number) => boolean, body?: Buffer): void =>
    add(kind, async () => httpVerdict(kind, await (tls ? client.https : client.http)(method, path, {}, body), expectStatus));
  // Raw exchanges keep our side open a moment, so a close by the server is seen as such.
  const raw = (kind: string, target: Parameters<typeof rawExchange>[0], payload: Buffer, opts: Parameters<typeof rawExchange>[2] = {}): void =>
    add(kind, async () => rawVerdict(kind, await rawExchange(target, payload, { holdMs: 100, ...opts })));
  const b64 = (b: Buffer): string => encodeURIComponent(b.toString('base64'));
  const validOcsp = (): Buffer => rng.pick(ocspRequests);

  // OCSP POST: random bytes, DER-looking random bytes, every truncation, single-byte mutations.
  for (let i = 0; i < 250; i++) ocspPost('ocsp-post random', rng.bytes(rng.int(600)));
  for (let i = 0; i < 100; i++) ocspPost('ocsp-post random DER-ish', Buffer.concat([Buffer.from([0x30, 0x81, rng.int(256)]), rng.bytes(rng.int(300))]));
  for (const r of ocspRequests) for (const b of truncations(r)) ocspPost('ocsp-post truncated', b);
  for (let i = 0; i < 600; i++) ocspPost('ocsp-post mutated', mutate(rng, validOcsp()));
  for (let i = 0; i < 40; i++) ocspPost('ocsp-post wrong content-type', validOcsp(), rng.pick(EST_TYPES.slice(1)));
  for (let i = 0; i < 20; i++) {
    const m = mutate(rng, validOcsp());
    ocspPost('ocsp-post chunked', [m.subarray(0, 7), m.subarray(7)]);
  }
  ocspPost('ocsp-post oversize', Buffer.alloc(9000, 0x30), undefined, [413]);
  ocspPost('ocsp-post oversize', rng.bytes(200_000), undefined, [413]);

  // OCSP GET: random path text, base64 of random/truncated/mutated DER, odd encodings, overlong.
  for (let i = 0; i < 200; i++) ocspGet('ocsp-get random text', randText(rng, 1 + rng.int(200)));
  for (let i = 0; i < 150; i++) ocspGet('ocsp-get base64 random', b64(rng.bytes(rng.int(300))));
  for (const r of ocspRequests) for (const b of truncations(r)) if (rng.int(3) === 0) ocspGet('ocsp-get truncated', b64(b));
  for (let i = 0; i < 250; i++) ocspGet('ocsp-get mutated', b64(mutate(rng, validOcsp())));
  for (let i = 0; i < 40; i++) {
    const s = validOcsp().toString('base64');
    const cut = rng.int(s.length);
    ocspGet('ocsp-get mangled base64', rng.pick([s.slice(0, cut), `${s}${'='.repeat(1 + rng.int(3))}`, s.replace(/\+/g, '%20'), `%${randText(rng, 2)}${s}`, `${s.slice(0, cut)}%zz${s.slice(cut)}`, `///${s}`]));
  }
  for (const r of ocspRequests) ocspGet('ocsp-get valid', b64(r));
  for (let i = 0; i < 30; i++) {
    const path = rng.pick(['/ocsp', '/ocspX', `/ocsp?${randText(rng, 10)}`, '/ocsp//', '/ocsp/%']);
    // '/ocspX' and '/ocsp?…' are not OCSP paths (RFC 6960 Appendix A.1): the API's 404.
    const notOcsp = path === '/ocspX' || path.startsWith('/ocsp?');
    plain('ocsp odd method/path', false, rng.pick(['PUT', 'DELETE', 'PATCH', 'OPTIONS', 'GET', 'HEAD']), path, (s) => (notOcsp ? s === 404 : s === 405 || s === 200));
  }

  // CRL: odd query strings, methods, and neighbouring paths.
  for (let i = 0; i < 200; i++) {
    const path = `${rng.pick(['/crl', '/crl.pem'])}?${rng.pick(['format=pem&', 'format=der&', '', 'format=pem%00&', '&&&', 'format[]=pem&'])}${randText(rng, rng.int(300))}`;
    const method = rng.pick(['GET', 'GET', 'HEAD']);
    add('crl odd query', async () => {
      const o = await client.http(method, path);
      const v = httpVerdict('crl odd query', o, (s) => s === 200);
      if (v || method === 'HEAD') return v;
      const pem = o.headers['content-type'] === 'application/x-pem-file';
      return (pem ? o.body.toString('latin1').startsWith('-----BEGIN X509 CRL-----') : o.body[0] === 0x30) ? null : `crl odd query: body is not a ${pem ? 'PEM' : 'DER'} CRL`;
    });
  }
  for (let i = 0; i < 60; i++) {
    const method = rng.pick(['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE']);
    plain('crl wrong method', false, method, rng.pick(['/crl', '/crl.pem', '/crl?format=pem']), (s) => s === 405, rng.bytes(rng.int(50)));
  }
  for (let i = 0; i < 60; i++) {
    plain('crl odd path', false, 'GET', rng.pick(['/crl/', '/crl.pem/', '//crl', '/crl%00', '/CRL', '/crl.der', '/crl/../crl', '/ca/chain.pem?x', `/ca/${randText(rng, 8)}`, '/crl#frag']));
  }

  // EST: random bytes and base64, truncated and mutated CSRs, wrong types, odd credentials.
  const est = (kind: string, body: Buffer | Buffer[], headers: Record<string, string> = {}): void => {
    const op = rng.pick(EST_OPS);
    const type = headers['content-type'] ?? 'application/pkcs10';
    add(kind, async () => estVerdict(kind, await client.https('POST', op, { ...headers, ...(type ? { 'content-type': type } : {}) }, body)));
  };
  const csrB64 = Buffer.from(csrDer.toString('base64'));
  for (let i = 0; i < 250; i++) est('est random bytes', rng.bytes(1 + rng.int(2000)));
  for (let i = 0; i < 150; i++) est('est random base64', Buffer.from(rng.bytes(1 + rng.int(600)).toString('base64')));
  for (let i = 0; i < 150; i++) est('est truncated CSR', Buffer.from(csrDer.subarray(0, rng.int(csrDer.length)).toString('base64')));
  for (let i = 0; i < 50; i++) est('est truncated base64', csrB64.subarray(0, rng.int(csrB64.length)));
  for (let i = 0; i < 300; i++) est('est mutated CSR', Buffer.from(mutate(rng, csrDer).toString('base64')));
  for (let i = 0; i < 60; i++) est('est mutated CSR (raw DER)', mutate(rng, csrDer));
  for (let i = 0; i < 80; i++) est('est wrong content-type', rng.pick([csrB64, rng.bytes(100), Buffer.from('{"csr":"x"}')]), { 'content-type': rng.pick(EST_TYPES) });
  for (let i = 0; i < 80; i++) {
    const auth = rng.pick([`Basic ${randText(rng, rng.int(60))}`, 'Basic', 'Basic Og==', `Basic ${Buffer.from(`FUZZ-CSR:${randText(rng, 32)}`).toString('base64')}`, `Bearer ${randText(rng, 20)}`, `Basic ${rng.bytes(40).toString('base64')}`]);
    est('est odd credentials + valid CSR', csrB64, { authorization: auth });
  }
  for (let i = 0; i < 20; i++) est('est chunked body', [csrB64.subarray(0, 100), mutate(rng, csrB64.subarray(100))]);
  for (let i = 0; i < 30; i++) plain('est wrong method', true, rng.pick(['GET', 'PUT', 'DELETE']), rng.pick([...EST_OPS, '/.well-known/est/fullcmc', '/.well-known/est/../est/cacerts']));

  // Content-Length lies and broken framing, sent raw over TLS (EST) and TCP (OCSP).
  const tlsT = { ...tlsTarget, tls: { ca: caPem } };
  const head = (method: string, path: string, extra: string): Buffer => Buffer.from(`${method} ${path} HTTP/1.1\r\nHost: fuzz\r\nContent-Type: application/pkcs10\r\n${extra}\r\n`);
  for (let i = 0; i < 40; i++) {
    const cl = rng.pick(['1000000000', '9007199254740993', '99999999999999999999999', '-1', '16385', 'abc', '12, 13', '0x10', '4000']);
    const payload = Buffer.concat([head('POST', rng.pick(EST_OPS), `Content-Length: ${cl}\r\n`), csrB64.subarray(0, 50)]);
    if (!['1000000000', '16385'].includes(cl)) raw('est content-length lie', tlsT, payload);
    else {
      // Above est.maxBodyBytes (16 KiB): refused from the header alone, before any body arrives.
      add('est content-length over limit', async () => {
        const o = await rawExchange(tlsT, payload, { holdMs: 300 });
        return labelled('est content-length over limit', rawCheck('est content-length over limit', o) ?? (o.statuses[0] === 413 && o.answeredBeforeEnd ? null : `expected an early 413, got ${o.statuses.join(',') || 'nothing'}`));
      });
    }
  }
  for (let i = 0; i < 15; i++) {
    const framing = rng.pick(['Content-Length: 5\r\nContent-Length: 6\r\n', 'Transfer-Encoding: chunked\r\nContent-Length: 10\r\n', 'Transfer-Encoding: chunked\r\n', 'Content-Length: 3\r\n']);
    raw('est broken framing', tlsT, Buffer.concat([head('POST', rng.pick(EST_OPS), framing), Buffer.from(`zz\r\n${randText(rng, 20)}\r\n0\r\n\r\n`)]), {});
  }
  // Over-long OCSP GET URLs (Node's header limit is 16 KiB): raw, since the answer closes the socket.
  for (let i = 0; i < 6; i++) raw('ocsp-get overlong', httpTarget, Buffer.from(`GET /ocsp/${'M'.repeat(4000 + rng.int(20_000))} HTTP/1.1\r\nHost: fuzz\r\n\r\n`));
  for (let i = 0; i < 25; i++) {
    const cl = rng.pick(['1000000000', '9007199254740993', '-5', '8193', '500', '1e3']);
    raw('ocsp content-length lie', httpTarget, Buffer.concat([head('POST', '/ocsp', `Content-Length: ${cl}\r\n`), (ocspRequests[0] as Buffer).subarray(0, 20)]), {});
  }

  // Garbage on the sockets themselves.
  for (let i = 0; i < 80; i++) raw('tls-port random bytes', tlsTarget, rng.bytes(1 + rng.int(1500)));
  for (let i = 0; i < 10; i++) raw('tls-port plaintext HTTP', tlsTarget, head('POST', rng.pick(EST_OPS), 'Content-Length: 0\r\n'));
  for (let i = 0; i < 40; i++) raw('tls-port hello then close', tlsTarget, hello, { abort: rng.int(2) === 0 });
  for (let i = 0; i < 40; i++) raw('tls-port truncated hello', tlsTarget, hello.subarray(0, rng.int(hello.length)));
  for (let i = 0; i < 60; i++) raw('tls-port mutated hello', tlsTarget, mutate(rng, hello));
  for (let i = 0; i < 20; i++) raw('tls handshake + partial request', tlsT, head('POST', rng.pick(EST_OPS), 'Content-Length: 400\r\n').subarray(0, 20 + rng.int(60)));
  for (let i = 0; i < 60; i++) {
    const junk = rng.pick([rng.bytes(1 + rng.int(500)), Buffer.from(`${randText(rng, 5)} /crl HTTP/1.1\r\n\r\n`), Buffer.from(`GET /crl?${randText(rng, 10)} ${randText(rng, 5)}\r\n\r\n`), Buffer.from('GET /ocsp/\x00\x01 HTTP/1.1\r\nHost: a\r\n\r\n')]);
    raw('http-port garbage', httpTarget, junk);
  }

  // Interleave the kinds (deterministically) so the server sees a mixed load.
  for (let i = jobs.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [jobs[i], jobs[j]] = [jobs[j] as Job, jobs[i] as Job];
  }
  return jobs;
}

/** Runs the jobs `concurrency` at a time; a failure names the jobs that overlapped it. */
async function runPool(jobs: Job[], concurrency: number): Promise<string[]> {
  const failures: string[] = [];
  const inFlight = new Set<number>();
  const started: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < jobs.length; i = next++) {
      const job = jobs[i] as Job;
      const before = [...inFlight];
      const mark = started.length;
      inFlight.add(i);
      started.push(i);
      const verdict = await job.run();
      inFlight.delete(i);
      if (verdict) {
        const overlap = [...before, ...started.slice(mark + 1)].map((j) => `#${j} ${(jobs[j] as Job).kind}`);
        failures.push(`#${i} ${verdict} [overlapping: ${overlap.slice(0, 30).join('; ')}]`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return failures;
}

describe('fuzzing the public endpoints', () => {
  it('ok/thousands of random, truncated and mutated requests get 4xx or OCSP errors, never a 5xx or silence', async () => {
    const jobs = buildJobs(xorshift(SEED));
    const started = Date.now();
    const failures = await runPool(jobs, 24);
    const elapsed = Date.now() - started;

    const lines = [...tally.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([kind, m]) => {
      const n = [...m.values()].reduce((a, b) => a + b, 0);
      return `  ${kind.padEnd(36)} ${String(n).padStart(5)}  ${[...m.entries()].map(([k, v]) => `${k}: ${v}`).join(', ')}`;
    });
    console.log(`fuzz seed 0x${SEED.toString(16)}: ${jobs.length} requests in ${elapsed} ms\n${lines.join('\n')}`);

    expect(failures.slice(0, 20), `${failures.length} failures`).toEqual([]);
    expect(elapsed).toBeLessThan(STORM_BUDGET_MS);
    expect(jobs.length).toBeGreaterThan(2000);
    // The responder turned no garbage into internalError (it counts those).
    expect(t.srv.ca.ocsp.stats.errors).toBe(0);
  }, 60_000);

  it('ok/a connection closed after a client error says Connection: close in its last response (RFC 9112 §9.6)', () => {
    expect(tally.size, 'runs after the storm').toBeGreaterThan(0);
    const grouped = new Map<string, number>();
    for (const u of unannouncedCloses) grouped.set(u, (grouped.get(u) ?? 0) + 1);
    expect([...grouped.entries()].map(([k, n]) => `${k} (x${n})`).sort(), 'responses followed by a close they did not announce').toEqual([]);
  });

  it('ok/after the storm the server is healthy, enrolls a device and answers OCSP good', async () => {
    const health = await run('curl', ['-sS', '--fail', `${t.http}/healthz`]);
    expect(health.status, health.stderr).toBe(0);
    expect(JSON.parse(health.stdout)).toEqual({ status: 'ok', ca: 'unlocked' });
    const tlsHealth = await run('curl', ['-sS', '--fail', '--cacert', t.chainPath, `${t.https}/healthz`]);
    expect(tlsHealth.status, tlsHealth.stderr).toBe(0);
    const pem = await enrollWithCurl('FUZZ-AFTER');
    const verify = await run('openssl', ['verify', '-CAfile', t.chainPath, pem]);
    expect(verify.status, verify.stdout + verify.stderr).toBe(0);
    expect(await ocspStatus(pem)).toMatch(/: good/);
    // The device enrolled before the storm is still good too.
    expect(await ocspStatus(join(t.work, 'FUZZ-BEFORE.pem'))).toMatch(/: good/);
  }, 60_000);
});
