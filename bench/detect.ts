/**
 * Detection throughput: `femtoguard detect` run as a real child process over a generated fleet
 * (20,000 femtocells, about 5 million events: bench/gen-events.ts), beside the ceiling
 * measured in the same run: a child that reads the same file with the same chunked reads (1 MiB
 * into one reused buffer) and JSON.parse-es every line, and does nothing else. The ceiling runs
 * before and after detect; the faster of the two counts. Peak memory is each child's peak RSS, from GNU
 * time (`%M`) or, without it, VmHWM polled from /proc.
 * Targets: detect >= 50% of the ceiling's events per second, peak RSS < 1 GiB.
 *
 *   npm run bench:detect [-- [DIR] [--devices 20000] [--events 5000000] [--seed 1]
 *                              [--runner auto|dist|tsx] [--profile PROFILE_DIR]]
 *
 * DIR holding registry.csv and events.ndjson is reused as it is; otherwise the data is
 * generated into DIR (kept) or a temporary directory (removed). The runner is the compiled
 * CLI (`node bin/femtoguard.js`) when dist/ is built and up to date with src/, else the CLI
 * from source (`node --import tsx test/helpers/cli-entry.ts`); --runner forces one.
 * --profile writes CPU profiles of the detect child (node --cpu-prof, one per thread) and
 * prints, for each thread, its sampled busy time and where it went, by function (self time).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../test/helpers/run.js';
import { generate } from './gen-events.js';

const TARGET_RATIO = 0.5;
const TARGET_RSS_MIB = 1024;
/** A child that runs longer than this is killed (the benchmark is meant to take ~3 minutes). */
const CHILD_TIMEOUT_MS = 20 * 60_000;
const GNU_TIME = '/usr/bin/time';

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    devices: { type: 'string', default: '20000' },
    events: { type: 'string', default: '5000000' },
    seed: { type: 'string', default: '1' },
    runner: { type: 'string', default: 'auto' },
    profile: { type: 'string' },
  },
});

/**
 * The ceiling: the same reads as `femtoguard detect` (1 MiB reads into one reused buffer,
 * src/detection/replay-thread.ts chunksOf; lines split on \n, carried across chunks in copies)
 * and JSON.parse on every non-blank line. Plain JS, no transpiler.
 */
const CEILING = `
(async () => {
  let lines = 0, objects = 0, errors = 0, carry = null;
  const parse = (text) => {
    if (text.length === 0) return;
    lines++;
    try { if (typeof JSON.parse(text) === 'object') objects++; } catch { errors++; }
  };
  const file = await require('node:fs/promises').open(process.argv[1], 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  for (;;) {
    const { bytesRead } = await file.read(buf, 0, buf.length, null);
    if (bytesRead === 0) break;
    const chunk = buf.subarray(0, bytesRead);
    let start = 0;
    let nl = chunk.indexOf(10);
    while (nl !== -1) {
      if (carry) { parse(Buffer.concat([carry, chunk.subarray(0, nl)]).toString('utf8')); carry = null; }
      else parse(chunk.toString('utf8', start, nl));
      start = nl + 1;
      nl = chunk.indexOf(10, start);
    }
    if (start < chunk.length) carry = carry ? Buffer.concat([carry, chunk.subarray(start)]) : Buffer.from(chunk.subarray(start));
  }
  await file.close();
  if (carry) parse(carry.toString('utf8'));
  process.stdout.write(JSON.stringify({ lines, objects, errors }) + '\\n');
})();
`;

interface ChildRun {
  status: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
  cpuSeconds: number | null;
  peakRssMiB: number | null;
}

/** Runs a child to its end; wall time from spawn to exit, peak RSS and CPU time as GNU time reports them. */
function runChild(cmd: string, args: readonly string[]): Promise<ChildRun> {
  const gnuTime = existsSync(GNU_TIME);
  const work = mkdtempSync(join(tmpdir(), 'fg-bench-time-'));
  const timeFile = join(work, 'time.txt');
  const [file, argv] = gnuTime ? [GNU_TIME, ['-f', '%M %U %S', '-o', timeFile, cmd, ...args]] : [cmd, [...args]];
  return new Promise((done, fail) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(file, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    // Without GNU time: the kernel's high-water mark of the child's RSS, polled until it exits.
    let hwmKiB = 0;
    const poll = gnuTime
      ? undefined
      : setInterval(() => {
          try {
            const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
            if (m) hwmKiB = Math.max(hwmKiB, Number(m[1]));
          } catch {
            // exited between two polls
          }
        }, 20);
    const killer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.on('error', fail);
    child.on('close', (status) => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      clearTimeout(killer);
      if (poll) clearInterval(poll);
      let peakRssMiB: number | null = hwmKiB ? hwmKiB / 1024 : null;
      let cpuSeconds: number | null = null;
      if (gnuTime) {
        const m = /(\d+) ([\d.]+) ([\d.]+)\s*$/.exec(existsSync(timeFile) ? readFileSync(timeFile, 'utf8') : '');
        if (m) {
          peakRssMiB = Number(m[1]) / 1024;
          cpuSeconds = Number(m[2]) + Number(m[3]);
        }
      }
      rmSync(work, { recursive: true, force: true });
      done({ status, stdout, stderr, seconds, cpuSeconds, peakRssMiB });
    });
  });
}

/** Newest modification time of the .ts sources under a directory (tests excluded). */
function newestSource(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, name.name);
    if (name.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (name.name.endsWith('.ts') && !name.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/** Which CLI to run: the compiled one when dist/ is there and not older than src/, else from source. */
function chooseRunner(): { name: string; cmd: string; args: string[]; why: string } {
  const fromSource = { name: 'tsx', cmd: process.execPath, args: ['--import', 'tsx', 'test/helpers/cli-entry.ts'] };
  const compiled = { name: 'dist', cmd: process.execPath, args: ['bin/femtoguard.js'] };
  const built = join(ROOT, 'dist', 'detection', 'replay.js');
  const fresh = existsSync(built) && statSync(join(ROOT, 'dist', 'cli', 'detect.js')).mtimeMs >= newestSource(join(ROOT, 'src'));
  if (opts.runner === 'dist') return { ...compiled, why: 'forced by --runner' };
  if (opts.runner === 'tsx') return { ...fromSource, why: 'forced by --runner' };
  if (opts.runner !== 'auto') throw new Error('--runner must be auto, dist or tsx');
  // Both run the same JavaScript once loaded (tsx only transpiles on import); dist saves the transpile at start-up.
  return fresh ? { ...compiled, why: 'dist/ is built and up to date' } : { ...fromSource, why: existsSync(built) ? 'dist/ is older than src/' : 'dist/ has no detection module (run npm run build)' };
}

/** Sampled time of a .cpuprofile outside `(idle)` (a thread that waits has idle samples only). */
function busyUs(file: string): number {
  const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: { id: number; callFrame: { functionName: string } }[]; samples: number[]; timeDeltas: number[] };
  const idle = new Set(p.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
  let us = 0;
  p.samples.forEach((id, i) => {
    if (!idle.has(id)) us += p.timeDeltas[i] ?? 0;
  });
  return us;
}

/** Self time per function from a .cpuprofile, largest first. */
function profileTop(file: string, n: number): string[] {
  interface Node {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
  }
  const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
  const byNode = new Map<number, number>();
  p.samples.forEach((id, i) => byNode.set(id, (byNode.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const byFn = new Map<string, number>();
  let total = 0;
  for (const node of p.nodes) {
    const us = byNode.get(node.id) ?? 0;
    total += us;
    const f = node.callFrame;
    const where = f.url.startsWith('file://') ? relative(ROOT, new URL(f.url).pathname) : f.url;
    const key = `${f.functionName || '(anonymous)'}${where ? `  ${where}:${f.lineNumber + 1}` : ''}`;
    byFn.set(key, (byFn.get(key) ?? 0) + us);
  }
  return [...byFn]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, us]) => `${(us / 1e3).toFixed(0).padStart(8)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`);
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const mib = (x: number | null): string => (x === null ? 'n/a' : `${x.toFixed(0)} MiB`);

async function main(): Promise<void> {
  const given = positionals[0] ? resolve(positionals[0]) : undefined;
  const dir = given ?? mkdtempSync(join(tmpdir(), 'fg-bench-detect-'));
  const registry = join(dir, 'registry.csv');
  const events = join(dir, 'events.ndjson');
  try {
    if (existsSync(registry) && existsSync(events)) {
      console.log(`reusing ${relative(process.cwd(), dir) || dir}: ${(statSync(events).size / 2 ** 20).toFixed(0)} MiB of events`);
    } else {
      const g = generate({ dir, devices: Number(opts.devices), events: Number(opts.events), seed: Number(opts.seed) });
      console.log(
        `generated ${fmt(g.devices)} devices and ${fmt(g.lines)} event lines (${(g.bytes / 2 ** 20).toFixed(0)} MiB, ${g.spanHours.toFixed(1)} h of traffic, ${g.incidents.length} incidents) in ${g.seconds.toFixed(1)} s`,
      );
    }

    const ceiling = async (): Promise<ChildRun & { events: number }> => {
      const r = await runChild(process.execPath, ['-e', CEILING, events]);
      if (r.status !== 0) throw new Error(`ceiling child failed (${r.status}): ${r.stderr}`);
      const out = JSON.parse(r.stdout) as { lines: number };
      return { ...r, events: out.lines };
    };
    const runner = chooseRunner();
    console.log(`detect runs as: ${['node', ...runner.args].join(' ')} detect ... (${runner.why})`);

    const c1 = await ceiling();
    const alerts = join(dir, 'alerts.ndjson');
    const profArgs = opts.profile ? ['--cpu-prof', '--cpu-prof-dir', resolve(opts.profile)] : [];
    const profilesBefore = new Set(opts.profile && existsSync(resolve(opts.profile)) ? readdirSync(resolve(opts.profile)) : []);
    const d = await runChild(runner.cmd, [...profArgs, ...runner.args, 'detect', '--registry', registry, '--events', events, '--alerts', alerts, '--json']);
    if (d.status !== 0) throw new Error(`femtoguard detect failed (${d.status}): ${d.stderr.slice(-2000)}`);
    const summary = JSON.parse(d.stderr.trim().split('\n').at(-1) ?? '{}') as {
      events: { lines: number; accepted: number; rejectedCount: number };
      alerts: { total: number; byRule: Record<string, number> };
    };
    const c2 = await ceiling();
    const best = c1.events / c1.seconds >= c2.events / c2.seconds ? c1 : c2;
    const nEvents = summary.events.lines;
    if (nEvents !== best.events) console.log(`note: detect read ${nEvents} lines, the ceiling parsed ${best.events}`);

    const rate = nEvents / d.seconds;
    const ceilingRate = best.events / best.seconds;
    const ratio = rate / ceilingRate;
    const rows: [string, number, ChildRun][] = [
      ['ceiling: read + JSON.parse (1st)', c1.events, c1],
      ['ceiling: read + JSON.parse (2nd)', c2.events, c2],
      [`femtoguard detect (${runner.name})`, nEvents, d],
    ];
    const w = [34, 11, 9, 9, 11, 9, 10];
    const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(w[0] ?? 0) : c.padStart(w[i] ?? 0))).join(' ');
    console.log(line(['run', 'events', 'wall s', 'cpu s', 'events/s', '/ceiling', 'peak RSS']));
    for (const [name, n, r] of rows) {
      console.log(line([name, fmt(n), r.seconds.toFixed(1), r.cpuSeconds === null ? 'n/a' : r.cpuSeconds.toFixed(1), fmt(n / r.seconds), `${((100 * n) / r.seconds / ceilingRate).toFixed(1)}%`, mib(r.peakRssMiB)]));
    }
    console.log(
      `detect summary: ${fmt(summary.events.accepted)} accepted, ${summary.events.rejectedCount} rejected, ${summary.alerts.total} alerts (${Object.entries(summary.alerts.byRule)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')})`,
    );
    const incidentsFile = join(dir, 'incidents.json');
    if (existsSync(incidentsFile)) {
      const incidents = JSON.parse(readFileSync(incidentsFile, 'utf8')) as { name: string; serial: string; cellIds: string[] }[];
      const found = readFileSync(alerts, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { serial?: string; cellId?: string; severity: string });
      const hit = incidents.filter((i) => found.some((a) => (a.serial === i.serial || (a.cellId !== undefined && i.cellIds.includes(a.cellId))) && a.severity !== 'low'));
      console.log(`injected incidents raised: ${hit.length}/${incidents.length}${hit.length < incidents.length ? ` (missed: ${incidents.filter((i) => !hit.includes(i)).map((i) => i.name).join(', ')})` : ''}`);
    }
    if (opts.profile) {
      const dirP = resolve(opts.profile);
      // One profile per thread (main = reader, then the device and subscriber workers), this run's only.
      const profs = readdirSync(dirP)
        .filter((f) => f.endsWith('.cpuprofile') && !profilesBefore.has(f))
        .sort()
        .map((f) => join(dirP, f));
      for (const f of profs) {
        // A worker blocked in Atomics.wait (the subscriber side waiting for the device side's
        // flags) is sampled as busy in the function that waits, not as (idle).
        console.log(`thread profile ${relative(ROOT, f)}: ${(busyUs(f) / 1e6).toFixed(1)} s sampled outside (idle); self time:\n${profileTop(f, 15).join('\n')}`);
      }
    }
    const rss = d.peakRssMiB;
    const ok = ratio >= TARGET_RATIO && rss !== null && rss < TARGET_RSS_MIB;
    console.log(
      `detect: ${fmt(rate)} events/s, ceiling ${fmt(ceilingRate)} events/s, ratio ${ratio.toFixed(2)}, peak RSS ${mib(rss)} (targets: ratio >= ${TARGET_RATIO}, RSS < ${TARGET_RSS_MIB} MiB)${ok ? '' : ': target missed'}`,
    );
    if (!ok) process.exitCode = 1;
  } finally {
    if (!given) rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
