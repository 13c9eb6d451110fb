import { createWriteStream, type WriteStream } from 'node:fs';
import type { Alert } from '../alerts.js';
import type { AlertSink } from './types.js';

/** Appends each new alert (FORMATS.md §3) as one NDJSON line, and again when its severity rises. */
export function fileSink(path: string, transform: (a: Alert) => Alert = (a) => a): AlertSink {
  const out: WriteStream = createWriteStream(path, { flags: 'a', mode: 0o600 });
  return {
    deliver(alert, isNew, severityRaised) {
      if (isNew || severityRaised) out.write(JSON.stringify(transform(alert)) + '\n');
    },
    close: () => new Promise<void>((resolve) => out.end(resolve)),
  };
}
