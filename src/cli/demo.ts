/**
 * `femtoguard demo`: a server on a fresh data directory, a live simulated fleet driving it
 * through its real interfaces (EST, mutual-TLS check-ins, the gateway session API, the event
 * feed, the payment risk API), the incident replayed at a speed-up, a live view of what the
 * server does about it, and a closing report. The data directory is left to explore.
 */
import type { Command } from 'commander';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SCENARIOS, type ScenarioName } from './choices.js';
import type { GlobalOptions } from './context.js';
import { list, usage } from './output.js';

interface DemoFlags {
  devices: string;
  speed: string;
  days: string;
  seed: string;
  scenarios: string;
  duration?: string;
  http: string;
  https: string;
  keepRunning?: boolean;
}

const num = (v: string, name: string, min: number, max: number, integer = false): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) throw usage(`--${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`);
  return n;
};

/** A fresh data directory: the one given (it must be empty) or a new one under the temp directory. */
function demoDataDir(given: string | undefined): string {
  if (given === undefined) return mkdtempSync(join(tmpdir(), 'femtoguard-demo-'));
  const dir = resolve(given);
  if (existsSync(dir) && readdirSync(dir).length > 0) throw usage(`the demo needs an empty data directory; ${dir} is not empty (leave --data-dir out for a new one)`);
  mkdirSync(dir, { recursive: true });
  return dir;
}


/** live.maxOutOfOrderMs of the demo's server (see where the config is loaded) */
const DEMO_LIVE_HORIZON_MS = 5_000;
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('start a server on a fresh data directory and watch it catch a simulated rogue femtocell, live')
    .option('--devices <n>', 'simulated femtocells', '300')
    .option('--speed <x>', 'simulated seconds per second', '180')
    .option('--days <d>', 'simulated days to replay', '0.5')
    .option('--seed <n>', 'seed of the simulation', '1')
    .option('--scenarios <list>', `attacks, comma-separated (${SCENARIOS.join(', ')})`, SCENARIOS.join(','))
    .option('--duration <s>', 'stop the replay after this many seconds')
    .option('--http <host:port>', 'API listener', '127.0.0.1:0')
    .option('--https <host:port>', 'TLS listener (EST, check-in)', '127.0.0.1:0')
    .option('--keep-running', 'keep the server running after the report, until Ctrl-C')
    .action(async (o: DemoFlags, cmd: Command) => {
      const devices = num(o.devices, 'devices', 20, 5000, true);
      const speed = num(o.speed, 'speed', 1, 100_000);
      const days = num(o.days, 'days', 0.01, 7);
      const seed = num(o.seed, 'seed', 0, 2 ** 32 - 1, true);
      const maxSeconds = o.duration !== undefined ? num(o.duration, 'duration', 1, 86_400) : undefined;
      const scenarios = (list(o.scenarios) ?? []) as ScenarioName[];
      const unknown = scenarios.filter((s) => !(SCENARIOS as readonly string[]).includes(s));
      if (unknown.length) throw usage(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.join(', ')}`);

      const g = cmd.optsWithGlobals<GlobalOptions>();
      const { loadConfig } = await import('../config/index.js');
      const { createLogger } = await import('../core/logger.js');
      const { startServer } = await import('../app/index.js');
      const { followAlerts, runLive, serverReport } = await import('../sim/index.js');
      const { createView } = await import('./demo-view.js');
      const { formatLive } = await import('./simulate-live.js');
      const dataDir = demoDataDir(g.dataDir);
      // Live detection's reorder horizon is short here: the simulator sends its events in time
      // order, so the 10 minutes a real feed needs (FORMATS.md) would only hold every alert back
      // from the view for ten minutes of event time.
      const config = loadConfig({ file: g.config, flags: { dataDir, http: o.http, https: o.https, logLevel: g.logLevel ?? 'warn', 'live.maxOutOfOrderMs': DEMO_LIVE_HORIZON_MS } });
      // The server's own log goes to a file: the terminal belongs to the view.
      const logger = createLogger({ level: config.logLevel }, createWriteStream(join(dataDir, 'server.log'), { flags: 'a' }));
      const srv = await startServer(config, { logger, env: process.env });
      const out = (s: string): void => void process.stdout.write(s);
      let stopped = false;
      const stopServer = async (): Promise<void> => {
        if (!stopped) (stopped = true), await srv.stop();
      };
      try {
        const token = srv.adminToken;
        if (!token) throw usage(`the data directory ${dataDir} already had a server: the demo needs a fresh one`);
        const tokensFile = join(dataDir, 'demo-tokens.txt');
        writeFileSync(tokensFile, `${token}\n`, { mode: 0o600 });
        const tty = process.stdout.isTTY === true;
        out(`femtoguard demo: server on ${srv.httpUrl} (API) and ${srv.httpsUrl} (EST, check-in), data directory ${dataDir}\n`);
        const view = createView({ tty, write: out, title: `femtoguard demo: ${devices} femtocells, ${(days * 24).toFixed(0)} simulated hours at ${speed}x`, simStart: Date.parse('2025-08-04T12:00:00+09:00') });
        let stream: Awaited<ReturnType<typeof followAlerts>>;
        try {
          stream = await followAlerts(srv.httpUrl, token, (a, isNew) => view.alert(a, isNew));
        } catch (e) {
          view.stop(); // its redraw timer would keep the process alive after the error
          throw e;
        }
        const ac = new AbortController();
        const onSigint = (): void => ac.abort();
        process.once('SIGINT', onSigint);
        const since = new Date().toISOString();
        // Subscribers on flagged cells, as the breach impact analysis counts them (every few seconds).
        const poll = setInterval(() => {
          fetch(`${srv.httpUrl}/v1/impact?flagged=true&view=summary&from=${encodeURIComponent(since)}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(2500) })
            .then(async (r) => (r.status === 200 ? view.exposed(((await r.json()) as { subscribers: number }).subscribers) : undefined))
            .catch(() => undefined);
        }, 3000);
        let summary;
        try {
          summary = await runLive(
            { target: srv.httpUrl, est: srv.httpsUrl, token, speed, devices, days, seed, scenarios, dir: join(dataDir, 'simulation'), signal: ac.signal, ...(maxSeconds !== undefined ? { maxSeconds } : {}) },
            view.observer,
          );
        } finally {
          clearInterval(poll);
          process.removeListener('SIGINT', onSigint);
          stream.stop();
          view.stop();
        }
        const report = await serverReport(srv.httpUrl, token, summary.truth);
        out('\n' + formatLive(summary, report));
        const explore = [
          '',
          `The data directory stays for you to explore: ${dataDir}`,
          `  admin token    ${tokensFile}`,
          `  simulation     ${summary.dir} (registry.csv, events.ndjson, truth.json; live-truth.json in event time)`,
          `  server log     ${join(dataDir, 'server.log')}`,
          `  serve it again npx femtoguard --data-dir ${dataDir} serve   (CA passphrase: ${process.env.FEMTOGUARD_CA_PASSPHRASE ? 'FEMTOGUARD_CA_PASSPHRASE' : join(dataDir, 'ca-passphrase')})`,
          `  then           curl -H "Authorization: Bearer $(cat ${tokensFile})" http://127.0.0.1:8080/v1/alerts?minSeverity=high`,
          `                 .../v1/admission/decisions?decision=deny   .../v1/payment-holds   .../v1/impact?flagged=true&view=summary`,
        ];
        if (o.keepRunning) explore.push('', `The server keeps running on ${srv.httpUrl} (Ctrl-C to stop): try ${srv.httpUrl}/v1/alerts with the token above.`);
        out(explore.join('\n') + '\n');
        if (o.keepRunning) await new Promise<void>((r) => process.once('SIGINT', () => r()));
      } finally {
        await stopServer();
      }
    });
}
