import { closeSync, constants, createReadStream, createWriteStream, fchmodSync, fstatSync, ftruncateSync, lstatSync, openSync, statSync, type WriteStream } from 'node:fs';
import { AppError, isAppError } from '../core/errors.js';

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

/** Owner read and write only: the files the CLI writes carry full IMSI, MSISDN and IMEI. */
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Opens `path` for writing, readable by its owner only. `open`'s mode applies only when it
 * creates the file, so an existing regular file is made 0600 through its descriptor (no
 * window on a second path lookup) *before* it is truncated: one whose mode cannot be changed
 * (another user's) is refused and left as it was. A device or pipe (`/dev/stdout`, a FIFO) is
 * written as it is; its mode is not this file's to change.
 */
export function openPrivateOutput(path: string, what: string): WriteStream {
  const fail = (why: string): AppError => new AppError('invalid', 'cli.file_unwritable', `cannot write ${what} ${path}: ${why}`);
  const errno = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? 'error';
  // A symbolic link to a file is refused: writing through it would truncate, and chmod, a file
  // somewhere else (one left by another user in a shared directory). A link to a device or a
  // pipe (`/dev/stdout` is one) is written as such.
  let link = false;
  try {
    link = lstatSync(path).isSymbolicLink();
  } catch {
    // not there yet: created below
  }
  if (link && statSync(path, { throwIfNoEntry: false })?.isFile() === true) throw fail('it is a symbolic link to a file; name the file itself');
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT, PRIVATE_FILE_MODE);
  } catch (e) {
    throw fail(errno(e) === 'EISDIR' ? 'it is a directory, not a file' : errno(e));
  }
  try {
    if (fstatSync(fd).isFile()) {
      try {
        fchmodSync(fd, PRIVATE_FILE_MODE);
      } catch (e) {
        throw fail(`cannot make it readable by its owner only (0600): ${errno(e)}`);
      }
      ftruncateSync(fd, 0);
    }
  } catch (e) {
    closeSync(fd);
    throw isAppError(e) ? e : fail(errno(e));
  }
  return createWriteStream(path, { fd });
}
