/**
 * OCSP over loopback under wrk: femtoguard's responder, as production serves it (the
 * dedicated revocation listener, config `revocation`, which certificates then name), beside,
 * in the same run,
 *   - the ceiling: plain node:http in its own process answering every POST with the same
 *     response bytes and headers (bench/ocsp-server.ts fixed), i.e. no OCSP work at all;
 *   - the peer: `openssl ocsp -port` serving an equivalent throwaway P-256 CA (femtoguard's
 *     responder key cannot be exported, so openssl gets its own CA, responder and device
 *     certificate with the same key types and extensions).
 * Each server runs in its own process; wrk (one thread) is the only client. Targets:
 *   keep-alive, 16 connections:        femtoguard >= 0.8 x the fixed-buffer ceiling
 *   Connection: close, 1 and 16 conns: femtoguard >= 1.5 x openssl (which cannot keep
 *                                      connections alive, DEPENDENCIES.md)
 * Rows "femtoguard, API listener" drive the same responder through the API listener
 * (node:http), where the endpoints are served too: no target, for comparison.
 * Requests carry no nonce (RFC 5019 §2.1.1 clients); rows marked "nonce" send one, so
 * femtoguard signs every response fresh (RFC 6960 §4.4.1), like openssl always does.
 * Every row is run --rounds times, interleaved with the rows it is compared with, and the
 * median run is shown: on a shared 2-core machine single runs swing by 20% and more.
 * Server CPU per response (from /proc) is printed too: it does not depend on the client.
 *
 *   npm run bench:ocsp [-- --duration 2 --rounds 3 --profile DIR]
 *
 * --profile DIR runs the femtoguard child under --cpu-prof and writes its profile to DIR.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { requireTool, ROOT, run } from '../test/helpers/run.js';

const { values: opts } = parseArgs({ options: { duration: { type: 'string', default: '2' }, rounds: { type: 'string', default: '3' }, profile: { type: 'string' } } });
const DURATION_S = Number(opts.duration);
const ROUNDS = Number(opts.rounds);
/** wrk runs per round: 3 keep-alive, 4 at -c1 and 5 at -c16 without keep-alive. */
const RUNS_PER_ROUND = 12;
/** The whole benchmark, setup included, is killed past this. */
const DEADLINE_MS = 115_000;
if (!Number.isInteger(DURATION_S) || !Number.isInteger(ROUNDS) || DURATION_S < 1 || ROUNDS < 1 || (DURATION_S * RUNS_PER_ROUND + 2) * ROUNDS > 90) {
  throw new Error(`--duration (s) x --rounds must fit the ${DEADLINE_MS / 1000} s bound: (duration x ${RUNS_PER_ROUND} + 2) x rounds <= 90`);
}
const CONNS_KEEPALIVE = 16;
const TARGET_CEILING = 0.8;
const TARGET_OPENSSL = 1.5;

// ---------------------------------------------------------------- child processes
const children = new Set<ChildProcessWithoutNullStreams>();

interface Child {
  port: number;
  /** the first JSON line the child printed */
  info: Record<string, unknown>;
  proc: ChildProcessWithoutNullStreams;
  stderr(): string;
}

/** Spawns a server; resolves once `ready(stdout so far)` returns a port. */
function startChild(cmd: string, args: readonly string[], ready: (out: string) => number | null, cwd: string): Promise<Child> {
  return new Promise((resolvePort, reject) => {
    const proc = spawn(cmd, args, { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(proc);
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`${cmd} did not start within 20 s: ${err}`)), 20_000);
    proc.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const port = ready(out);
      if (port !== null) {
        clearTimeout(timer);
        const line = out.split('\n').find((l) => l.startsWith('{'));
        resolvePort({ port, info: line ? (JSON.parse(line) as Record<string, unknown>) : {}, proc, stderr: () => err });
      }
    });
    proc.stderr.on('data', (c: Buffer) => (err += c.toString()));
    proc.on('error', (e) => reject(e));
    proc.on('exit', (code, sig) => {
      children.delete(proc);
      clearTimeout(timer);
      reject(new Error(`${cmd} exited (${code ?? sig}) before it was ready: ${err}`));
    });
  });
}

function nodeChild(mode: 'femtoguard' | 'fixed', arg: string, profileDir?: string): Promise<Child> {
  const prof = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  return startChild(process.execPath, ['--import', 'tsx', ...prof, join(ROOT, 'bench/ocsp-server.ts'), mode, arg], (out) => {
    const line = out.split('\n').find((l) => l.startsWith('{'));
    return line ? (JSON.parse(line) as { port: number }).port : null;
  }, ROOT);
}

/** SIGTERM, then SIGKILL after 5 s; resolves when it has exited. */
function stopChild(proc: ChildProcessWithoutNullStreams): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const kill = setTimeout(() => proc.kill('SIGKILL'), 5000);
    proc.once('exit', () => {
      clearTimeout(kill);
      done();
    });
    proc.kill('SIGTERM');
  });
}

/** The benchmark's temporary directory, removed however the run ends. */
let workDir: string | null = null;

async function stopAll(): Promise<void> {
  await Promise.all([...children].map(stopChild));
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  workDir = null;
}

/** `openssl ocsp -port` takes a port number and binds every address: find one free on all. */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolvePort(a.port) : reject(new Error('no port'))));
    });
  });
}

async function must(cmd: string, args: readonly string[], cwd: string): Promise<string> {
  const r = await run(cmd, args, { cwd, timeoutMs: 20_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout + r.stderr;
}

// ---------------------------------------------------------------- the openssl peer
const OPENSSL_EXT_RESPONDER = [
  'basicConstraints=critical,CA:FALSE',
  'keyUsage=critical,digitalSignature',
  'extendedKeyUsage=OCSPSigning',
  'noCheck=ignored',
  'subjectKeyIdentifier=hash',
  'authorityKeyIdentifier=keyid',
].join('\n');
const OPENSSL_EXT_DEVICE = ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=clientAuth', 'subjectKeyIdentifier=hash', 'authorityKeyIdentifier=keyid'].join('\n');
const P256 = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** An issuing CA, a delegated responder and one device certificate, all P-256, plus index.txt. */
async function opensslCa(dir: string): Promise<void> {
  mkdirSync(dir);
  writeFileSync(join(dir, 'responder.ext'), OPENSSL_EXT_RESPONDER);
  writeFileSync(join(dir, 'device.ext'), OPENSSL_EXT_DEVICE);
  await must('openssl', ['req', '-x509', ...P256, '-keyout', 'issuing.key', '-out', 'issuing.pem', '-days', '2', '-subj', '/O=femtoguard/CN=openssl Device Issuing CA',
    '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  for (const [name, subj, ext] of [['responder', '/O=femtoguard/CN=openssl OCSP Responder', 'responder.ext'], ['dev', '/CN=BENCH000001/serialNumber=BENCH000001', 'device.ext']] as const) {
    await must('openssl', ['req', '-new', ...P256, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subj], dir);
    const serial = `0x${(0x10 + (randomBytes(1)[0] ?? 0) % 0x60).toString(16)}${randomBytes(15).toString('hex')}`;
    await must('openssl', ['x509', '-req', '-in', `${name}.csr`, '-CA', 'issuing.pem', '-CAkey', 'issuing.key', '-set_serial', serial, '-days', '2', '-extfile', ext, '-out', `${name}.pem`], dir);
  }
  // index.txt as `openssl ca` writes it: status, expiry (UTCTime), revocation, serial (hex), file, subject.
  const serialHex = (await must('openssl', ['x509', '-in', 'dev.pem', '-noout', '-serial'], dir)).trim().replace(/^serial=/, '');
  const expiry = new Date(Date.now() + 86_400_000).toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
  writeFileSync(join(dir, 'index.txt'), `V\t${expiry}\t\t${serialHex}\tunknown\t/CN=BENCH000001/serialNumber=BENCH000001\n`);
}

/**
 * `openssl ocsp -port` on a free port, ready once it has answered a verified "good".
 * -nmin 5: nextUpdate 300 s like femtoguard's default; -resp_key_id: ResponderID byKey, like femtoguard.
 */
async function startOpenssl(dir: string): Promise<{ proc: ChildProcessWithoutNullStreams; url: string; resp: Buffer }> {
  const port = await freePort();
  const proc = spawn('openssl', ['ocsp', '-index', 'index.txt', '-CA', 'issuing.pem', '-rsigner', 'responder.pem', '-rkey', 'responder.key', '-port', String(port), '-nmin', '5', '-resp_key_id', '-ignore_err'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(proc);
  proc.on('exit', () => children.delete(proc));
  // Drain its logging (a line per request) so a full pipe never stalls it.
  proc.stdout.resume();
  proc.stderr.resume();
  const url = `http://127.0.0.1:${port}/`;
  for (let i = 0; ; i++) {
    await new Promise((r) => setTimeout(r, 50));
    try {
      return { proc, url, resp: await checkGood(url, dir, 'req.der', 'resp.der', 'issuing.pem', false) };
    } catch (e) {
      if (i >= 60 || proc.exitCode !== null) throw e;
    }
  }
}

// ---------------------------------------------------------------- correctness
/** POSTs `reqFile`, checks with openssl that the answer is signed, verifies and says good. */
async function checkGood(url: string, dir: string, reqFile: string, respFile: string, chain: string, withNonce: boolean): Promise<Buffer> {
  await must('curl', ['-sS', '--fail', '--max-time', '5', '-H', 'Content-Type: application/ocsp-request', '--data-binary', `@${reqFile}`, '-o', respFile, url], dir);
  const out = await must('openssl', ['ocsp', '-respin', respFile, '-no_nonce', '-issuer', 'issuing.pem', '-cert', 'dev.pem', '-CAfile', chain], dir);
  if (!/dev\.pem: good/.test(out) || !/Response verify OK/.test(out)) throw new Error(`${url}: response is not a verified "good":\n${out}`);
  if (withNonce) {
    // With -cert the openssl app builds its own request (and nonce); the nonce is only
    // compared against the request sent when that request is the only one given (-reqin).
    const n = await must('openssl', ['ocsp', '-reqin', reqFile, '-respin', respFile, '-CAfile', chain], dir);
    if (/nonce/i.test(n) || !/Response verify OK/.test(n)) throw new Error(`${url}: nonce not echoed:\n${n}`);
  }
  return readFileSync(join(dir, respFile));
}

// ---------------------------------------------------------------- wrk
/**
 * wrk POSTs a binary body from Lua; done() prints the summary once, at no per-request cost.
 * wrk.resolve is replaced by one without wrk's connect-and-close probe: `openssl ocsp -port`
 * (3.0.x) spins forever on a connection closed before a request line arrives, and never
 * accepts another one. The same script (and so the same client) drives every server.
 */
function wrkScript(body: Buffer): string {
  const lua = [...body].map((b) => `\\${b}`).join('');
  return [
    'wrk.resolve = function(host, service)',
    '  wrk.addrs = wrk.lookup(host, service)',
    'end',
    'wrk.method = "POST"',
    `wrk.body = "${lua}"`,
    'wrk.headers["Content-Type"] = "application/ocsp-request"',
    'done = function(s, latency, requests)',
    '  local e = s.errors',
    '  io.write(string.format("WRKJSON {\\"requests\\":%d,\\"duration\\":%d,\\"bytes\\":%d,\\"connect\\":%d,\\"read\\":%d,\\"write\\":%d,\\"status\\":%d,\\"timeout\\":%d,\\"p50\\":%d,\\"p99\\":%d}\\n",',
    '    s.requests, s.duration, s.bytes, e.connect, e.read, e.write, e.status, e.timeout, latency:percentile(50), latency:percentile(99)))',
    'end',
  ].join('\n');
}

interface WrkResult {
  requests: number;
  rps: number;
  /** ms */
  p50: number;
  p99: number;
  bytesPerResponse: number;
  errors: number;
  errorText: string;
  /** wrk's own CPU time (user + system) over the run's wall time */
  wrkCpu: number;
}

async function wrk(url: string, script: string, conns: number, close: boolean, seconds: number): Promise<WrkResult> {
  const args = ['-t1', `-c${conns}`, `-d${seconds}s`, '--timeout', '2s', '-s', script, ...(close ? ['-H', 'Connection: close'] : []), url];
  // `times` after wrk prints the CPU time of the shell's children, i.e. wrk's.
  const r = await run('sh', ['-c', 'wrk "$@"; s=$?; times; exit $s', 'sh', ...args], { timeoutMs: (seconds + 15) * 1000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('WRKJSON '));
  if (r.status !== 0 || !line) throw new Error(`wrk ${args.join(' ')} failed (${r.status}):\n${r.stdout}${r.stderr}`);
  const j = JSON.parse(line.slice('WRKJSON '.length)) as Record<'requests' | 'duration' | 'bytes' | 'connect' | 'read' | 'write' | 'status' | 'timeout' | 'p50' | 'p99', number>;
  const times = [...r.stdout.matchAll(/(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/g)].at(-1);
  const cpuS = times ? 60 * Number(times[1]) + Number(times[2]) + 60 * Number(times[3]) + Number(times[4]) : NaN;
  const errors = j.connect + j.read + j.write + j.status + j.timeout + (j.requests === 0 ? 1 : 0);
  const errorText = errors ? `requests ${j.requests} connect ${j.connect} read ${j.read} write ${j.write} status ${j.status} timeout ${j.timeout}` : '';
  const secs = j.duration / 1e6;
  return { requests: j.requests, rps: j.requests / secs, p50: j.p50 / 1000, p99: j.p99 / 1000, bytesPerResponse: j.requests ? j.bytes / j.requests : 0, errors, errorText, wrkCpu: cpuS / secs };
}

// ---------------------------------------------------------------- CPU accounting
/** USER_HZ: /proc reports CPU times in 1/100 s on every Linux architecture Node runs on. */
const CLK_TCK = 100;

/** user + system CPU seconds of a process (all its threads) from /proc/PID/stat. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of proc(5); f[0] is field 3.
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

// ---------------------------------------------------------------- the run
interface Target {
  name: string;
  script: string;
  /** The server for one run: node servers stay up, openssl is started fresh every time. */
  start(): Promise<{ url: string; pid: number | undefined; stop(): Promise<void> }>;
}

interface Run extends WrkResult {
  /** server CPU time per response, µs */
  cpuPerResponse: number;
}

interface Row {
  mode: 'keep-alive' | 'close';
  conns: number;
  name: string;
  runs: Run[];
  /** the median run by req/s */
  r: Run;
  vsFixed?: number;
  vsOpenssl?: number;
  target?: { against: 'fixed' | 'openssl'; min: number; pass: boolean };
}

async function measureOnce(t: Target, conns: number, close: boolean, seconds: number): Promise<Run> {
  const s = await t.start();
  try {
    const before = cpuSeconds(s.pid);
    const w = await wrk(s.url, t.script, conns, close, seconds);
    const used = cpuSeconds(s.pid) - before;
    return { ...w, cpuPerResponse: w.requests ? (used * 1e6) / w.requests : NaN };
  } finally {
    await s.stop();
  }
}

/** Runs the targets of one comparison interleaved, `rounds` times; one row per target. */
async function scenario(mode: Row['mode'], conns: number, targets: Target[]): Promise<Row[]> {
  const runs = targets.map((): Run[] => []);
  for (let i = 0; i < ROUNDS; i++) {
    for (const [k, t] of targets.entries()) runs[k]?.push(await measureOnce(t, conns, mode === 'close', DURATION_S));
  }
  return targets.map((t, k) => {
    const rs = [...(runs[k] ?? [])].sort((a, b) => a.rps - b.rps);
    const failed = rs.find((x) => x.errors > 0);
    return { mode, conns, name: t.name, runs: rs, r: failed ?? (rs[Math.floor((rs.length - 1) / 2)] as Run) };
  });
}

/** undefined when either side failed: no ratio (and no pass) from a broken measurement. */
function ratio(a: Row, b: Row): number | undefined {
  return a.r.errors === 0 && b.r.errors === 0 && a.r.rps > 0 && b.r.rps > 0 ? a.r.rps / b.r.rps : undefined;
}

async function main(): Promise<void> {
  requireTool('wrk', 'wrk');
  requireTool('openssl', 'openssl');
  requireTool('curl', 'curl');
  const work = mkdtempSync(join(tmpdir(), 'fg-bench-ocsp-'));
  workDir = work;
  const profileDir = opts.profile ? resolve(opts.profile) : undefined;
  const deadline = setTimeout(() => {
    console.error(`benchmark exceeded ${DEADLINE_MS / 1000} s: stopping`);
    void stopAll().finally(() => process.exit(2));
  }, DEADLINE_MS);
  deadline.unref();
  const load0 = loadavg()[0] ?? 0;
  try {
    // femtoguard: production server in a child, one active device, request without/with nonce.
    const fgDir = join(work, 'femtoguard');
    mkdirSync(fgDir);
    const fg = await nodeChild('femtoguard', fgDir, profileDir);
    await must('openssl', ['ocsp', '-issuer', 'issuing.pem', '-cert', 'dev.pem', '-no_nonce', '-reqout', 'req.der'], fgDir);
    await must('openssl', ['ocsp', '-issuer', 'issuing.pem', '-cert', 'dev.pem', '-reqout', 'req-nonce.der'], fgDir);
    const fgUrl = `http://127.0.0.1:${fg.port}/ocsp`;
    const fgApiUrl = `http://127.0.0.1:${Number(fg.info.apiPort)}/ocsp`;
    const fgResp = await checkGood(fgUrl, fgDir, 'req.der', 'resp.der', 'chain.pem', false);
    const fgNonceResp = await checkGood(fgUrl, fgDir, 'req-nonce.der', 'resp-nonce.der', 'chain.pem', true);
    await checkGood(fgApiUrl, fgDir, 'req.der', 'resp-api.der', 'chain.pem', false);

    // Ceiling: the same bytes from a plain node:http server.
    const fixed = await nodeChild('fixed', join(fgDir, 'resp.der'));
    const fixedUrl = `http://127.0.0.1:${fixed.port}/ocsp`;

    // Peer: openssl ocsp with its own equivalent CA.
    const osDir = join(work, 'openssl');
    await opensslCa(osDir);
    await must('openssl', ['ocsp', '-issuer', 'issuing.pem', '-cert', 'dev.pem', '-no_nonce', '-reqout', 'req.der'], osDir);
    const probe = await startOpenssl(osDir);
    const osResp = probe.resp;
    await stopChild(probe.proc);

    const script = (name: string, der: string): string => {
      const file = join(work, `${name}.lua`);
      writeFileSync(file, wrkScript(readFileSync(der)));
      return file;
    };
    const node = (name: string, url: string, pid: number | undefined, s: string): Target => ({ name, script: s, start: async () => ({ url, pid, stop: async () => {} }) });
    const fgScript = script('fg', join(fgDir, 'req.der'));
    const T = {
      fixed: node('fixed buffer (ceiling)', fixedUrl, fixed.proc.pid, fgScript),
      fg: node('femtoguard', fgUrl, fg.proc.pid, fgScript),
      fgNonce: node('femtoguard, nonce (signs each)', fgUrl, fg.proc.pid, script('fg-nonce', join(fgDir, 'req-nonce.der'))),
      fgApi: node('femtoguard, API listener', fgApiUrl, fg.proc.pid, fgScript),
      openssl: {
        name: 'openssl ocsp -port',
        script: script('openssl', join(osDir, 'req.der')),
        // A fresh responder per run: a connection the previous run closed before sending
        // its request would wedge it (see wrkScript).
        start: async () => {
          const os = await startOpenssl(osDir);
          return { url: os.url, pid: os.proc.pid, stop: () => stopChild(os.proc) };
        },
      } satisfies Target,
    };

    const wrkV = /wrk (\S+)/.exec((await run('wrk', ['--version'])).stdout)?.[1] ?? '?';
    console.log(`node ${process.version}, wrk ${wrkV}, ${(await must('openssl', ['version'], work)).trim()}; ${cpus().length} CPUs, load ${load0.toFixed(1)}`);
    console.log(`wrk -t1 over loopback; every row is the median of ${ROUNDS} interleaved ${DURATION_S}-s runs (spread = slowest..fastest run)`);
    console.log(`OCSP response bodies: femtoguard ${fgResp.length} B (nonce ${fgNonceResp.length} B), fixed buffer ${fgResp.length} B (the same bytes), openssl ${osResp.length} B (own throwaway P-256 CA, responder certificate included, ResponderID byKey)`);
    if (load0 > 0.5 * cpus().length) console.log(`WARNING: other processes are using the CPUs (load ${load0.toFixed(1)}): figures will be low and noisy`);

    // JIT warm-up of both node servers (not measured).
    await wrk(fgUrl, fgScript, CONNS_KEEPALIVE, false, 1);
    await wrk(fgApiUrl, fgScript, CONNS_KEEPALIVE, false, 1);
    await wrk(fixedUrl, fgScript, CONNS_KEEPALIVE, false, 1);

    const rows: Row[] = [];
    /** fixed-buffer ceiling / openssl without keep-alive: what any node:http server could reach */
    const ceilingVsOpenssl: string[] = [];
    const [kaFixed, kaFg, kaFgNonce] = await scenario('keep-alive', CONNS_KEEPALIVE, [T.fixed, T.fg, T.fgNonce]);
    if (!kaFixed || !kaFg || !kaFgNonce) throw new Error('unreachable');
    rows.push(kaFixed, kaFg, kaFgNonce);
    kaFg.vsFixed = ratio(kaFg, kaFixed);
    kaFgNonce.vsFixed = ratio(kaFgNonce, kaFixed);
    kaFg.target = { against: 'fixed', min: TARGET_CEILING, pass: (kaFg.vsFixed ?? 0) >= TARGET_CEILING };
    for (const conns of [1, 16]) {
      const [cFixed, cOs, cFg, cFgApi, cFgNonce] = await scenario('close', conns, conns === 16 ? [T.fixed, T.openssl, T.fg, T.fgApi, T.fgNonce] : [T.fixed, T.openssl, T.fg, T.fgApi]);
      if (!cFixed || !cOs || !cFg || !cFgApi) throw new Error('unreachable');
      rows.push(cFixed, cOs, cFg, cFgApi, ...(cFgNonce ? [cFgNonce] : []));
      for (const r of [cOs, cFg, cFgApi, cFgNonce]) if (r) r.vsFixed = ratio(r, cFixed);
      for (const r of [cFg, cFgApi, cFgNonce]) if (r) r.vsOpenssl = ratio(r, cOs);
      cFg.target = { against: 'openssl', min: TARGET_OPENSSL, pass: (cFg.vsOpenssl ?? 0) >= TARGET_OPENSSL };
      ceilingVsOpenssl.push(`${ratio(cFixed, cOs)?.toFixed(2) ?? 'n/a'}x openssl at -c${conns}`);
    }

    await stopChild(fg.proc);
    printTable(rows);
    const stats = /femtoguard OCSP stats: (.*)/.exec(fg.stderr())?.[1];
    if (stats) console.log(`femtoguard responder counters, whole run (warm-up and checks included): ${stats}`);
    if (profileDir) console.log(`CPU profile of the femtoguard server written to ${profileDir}`);
    console.log(`without keep-alive, the fixed-buffer ceiling itself is ${ceilingVsOpenssl.join(' and ')}`);
    const load1 = loadavg()[0] ?? 0;
    if (load1 > 0.5 * cpus().length + 1) console.log(`WARNING: load ${load1.toFixed(1)} at the end: other processes competed for the CPUs`);
    const targets = rows.filter((r) => r.target);
    const failed = targets.filter((r) => !r.target?.pass);
    console.log(
      `OCSP: femtoguard ${kaFg.r.rps.toFixed(0)}/s keep-alive = ${pct(kaFg.vsFixed)} of the ${kaFixed.r.rps.toFixed(0)}/s ceiling (target ${pct(TARGET_CEILING)}); without keep-alive ` +
        targets
          .filter((r) => r.mode === 'close')
          .map((r) => `${r.r.rps.toFixed(0)}/s = ${r.vsOpenssl?.toFixed(2) ?? 'n/a'}x openssl at -c${r.conns}`)
          .join(', ') +
        ` (target ${TARGET_OPENSSL}x): ${failed.length === 0 ? 'all targets met' : `${failed.length} of ${targets.length} targets missed`}`,
    );
    if (failed.length) process.exitCode = 1;
  } finally {
    await stopAll();
    clearTimeout(deadline);
  }
}

const pct = (x: number | undefined): string => (x === undefined ? 'n/a' : `${(100 * x).toFixed(0)}%`);

function printTable(rows: Row[]): void {
  const head = ['connections', 'server', 'req/s', 'spread', 'p50 ms', 'p99 ms', 'B/resp', 'CPU us/resp', 'wrk CPU', '/ceiling', '/openssl', 'target'];
  const w = [16, 31, 7, 13, 7, 7, 7, 11, 8, 9, 9, 13];
  const line = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(w[i] ?? 0) : c.padStart(w[i] ?? 0))).join(' ');
  console.log(line(head));
  for (const row of rows) {
    const t = row.target;
    const first = row.runs[0];
    const last = row.runs[row.runs.length - 1];
    console.log(
      line([
        `${row.mode}, -c${row.conns}`,
        row.name,
        row.r.rps.toFixed(0),
        first && last ? `${first.rps.toFixed(0)}..${last.rps.toFixed(0)}` : '',
        row.r.p50.toFixed(2),
        row.r.p99.toFixed(2),
        row.r.bytesPerResponse.toFixed(0),
        row.r.cpuPerResponse.toFixed(1),
        `${(100 * row.r.wrkCpu).toFixed(0)}%`,
        row.vsFixed === undefined ? '' : pct(row.vsFixed),
        row.vsOpenssl === undefined ? '' : `${row.vsOpenssl.toFixed(2)}x`,
        t ? `${t.pass ? 'PASS' : 'FAIL'} >=${t.against === 'fixed' ? pct(t.min) : `${t.min}x`}` : '',
      ]) + (row.r.errors ? `  errors: ${row.r.errorText}` : ''),
    );
  }
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    void stopAll().finally(() => process.exit(130));
  });
}
main().catch(async (e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  await stopAll();
  process.exitCode = 1;
});
