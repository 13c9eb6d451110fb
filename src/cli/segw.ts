import type { Command } from 'commander';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { DeviceStatus } from '../registry/index.js';
import type { IngestResult, SessionEventInput } from '../segw/index.js';
import { usage } from './output.js';

interface Options {
  vici: string;
  api: string;
  token?: string;
  devicesToken?: string;
  pollMs: string;
  sweepMs: string;
  state?: string;
}

const STATE_FILE_NAME = 'segw-bridge-state.json';

/**
 * Where the bridge keeps the sessions it reported up when `--state` is not given: systemd's
 * `StateDirectory=` (`$STATE_DIRECTORY`), else the XDG state directory
 * (`$XDG_STATE_HOME/femtoguard`, by default `~/.local/state/femtoguard`). Never the current
 * directory: a bridge started from elsewhere would silently forget its sessions.
 */
export function defaultSegwStateFile(env: NodeJS.ProcessEnv = process.env): string {
  // systemd may list several directories, separated by ':'; the first is ours.
  const systemd = env.STATE_DIRECTORY?.split(':')[0];
  if (systemd) return join(systemd, STATE_FILE_NAME);
  const xdg = env.XDG_STATE_HOME && isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : join(homedir(), '.local', 'state');
  return join(xdg, 'femtoguard', STATE_FILE_NAME);
}

/** A small REST client for the two things the standalone bridge needs. */
function apiClient(base: string, ingestToken: string, readToken: string) {
  const url = (path: string): string => new URL(path, base.endsWith('/') ? base : `${base}/`).toString();
  const call = async (path: string, token: string, init: RequestInit = {}): Promise<Response> => {
    const res = await fetch(url(path), { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(15_000) });
    return res;
  };
  const fail = async (what: string, res: Response): Promise<never> => {
    const body = (await res.text().catch(() => '')).slice(0, 300);
    throw new Error(`${what}: HTTP ${res.status} ${body}`);
  };
  return {
    /**
     * One event per line. Throws (the bridge retries with backoff) only when the batch may
     * succeed later; lines femtoguard refused are returned (the bridge logs and drops them).
     */
    async ingest(events: SessionEventInput[]): Promise<IngestResult> {
      const body = events.map((e) => JSON.stringify(e)).join('\n') + '\n';
      const res = await call('v1/events', ingestToken, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
      if (!res.ok) {
        if (!isPermanentRefusal(res.status)) await fail('POST /v1/events', res);
        const why = `POST /v1/events: HTTP ${res.status} ${(await res.text().catch(() => '')).slice(0, 300)}`;
        return { rejected: events.map((_, index) => ({ index, reason: why })) };
      }
      return { rejected: refusedLines(await res.json().catch(() => null), events.length) };
    },
    async deviceStatus(serial: string): Promise<DeviceStatus | null> {
      const res = await call(`v1/devices/${encodeURIComponent(serial)}`, readToken);
      if (res.status === 404) return null;
      if (!res.ok) await fail(`GET /v1/devices/${serial}`, res);
      return ((await res.json()) as { status: DeviceStatus }).status;
    },
    async listByStatus(status: DeviceStatus): Promise<string[]> {
      const out: string[] = [];
      let after: string | null = null;
      do {
        const q = new URLSearchParams({ status, limit: '10000', ...(after ? { after } : {}) });
        const res = await call(`v1/devices?${q.toString()}`, readToken);
        if (!res.ok) await fail('GET /v1/devices', res);
        const page = (await res.json()) as { items: { serial: string }[]; next: string | null };
        for (const d of page.items) out.push(d.serial);
        after = page.next;
      } while (after);
      return out;
    },
  };
}

/**
 * A 4xx that refuses the body itself: sending it again would be refused again. Not 401/403
 * (the bridge's token, not the events, is wrong: kept for when it works), 408 or 429 (later).
 */
function isPermanentRefusal(status: number): boolean {
  return status >= 400 && status < 500 && ![401, 403, 408, 429].includes(status);
}

/** `rejected` of a POST /v1/events answer (1-based line numbers, one event per line) as batch indexes. */
function refusedLines(answer: unknown, count: number): IngestResult['rejected'] {
  const rejected = (answer as { rejected?: unknown } | null)?.rejected;
  if (!Array.isArray(rejected)) return [];
  const out: IngestResult['rejected'] = [];
  for (const r of rejected as { line?: unknown; error?: unknown }[]) {
    const index = typeof r?.line === 'number' ? r.line - 1 : -1;
    if (Number.isInteger(index) && index >= 0 && index < count) out.push({ index, reason: String(r.error) });
  }
  return out;
}

/**
 * `femtoguard segw-bridge`: the SeGW bridge for a strongSwan gateway on another host. Same
 * behaviour as the in-server bridge (config `segw`), over the REST API: session events are
 * posted to `/v1/events` (an ingest token), device statuses are polled from `/v1/devices` (a
 * token that may read devices). `segw.terminated` records are printed on stdout as NDJSON,
 * since the audit log is written by the server only.
 */
export function registerSegw(program: Command): void {
  program
    .command('segw-bridge')
    .description('bridge a strongSwan SeGW (VICI) to femtoguard over the REST API: report IKE sessions, tear down blocked devices')
    .requiredOption('--vici <path>', "charon's VICI socket, e.g. /var/run/charon.vici")
    .requiredOption('--api <url>', 'femtoguard API base URL, e.g. http://femtoguard:8080')
    .option('--token <token>', 'API token allowed to ingest events; prefer env FEMTOGUARD_TOKEN (the command line is visible to every user)')
    .option('--devices-token <token>', 'API token allowed to read devices (default: the ingest token); prefer env FEMTOGUARD_DEVICES_TOKEN')
    .option('--poll-ms <ms>', 'how often device statuses are polled', '2000')
    .option('--sweep-ms <ms>', "how often every live SA's device is checked again", '60000')
    .option('--state <file>', 'where the sessions reported up are kept across restarts (default: $STATE_DIRECTORY, else $XDG_STATE_HOME/femtoguard, else ~/.local/state/femtoguard; file segw-bridge-state.json); one file per bridge')
    .action(async (o: Options, cmd: Command) => {
      warnTokensOnCommandLine(cmd);
      // An empty variable is an unset one.
      const token = o.token ?? (process.env.FEMTOGUARD_TOKEN || undefined);
      if (!token) throw usage('FEMTOGUARD_TOKEN (or --token) is required');
      const readToken = o.devicesToken ?? (process.env.FEMTOGUARD_DEVICES_TOKEN || token);
      const pollMs = Number(o.pollMs);
      const sweepMs = Number(o.sweepMs);
      if (!Number.isInteger(pollMs) || pollMs < 100) throw usage('--poll-ms must be an integer of at least 100');
      if (!Number.isInteger(sweepMs) || sweepMs < 0) throw usage('--sweep-ms must be a non-negative integer');
      try {
        new URL(o.api);
      } catch {
        throw usage(`--api ${o.api} is not a URL`);
      }
      if (o.state === '') throw usage('--state must name a file');
      const stateFile = o.state ? resolve(o.state) : defaultSegwStateFile();
      const g = cmd.optsWithGlobals<{ logLevel?: string }>();
      const { createLogger } = await import('../core/logger.js');
      const { createSegwBridge, watchApi } = await import('../segw/index.js');
      const log = createLogger({ level: g.logLevel ?? 'info', name: 'femtoguard-segw' });
      const api = apiClient(o.api, token, readToken);

      const bridge = createSegwBridge({
        viciPath: o.vici,
        log,
        sweepMs,
        stateFile,
        ingest: (events) => api.ingest(events),
        deviceStatus: (serial) => api.deviceStatus(serial),
        audit: async (e) => {
          process.stdout.write(JSON.stringify({ at: new Date().toISOString(), ...e }) + '\n');
        },
      });
      const watcher = watchApi({
        listByStatus: (status) => api.listByStatus(status),
        pollMs,
        log,
        onBlocked: (serial, status) => {
          bridge.block(serial, status, `device is ${status}`).catch((e: unknown) => log.error({ serial, err: String(e) }, 'segw: block failed'));
        },
      });
      // Baseline first, then connect: a device blocked in between is caught by the connect-time reconcile.
      await watcher.baseline().catch((e: unknown) => log.warn({ err: String(e) }, 'segw: first device poll failed; retrying on schedule'));
      bridge.start();
      log.info({ vici: o.vici, api: o.api, stateFile }, 'segw bridge running');
      await new Promise<void>((resolve) => {
        const shutdown = (): void => {
          const hard = setTimeout(() => process.exit(1), 10_000);
          hard.unref();
          watcher.stop();
          bridge.stop().then(resolve, resolve);
        };
        process.once('SIGTERM', shutdown);
        process.once('SIGINT', shutdown);
      });
    });
}

/** Arguments are readable by every local user (`ps`, /proc/PID/cmdline): a token there leaks. */
function warnTokensOnCommandLine(cmd: Command): void {
  for (const [key, flag, env] of [
    ['token', '--token', 'FEMTOGUARD_TOKEN'],
    ['devicesToken', '--devices-token', 'FEMTOGUARD_DEVICES_TOKEN'],
  ] as const) {
    if (cmd.getOptionValueSource(key) === 'cli') process.stderr.write(`warning: ${flag} on the command line is visible to other users in the process list; set ${env} instead\n`);
  }
}
