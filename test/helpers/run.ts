/**
 * Runs real programs (openssl, curl, pki, the femtoguard CLI) as subprocesses. Always
 * asynchronous: the server under test runs in this process, and a synchronous spawn would
 * block the event loop it needs to answer the client.
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
  stdoutBytes: Buffer;
}

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Runs `cmd args`; resolves on exit whatever the status (tests assert on it). */
export function run(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string | Buffer; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${cmd}: ${e.message}`));
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      const stdoutBytes = Buffer.concat(out);
      resolve({ status, stdout: stdoutBytes.toString(), stderr: Buffer.concat(err).toString(), stdoutBytes });
    });
    // A child that exits without reading its stdin must not crash the test with EPIPE.
    child.stdin.on('error', () => undefined);
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

/** Fails clearly when a client the tests drive is not installed. */
export function requireTool(cmd: string, debianPackage: string): void {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`]);
  if (r.status !== 0) throw new Error(`${cmd} is not installed: apt-get install ${debianPackage} (.ci/run does this)`);
}

/** The femtoguard CLI from source, against the given environment (data dir, passphrase). */
export function cli(args: readonly string[], env: NodeJS.ProcessEnv, input?: string): Promise<RunResult> {
  return run(process.execPath, ['--import', 'tsx', `${ROOT}test/helpers/cli-entry.ts`, ...args], { cwd: ROOT, env, ...(input !== undefined ? { input } : {}) });
}

/** Polls `f` every 100 ms until it gives a truthy value (returned), or fails after `ms` naming `what`. */
export async function until<T>(what: string, f: () => Promise<T | null | undefined> | T | null | undefined, ms = 8000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
