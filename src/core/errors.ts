/**
 * The one error type of femtoguard. Domains throw it; the HTTP edge (api/, est/) maps
 * `kind` to a status code. `details` must be safe to show to the caller: never put key
 * material, tokens or passphrases in it.
 */
export type ErrorKind =
  | 'invalid'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'too_large'
  | 'rate_limited'
  | 'unavailable'
  | 'internal';

export class AppError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    kind: ErrorKind,
    code: string,
    message: string,
    details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AppError';
    this.kind = kind;
    this.code = code;
    this.details = details;
  }
}

export const HTTP_STATUS: Readonly<Record<ErrorKind, number>> = Object.freeze({
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  rate_limited: 429,
  unavailable: 503,
  internal: 500,
});

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}

/** Shorthands, so call sites read as sentences. */
export const invalid = (code: string, message: string, details?: Record<string, unknown>): AppError =>
  new AppError('invalid', code, message, details);
export const notFound = (code: string, message: string, details?: Record<string, unknown>): AppError =>
  new AppError('not_found', code, message, details);
export const conflict = (code: string, message: string, details?: Record<string, unknown>): AppError =>
  new AppError('conflict', code, message, details);
export const forbidden = (code: string, message: string, details?: Record<string, unknown>): AppError =>
  new AppError('forbidden', code, message, details);
export const unauthenticated = (code: string, message: string, details?: Record<string, unknown>): AppError =>
  new AppError('unauthenticated', code, message, details);
