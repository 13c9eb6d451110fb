import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** A progress bar on stderr when it is a terminal; silent otherwise (logs, CI, pipes). */
export function progressBar(total: number, unit: string): { update(done: number, extra?: string): void; stop(): void } {
  if (!process.stderr.isTTY || total <= 0) return { update: () => undefined, stop: () => undefined };
  // Loaded only when a bar is drawn: a command whose stderr is a pipe or a log never loads it.
  const cliProgress = require('cli-progress') as typeof import('cli-progress');
  const bar = new cliProgress.SingleBar(
    { format: `{bar} {percentage}% | {value}/{total} ${unit} | {extra} | eta {eta_formatted}`, stream: process.stderr, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { extra: '' });
  return {
    update: (done, extra) => bar.update(Math.min(done, total), { extra: extra ?? '' }),
    stop: () => bar.stop(),
  };
}
