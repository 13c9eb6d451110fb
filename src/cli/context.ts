import type { Command } from 'commander';
import type { BaseContext, CaContext } from '../app/index.js';
import type { Config } from '../config/index.js';

export interface GlobalOptions {
  dataDir?: string;
  config?: string;
  logLevel?: string;
}

// The config and app modules are loaded when a command needs them, not when it is registered
// (src/cli/choices.ts says why).

/** The config for a command: defaults < file < env < the global flags. */
export async function configFrom(cmd: Command, extra: Record<string, unknown> = {}): Promise<Config> {
  const { loadConfig } = await import('../config/index.js');
  const g = cmd.optsWithGlobals<GlobalOptions>();
  return loadConfig({ file: g.config, flags: { dataDir: g.dataDir, logLevel: g.logLevel, ...extra } });
}

/** Runs `fn` against the local data directory (the CLI works on the store directly). */
export async function withBase<T>(cmd: Command, fn: (ctx: BaseContext) => Promise<T>): Promise<T> {
  const config = await configFrom(cmd);
  const { openBase } = await import('../app/index.js');
  const ctx = openBase(config);
  try {
    return await fn(ctx);
  } finally {
    ctx.close();
  }
}

export async function withCa<T>(cmd: Command, fn: (base: BaseContext, ca: CaContext) => Promise<T>): Promise<T> {
  const { openCa, resolvePassphrase } = await import('../app/index.js');
  return withBase(cmd, async (base) => {
    const { passphrase } = resolvePassphrase(process.env, base.config.dataDir, { generateIfMissing: false });
    return fn(base, await openCa(base, passphrase));
  });
}

export const actor = (): string => `cli:${process.env.SUDO_USER ?? process.env.USER ?? 'unknown'}`;
