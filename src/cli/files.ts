import { createReadStream, statSync } from 'node:fs';
import { AppError } from '../core/errors.js';

/** A file to stream (or stdin for `-`), with a clear error naming what could not be read. */
export function openInput(path: string, what: string): NodeJS.ReadableStream {
  if (path === '-') return process.stdin;
  let dir: boolean;
  try {
    dir = statSync(path).isDirectory();
  } catch (e) {
    throw new AppError('invalid', 'cli.file_unreadable', `cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  // Checked here, not left to the stream: a directory would fail later, mid-command, as a bare EISDIR.
  if (dir) throw new AppError('invalid', 'cli.file_unreadable', `cannot read ${what} ${path}: it is a directory, not a file`);
  return createReadStream(path, { highWaterMark: 1 << 20 });
}
