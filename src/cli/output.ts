import { AppError, isAppError } from '../core/errors.js';

/** Results go to stdout; with --json as one JSON document. */
export function printResult(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(json ? JSON.stringify(value, null, 2) + '\n' : text().replace(/\n?$/, '\n'));
}

/** A plain text table with aligned columns. */
export function table(headers: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '' : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (c ?? '').padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

/** Errors go to stderr as `error [code]: message`; the exit code says usage (2) or failure (1). */
export function reportError(e: unknown): number {
  if (isAppError(e)) {
    process.stderr.write(`error [${e.code}]: ${e.message}\n`);
    return e.kind === 'invalid' ? 2 : 1;
  }
  const err = e as { code?: string; message?: string; exitCode?: number };
  // commander has printed its message already. It exits 1 for usage errors (unknown option,
  // missing required option or argument); the documented code for bad input is 2. Help and
  // --version exit 0.
  if (err.code?.startsWith('commander.')) return err.exitCode === 0 ? 0 : 2;
  process.stderr.write(`error: ${err.message ?? String(e)}\n`);
  return 1;
}

export function usage(message: string): AppError {
  return new AppError('invalid', 'cli.usage', message);
}

export const list = (s: string | undefined): string[] | undefined =>
  s === undefined ? undefined : s.split(/[;,]/).map((x) => x.trim()).filter(Boolean);
