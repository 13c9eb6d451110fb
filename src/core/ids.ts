import { randomBytes, createHash } from 'node:crypto';

/** A random identifier: prefix + 20 bytes base64url. */
export function randomId(prefix: string, bytes = 12): string {
  return `${prefix}_${randomBytes(bytes).toString('base64url')}`;
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}
