import { z } from 'zod';
import { AppError } from '../core/errors.js';
import { formatZodError } from '../registry/index.js';

/** Issues named in one error answer; the rest are counted. */
export const MAX_ISSUES = 10;
/** Characters of one issue's message (zod lists every unknown key of an object in one message). */
export const MAX_ISSUE_CHARS = 200;

const clipKey = (k: PropertyKey): PropertyKey => (typeof k === 'string' && k.length > 64 ? `${k.slice(0, 64)}…` : k);

/**
 * A zod error as one bounded line: the first `MAX_ISSUES` issues, each message cut at
 * `MAX_ISSUE_CHARS` and each path at 8 keys of 64 characters, then how many more there were.
 * An error answer stays small whatever the body held (an object of 100 000 unknown keys is
 * one issue listing them all).
 */
export function formatIssues(err: z.ZodError): string {
  const shown = err.issues.slice(0, MAX_ISSUES).map((i) => ({ ...i, message: i.message.length > MAX_ISSUE_CHARS ? `${i.message.slice(0, MAX_ISSUE_CHARS)}…` : i.message, path: i.path.slice(0, 8).map(clipKey) }));
  const rest = err.issues.length - shown.length;
  return formatZodError(new z.ZodError(shown)) + (rest > 0 ? `; and ${rest} more issue${rest === 1 ? '' : 's'}` : '');
}

/** Validates an untrusted value against a schema; the error names each bad field (bounded, see `formatIssues`). */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new AppError('invalid', 'request.invalid', `${where}: ${formatIssues(r.error)}`);
  return r.data;
}
