/**
 * The payment risk API (`POST /v1/payment-risk/check`) on loopback with one million
 * subscribers in the exposure index, beside a baseline in the same run: the same server, the
 * same bearer-token check and JSON body parsing, answering a fixed JSON of the same size
 * (`POST /bench/baseline`, added by this benchmark only). Target: p99 < 5 ms at 2,000 rps.
 *
 * Two load generators, both reported:
 *   - wrk (closed loop, a Lua script POSTing JSON bodies for random numbers across the
 *     million) with enough connections that throughput exceeds 2,000 rps; p99 is at that load;
 *   - an open-loop Node client in its own process sending exactly 2,000 requests per second
 *     and timing each from its scheduled send time (no coordinated omission).
 *
 *   npm run bench:risk [-- --subscribers 1000000 --duration 10 --rounds 3 --keep]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { openSqlite } from '../src/adapters/sqlite/index.js';
import { sqliteAlertStore } from '../src/adapters/sqlite/alert-store.js';
import { sqliteExposureStore } from '../src/adapters/sqlite/exposure-store.js';
import { startServer } from '../src/app/index.js';
import { EXTENSIONS } from '../src/app/extensions.js';
import { can } from '../src/api/index.js';
import { loadConfig } from '../src/config/index.js';
import { silentLogger } from '../src/core/logger.js';
import { dayOf, type ExposureBucket, type SubscriberRecord } from '../src/subscribers/index.js';
import { requireTool, run } from '../test/helpers/run.js';

const { values: opts } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '1000000' },
    duration: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    keep: { type: 'boolean', default: false },
  },
});
const msisdnOf = (i: number): string => `+8210${String(i).padStart(8, '0')}`;
const imsiOf = (i: number): string => String(450_080_000_000_000 + i);

// ------------------------------------------------------------- open-loop client (child)
/**
 * Sends RATE requests per second for SECONDS, each at its scheduled time whether or not
 * earlier ones have been answered. Latency is timed from the scheduled time (a late send counts
 * against the result: no coordinated omission) and, for reference, from the moment the request
 * was written. HTTP/1.1 on raw keep-alive sockets (node:http's client costs more CPU than the
 * server under test, on a machine where they share two cores); a request due while every
 * socket waits for an answer opens another socket. Plain JavaScript run with `node -e`, so the
 * child starts in milliseconds and loads nothing else. Prints JSON.
 */
const CLIENT_JS = String.raw`
import { connect } from 'node:net';
const [base, token, path, rate, seconds, subscribers] = process.argv.slice(1);
const url = new URL(base);
const total = Number(rate) * Number(seconds);
const lat = new Float64Array(total);
const service = new Float64Array(total);
const pct = (s, p) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
let done = 0, errors = 0, sent = 0, resolveAll;
const finished = new Promise((r) => (resolveAll = r));
const idle = [];
const complete = (c, ok) => {
  const job = c.job;
  if (!job) return;
  c.job = null;
  const t = performance.now();
  lat[job.i] = t - job.due;
  service[job.i] = t - job.at;
  if (!ok) errors++;
  idle.push(c);
  if (++done === total) resolveAll();
};
const open = () => {
  const c = { sock: connect(Number(url.port), url.hostname), buf: Buffer.alloc(0), job: null };
  c.sock.setNoDelay(true);
  c.sock.on('data', (d) => {
    c.buf = c.buf.length ? Buffer.concat([c.buf, d]) : d;
    const end = c.buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = c.buf.toString('latin1', 0, end);
    const len = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
    if (c.buf.length < end + 4 + len) return;
    c.buf = c.buf.subarray(end + 4 + len);
    complete(c, head.startsWith('HTTP/1.1 200'));
  });
  c.sock.on('error', () => complete(c, false));
  return c;
};
const fire = (i, due) => {
  const c = idle.pop() ?? open();
  const n = Math.floor(Math.random() * Number(subscribers));
  const body = '{"device":{"phoneNumber":"+8210' + String(n).padStart(8, '0') + '"},"maxAge":86400}';
  c.job = { i, due, at: performance.now() };
  c.sock.write('POST ' + path + ' HTTP/1.1\r\nHost: ' + url.host + '\r\nAuthorization: Bearer ' + token + '\r\nContent-Type: application/json\r\nx-correlator: b-' + i + '\r\nContent-Length: ' + body.length + '\r\n\r\n' + body);
};
for (let k = 0; k < 16; k++) idle.push(open());
await new Promise((r) => setTimeout(r, 200));
const start = performance.now();
// A 1 ms timer, not a busy loop: requests due since the last tick go out together.
const timer = setInterval(() => {
  const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * Number(rate)));
  while (sent < due) {
    fire(sent, start + (sent * 1000) / Number(rate));
    sent++;
  }
  if (sent >= total) clearInterval(timer);
}, 1);
await finished;
const elapsed = (performance.now() - start) / 1000;
const s = lat.slice().sort();
const v = service.slice().sort();
const conns = idle.length;
for (const c of idle) c.sock.destroy();
process.stdout.write(JSON.stringify({ requests: total, errors, seconds: elapsed, rps: total / elapsed, p50: pct(s, 50), p90: pct(s, 90), p99: pct(s, 99), p999: pct(s, 99.9), max: s[s.length - 1], sentP50: pct(v, 50), sentP99: pct(v, 99), conns }) + '\n');
`;

// ------------------------------------------------------------- the benchmark
async function main(): Promise<void> {
  requireTool('wrk', 'wrk');
  const N = Number(opts.subscribers);
  const seconds = Number(opts.duration);
  const rounds = Number(opts.rounds);
  const dir = mkdtempSync(join(tmpdir(), 'fg-bench-risk-'));
  const now = Date.now();
  try {
    // 1. One million subscribers, each seen on a home cell in the last week; 20 flagged cells
    //    with 500 subscribers each, seen on them minutes to days ago (high, medium, low).
    let t0 = performance.now();
    const db = openSqlite(join(dir, 'femtoguard.db'));
    const store = sqliteExposureStore(db);
    const ROGUE = Array.from({ length: 20 }, (_, i) => `45008-39${String(i).padStart(7, '0')}`);
    const PAGE = 50_000;
    for (let from = 0; from < N; from += PAGE) {
      const buckets: ExposureBucket[] = [];
      const subscribers: SubscriberRecord[] = [];
      for (let i = from; i < Math.min(N, from + PAGE); i++) {
        const t = now - Math.floor(Math.random() * 7 * 86_400_000);
        const home = `45008-1${String(i % 50_000).padStart(8, '0')}`;
        buckets.push({ day: dayOf(t), cellId: home, imsi: imsiOf(i), firstAttach: t, lastAttach: t, attachCount: 1, firstSeen: t, lastSeen: t, imsCount: 0, imsWithoutIpsec: 0 });
        subscribers.push({ imsi: imsiOf(i), msisdn: msisdnOf(i), imei: null, firstSeen: t, lastSeen: t, lastCellId: home });
        if (i % 100 === 7) {
          const r = now - Math.floor(Math.random() * 3 * 86_400_000);
          buckets.push({ day: dayOf(r), cellId: ROGUE[i % 20] as string, imsi: imsiOf(i), firstAttach: r, lastAttach: r, attachCount: 1, firstSeen: r, lastSeen: r, imsCount: 0, imsWithoutIpsec: 0 });
        }
      }
      await store.apply({ buckets, subscribers, payments: [], cursor: null });
    }
    const alerts = sqliteAlertStore(db);
    for (const c of ROGUE) {
      const ts = new Date(now - 4 * 86_400_000).toISOString();
      await alerts.upsert({ id: `al_${c}`, ts, rule: 'unregistered-cell', severity: 'critical', cellId: c, summary: 'bench', evidence: {}, count: 1, firstSeen: ts, lastSeen: ts }, ts);
    }
    db.close();
    const populateS = (performance.now() - t0) / 1000;
    console.log(`populated ${N} subscribers (${N / 100} exposed to 20 flagged cells) in ${populateS.toFixed(1)} s`);

    // 2. The real server, plus the baseline route: same auth, same body parsing, fixed answer.
    let fixed = '';
    EXTENSIONS.push({
      name: 'bench-baseline',
      registerApi(app, { base }) {
        app.post('/bench/baseline', async (req, reply) => {
          const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
          const p = m ? await base.tokens.verify(m[1] as string) : null;
          if (!p || !can(p.role, 'payments:risk')) return reply.code(401).send({ status: 401, code: 'UNAUTHENTICATED', message: 'no' });
          const c = req.headers['x-correlator'];
          if (typeof c === 'string') reply.header('x-correlator', c);
          return reply.header('content-type', 'application/json').header('cache-control', 'no-store').send(fixed);
        });
      },
    });
    t0 = performance.now();
    const config = loadConfig({ env: {}, flags: { dataDir: dir, http: '127.0.0.1:0', https: '127.0.0.1:0', logLevel: 'silent' } });
    const srv = await startServer(config, { logger: silentLogger(), env: { FEMTOGUARD_CA_PASSPHRASE: randomBytes(16).toString('hex') } });
    const startS = (performance.now() - t0) / 1000;
    const token = (await srv.base.tokens.create('payment', 'bench')).token;
    console.log(`server started, hot index rebuilt from the store, in ${startS.toFixed(1)} s; process RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB, heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB`);

    // The baseline answers with the mean size of real answers.
    let bytes = 0;
    const levels: Record<string, number> = {};
    for (let k = 0; k < 2000; k++) {
      const i = k % 2 ? Math.floor(Math.random() * N) : Math.floor(Math.random() * (N / 100)) * 100 + 7;
      const r = await fetch(`${srv.httpUrl}/v1/payment-risk/check`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ device: { phoneNumber: msisdnOf(i) }, maxAge: 86_400 }) });
      const text = await r.text();
      if (r.status !== 200) throw new Error(`risk check answered ${r.status}: ${text}`);
      bytes += Buffer.byteLength(text);
      const lvl = (JSON.parse(text) as { riskLevel: string }).riskLevel;
      levels[lvl] = (levels[lvl] ?? 0) + 1;
    }
    const size = Math.round(bytes / 2000);
    fixed = JSON.stringify({ exposed: false, riskLevel: 'none', pad: '' });
    fixed = JSON.stringify({ exposed: false, riskLevel: 'none', pad: 'x'.repeat(Math.max(0, size - fixed.length)) });
    console.log(`answers checked: ${JSON.stringify(levels)} (half of the numbers drawn among the exposed); mean size ${size} bytes, baseline ${fixed.length} bytes`);

    // 3. wrk, closed loop: 1 thread, 8 connections (2 cores: wrk and the server share them).
    const lua = join(dir, 'risk.lua');
    writeFileSync(
      lua,
      `math.randomseed(os.time())
request = function()
  local i = math.random(0, ${N - 1})
  local body = string.format('{"device":{"phoneNumber":"+8210%08d"},"maxAge":86400}', i)
  return wrk.format("POST", nil, { ["Authorization"] = "Bearer ${token}", ["Content-Type"] = "application/json", ["x-correlator"] = "wrk-" .. i }, body)
end
done = function(summary, latency, requests)
  io.write(string.format("JSON{\\"requests\\":%d,\\"errors\\":%d,\\"p50\\":%.3f,\\"p90\\":%.3f,\\"p99\\":%.3f,\\"max\\":%.3f,\\"rps\\":%.1f}\\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000, summary.requests / (summary.duration / 1e6)))
end
`,
    );
    type Row = { requests: number; errors: number; p50: number; p90: number; p99: number; max: number; rps: number; sentP99?: number; gc?: string };
    // What the server's own process went through during each run: GC pauses, event-loop stalls.
    const gcPauses: number[] = [];
    new PerformanceObserver((l) => {
      for (const e of l.getEntries()) gcPauses.push(e.duration);
    }).observe({ entryTypes: ['gc'] });
    const observed = async (f: () => Promise<Row>): Promise<Row> => {
      gcPauses.length = 0;
      const loop = monitorEventLoopDelay({ resolution: 1 });
      loop.enable();
      const r = await f();
      loop.disable();
      r.gc = `${gcPauses.length} GC, longest ${Math.max(0, ...gcPauses).toFixed(1)} ms; loop stall max ${(loop.max / 1e6).toFixed(1)} ms`;
      return r;
    };
    const wrk = async (path: string, conns: number): Promise<Row> => {
      const r = await run('wrk', ['-t1', `-c${conns}`, `-d${seconds}s`, '-s', lua, `${srv.httpUrl}${path}`], { timeoutMs: (seconds + 30) * 1000 });
      const m = /JSON(\{.*\})/.exec(r.stdout);
      if (!m) throw new Error(`wrk: ${r.stdout}${r.stderr}`);
      return JSON.parse(m[1] as string) as Row;
    };
    const openLoop = async (path: string): Promise<Row> => {
      const r = await run(process.execPath, ['--input-type=module', '-e', CLIENT_JS, srv.httpUrl, token, path, '2000', String(seconds), String(N)], { timeoutMs: (seconds + 60) * 1000 });
      if (r.status !== 0) throw new Error(`open-loop client: ${r.stderr}`);
      return JSON.parse(r.stdout) as Row;
    };
    const rows: [string, Row][] = [];
    // Interleaved, warm-up first (JIT, SQLite page cache of the token store).
    await wrk('/v1/payment-risk/check', 8);
    await openLoop('/bench/baseline');
    // Each row is run --rounds times, interleaved with its baseline; the run with the median p99
    // is shown (on a shared 2-core machine single runs swing by 2x and more).
    const median = async (runs: Row[]): Promise<Row> => runs.sort((a, b) => a.p99 - b.p99)[Math.floor(runs.length / 2)] as Row;
    const cases: [string, () => Promise<Row>][] = [
      ['open loop 2000 rps, risk check', () => openLoop('/v1/payment-risk/check')],
      ['open loop 2000 rps, baseline', () => openLoop('/bench/baseline')],
      ['wrk 1 thread 2 conns, risk check', () => wrk('/v1/payment-risk/check', 2)],
      ['wrk 1 thread 2 conns, baseline', () => wrk('/bench/baseline', 2)],
      ['wrk 1 thread 8 conns, risk check', () => wrk('/v1/payment-risk/check', 8)],
      ['wrk 1 thread 8 conns, baseline', () => wrk('/bench/baseline', 8)],
    ];
    const runs = cases.map((): Row[] => []);
    for (let r = 0; r < rounds; r++) for (const [i, [, f]] of cases.entries()) runs[i]?.push(await observed(f));
    for (const [i, [name]] of cases.entries()) rows.push([name, await median(runs[i] ?? [])]);
    await srv.stop();

    console.log('\n| load | requests/s | p50 ms | p90 ms | p99 ms | max ms | errors | p99 from actual send | server process |\n|---|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const [name, r] of rows) console.log(`| ${name} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p90.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.max.toFixed(1)} | ${r.errors} | ${r.sentP99 === undefined ? '' : r.sentP99.toFixed(2)} | ${r.gc ?? ''} |`);
    const ol = rows[0]?.[1];
    const wk = rows[2]?.[1];
    console.log(`\nload average during the run: ${loadavg().map((x) => x.toFixed(2)).join(' ')} (2 cores shared by server, load generator and anything else running)`);
    console.log(`target p99 < 5 ms at 2,000 rps with ${N} subscribers: open loop p99 ${ol?.p99.toFixed(2)} ms ${ol && ol.p99 < 5 ? 'MET' : 'NOT MET'}; wrk at ${wk?.rps.toFixed(0)} rps p99 ${wk?.p99.toFixed(2)} ms ${wk && wk.rps > 2000 && wk.p99 < 5 ? 'MET' : 'NOT MET'}`);
  } finally {
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
    else console.log(`kept ${dir}`);
  }
}

await main();
