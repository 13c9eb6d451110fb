import { createWriteStream, type WriteStream } from 'node:fs';
import { AppError } from '../../core/errors.js';
import { openPrivateFile } from '../../core/private-file.js';
import type { Alert } from '../alerts.js';
import type { AlertSink } from './types.js';

/** Opens the alerts file for appending, readable by its owner only (alerts may carry full IMSI/MSISDN; core/private-file.ts); refused at start, with the path. */
function openPrivateAppend(path: string): number {
  try {
    return openPrivateFile(path, 'append');
  } catch (e) {
    throw new AppError('invalid', 'alerts.file_unwritable', `cannot write alerts file ${path}: ${(e as Error).message}`);
  }
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
