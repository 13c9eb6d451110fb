import { createReadStream, statSync } from 'node:fs';
import { AppError } from '../core/errors.js';

/** A file to stream (or stdin for `-`), with a clear error naming what could not be read. */
export function openInput(path: string, what: string): NodeJS.ReadableStream {
  if (path === '-') return process.stdin;
  try {
    statSync(path);
  } catch (e) {
    throw new AppError('invalid', 'cli.file_unreadable', `cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  return createReadStream(path, { highWaterMark: 1 << 20 });
}
