import type { z } from 'zod';
import { AppError } from '../core/errors.js';
import { formatZodError } from '../registry/index.js';

/** Validates an untrusted value against a schema; the error names each bad field. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new AppError('invalid', 'request.invalid', `${where}: ${formatZodError(r.error)}`);
  return r.data;
}
