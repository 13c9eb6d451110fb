import { closeSync, constants, fchmodSync, fstatSync, ftruncateSync, lstatSync, openSync, statSync } from 'node:fs';

/** Owner read and write only: files that carry full IMSI, MSISDN and IMEI. */
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Opens `path` for writing (appending, or from empty), readable by its owner only, and returns
 * the descriptor; throws `why` in words an operator can act on. `open`'s mode applies only when
 * it creates the file, so an existing regular file is made 0600 through its descriptor (no window
 * on a second path lookup), before it is truncated: one whose mode cannot be changed (another
 * user's) is refused and left as it was. A device or pipe (`/dev/stdout`, a FIFO) is written as
 * it is. A symbolic link to a file is refused: writing through it would truncate, and chmod, a
 * file somewhere else (one left by another user in a shared directory).
 */
export function openPrivateFile(path: string, mode: 'append' | 'truncate'): number {
  const errno = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? 'error';
  let link = false;
  try {
    link = lstatSync(path).isSymbolicLink();
  } catch {
    // not there yet: created below
  }
  if (link && statSync(path, { throwIfNoEntry: false })?.isFile() === true) throw new Error('it is a symbolic link to a file; name the file itself');
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | (mode === 'append' ? constants.O_APPEND : 0), PRIVATE_FILE_MODE);
  } catch (e) {
    throw new Error(errno(e) === 'EISDIR' ? 'it is a directory, not a file' : errno(e));
  }
  try {
    if (fstatSync(fd).isFile()) {
      try {
        fchmodSync(fd, PRIVATE_FILE_MODE);
      } catch (e) {
        throw new Error(`cannot make it readable by its owner only (0600): ${errno(e)}`);
      }
      if (mode === 'truncate') ftruncateSync(fd, 0);
    }
  } catch (e) {
    closeSync(fd);
    throw e instanceof Error && !('code' in e) ? e : new Error(errno(e));
  }
  return fd;
}
