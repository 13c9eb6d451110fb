import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Paths that must never reach a log line. Secrets are also kept out of error details
 * by construction; this is the second fence.
 */
export const REDACT_PATHS: readonly string[] = [
  'passphrase',
  '*.passphrase',
  'token',
  '*.token',
  'password',
  '*.password',
  'privateKey',
  '*.privateKey',
  'key',
  '*.key',
  'authorization',
  'req.headers.authorization',
  'headers.authorization',
  'imsi',
  '*.imsi',
  'msisdn',
  '*.msisdn',
];

export function createLogger(
  opts: { level?: string; name?: string } = {},
  destination?: DestinationStream,
): Logger {
  return pino(
    {
      name: opts.name ?? 'femtoguard',
      level: opts.level ?? 'info',
      redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
      base: undefined,
    },
    destination ?? pino.destination(2),
  );
}

/** A logger that drops everything, for CLI commands and tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
