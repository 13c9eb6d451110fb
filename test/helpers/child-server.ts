/**
 * Runs `femtoguard serve` as a real child process (for tests that must kill it: SIGKILL
 * durability). Ports are picked free beforehand; the data directory is the caller's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { ROOT } from './run.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface ChildServer {
  proc: ChildProcess;
  http: string;
  https: string;
  output: () => string;
  adminToken: string | null;
}

export async function startChildServer(dataDir: string, env: NodeJS.ProcessEnv, extraArgs: string[] = []): Promise<ChildServer> {
  const httpPort = await freePort();
  const httpsPort = await freePort();
  const proc = spawn(process.execPath, ['--import', 'tsx', `${ROOT}test/helpers/cli-entry.ts`, '--data-dir', dataDir, '--log-level', 'warn', 'serve', '--http', `127.0.0.1:${httpPort}`, '--https', `127.0.0.1:${httpsPort}`, ...extraArgs], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const deadline = Date.now() + 30_000;
  while (!out.includes('femtoguard is running')) {
    if (proc.exitCode !== null) throw new Error(`server exited early:\n${out}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`server did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  // Give the listener line a moment to include the token block.
  await new Promise((r) => setTimeout(r, 50));
  const m = /\n\s+(fgt_[A-Za-z0-9_-]+)\n/.exec(out);
  return { proc, http: `http://127.0.0.1:${httpPort}`, https: `https://127.0.0.1:${httpsPort}`, output: () => out, adminToken: m?.[1] ?? null };
}
