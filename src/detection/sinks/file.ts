import { closeSync, constants, createWriteStream, fchmodSync, fstatSync, openSync, type WriteStream } from 'node:fs';
import { AppError } from '../../core/errors.js';
import type { Alert } from '../alerts.js';
import type { AlertSink } from './types.js';

/**
 * Opens the alerts file for appending, readable by its owner only: alerts may carry full
 * IMSI/MSISDN. `open`'s mode applies only on creation, so an existing regular file is made
 * 0600 through its descriptor too (a device or FIFO is left as it is). Refused at start, with
 * the path, when it cannot be opened or its mode changed (another user's file).
 */
function openPrivateAppend(path: string): number {
  const fail = (e: unknown, why: string): AppError =>
    new AppError('invalid', 'alerts.file_unwritable', `cannot write alerts file ${path}: ${why}${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND, 0o600);
  } catch (e) {
    throw fail(e, '');
  }
  try {
    if (fstatSync(fd).isFile()) fchmodSync(fd, 0o600);
  } catch (e) {
    closeSync(fd);
    throw fail(e, 'cannot make it readable by its owner only (0600): ');
  }
  return fd;
}

/** Appends each new alert (FORMATS.md §3) as one NDJSON line, and again when its severity rises. */
export function fileSink(path: string, transform: (a: Alert) => Alert = (a) => a): AlertSink {
  const out: WriteStream = createWriteStream(path, { fd: openPrivateAppend(path) });
  return {
    deliver(alert, isNew, severityRaised) {
      if (isNew || severityRaised) out.write(JSON.stringify(transform(alert)) + '\n');
    },
    close: () => new Promise<void>((resolve) => out.end(resolve)),
  };
}
