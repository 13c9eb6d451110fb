import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../core/errors.js';

export const GENERATED_PASSPHRASE_FILE = 'ca-passphrase';

/**
 * Where the CA passphrase comes from: FEMTOGUARD_CA_PASSPHRASE, else the file named by
 * FEMTOGUARD_CA_PASSPHRASE_FILE, else `<dataDir>/ca-passphrase` (written on first start
 * when nothing was given, so `npm start` works out of the box; move it to a secret store
 * for production). The passphrase is never logged or printed.
 */
export function resolvePassphrase(env: NodeJS.ProcessEnv, dataDir: string, opts: { generateIfMissing: boolean }): { passphrase: string; source: string; generated: boolean } {
  const direct = env.FEMTOGUARD_CA_PASSPHRASE;
  if (direct) return { passphrase: direct, source: 'FEMTOGUARD_CA_PASSPHRASE', generated: false };
  const file = env.FEMTOGUARD_CA_PASSPHRASE_FILE;
  if (file) return { passphrase: readSecretFile(file), source: `file ${file}`, generated: false };
  const local = join(dataDir, GENERATED_PASSPHRASE_FILE);
  if (existsSync(local)) return { passphrase: readSecretFile(local), source: `file ${local}`, generated: false };
  if (!opts.generateIfMissing) {
    throw new AppError('unauthenticated', 'ca.passphrase_missing', 'set FEMTOGUARD_CA_PASSPHRASE or FEMTOGUARD_CA_PASSPHRASE_FILE to unlock the CA');
  }
  const passphrase = randomBytes(32).toString('base64url');
  writeFileSync(local, passphrase + '\n', { mode: 0o600, flag: 'wx' });
  return { passphrase, source: `generated into ${local}`, generated: true };
}

function readSecretFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new AppError('invalid', 'ca.passphrase_file_unreadable', `cannot read the passphrase file ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if ((statSync(path).mode & 0o077) !== 0 && process.platform !== 'win32') {
    // Readable by others: still usable, but say so (without the content).
    process.emitWarning(`passphrase file ${path} is readable by group or others; chmod 600 it`);
  }
  const p = text.replace(/\r?\n$/, '');
  if (!p) throw new AppError('invalid', 'ca.passphrase_missing', `the passphrase file ${path} is empty`);
  return p;
}
