import { createReadStream, createWriteStream, statSync, type WriteStream } from 'node:fs';
import { AppError } from '../core/errors.js';
import { openPrivateFile } from '../core/private-file.js';

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

/** Opens `path` for writing from empty, readable by its owner only (core/private-file.ts); refused with the path named. */
export function openPrivateOutput(path: string, what: string): WriteStream {
  let fd: number;
  try {
    fd = openPrivateFile(path, 'truncate');
  } catch (e) {
    throw new AppError('invalid', 'cli.file_unwritable', `cannot write ${what} ${path}: ${(e as Error).message}`);
  }
  return createWriteStream(path, { fd });
}
