import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { AppError } from '../core/errors.js';
import { configSchema, type Config } from './schema.js';

/** FEMTOGUARD_* variables and the config path they set (dotted). Numbers are parsed. */
const ENV_MAP: Readonly<Record<string, string>> = {
  FEMTOGUARD_DATA_DIR: 'dataDir',
  FEMTOGUARD_HTTP: 'http',
  FEMTOGUARD_HTTPS: 'https',
  FEMTOGUARD_REVOCATION: 'revocation',
  FEMTOGUARD_PUBLIC_URL: 'publicUrl',
  FEMTOGUARD_LOG_LEVEL: 'logLevel',
  FEMTOGUARD_CA_KEY_ALGORITHM: 'ca.keyAlgorithm',
  FEMTOGUARD_CA_NAME: 'ca.name',
  FEMTOGUARD_DEVICE_VALIDITY_DAYS: 'ca.deviceValidityDays',
  FEMTOGUARD_OCSP_NEXT_UPDATE_SECONDS: 'ocsp.nextUpdateSeconds',
  FEMTOGUARD_CRL_NEXT_UPDATE_HOURS: 'crl.nextUpdateHours',
  FEMTOGUARD_CHANGE_POLL_MS: 'changePollMs',
  FEMTOGUARD_PKI_RECONCILE_INTERVAL_MS: 'pki.reconcileIntervalMs',
  FEMTOGUARD_PKI_RENEWAL_CHECK_INTERVAL_MS: 'pki.renewalCheckIntervalMs',
};

/** Settings that are text even when made of digits (a data directory `2026`, a CA named `12345`). */
const TEXT_PATHS = new Set(['dataDir', 'http', 'https', 'revocation', 'publicUrl', 'logLevel', 'ca.keyAlgorithm', 'ca.name']);

type Obj = Record<string, unknown>;

function setPath(target: Obj, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let o = target;
  for (const p of parts.slice(0, -1)) {
    const next = o[p];
    if (typeof next !== 'object' || next === null) o[p] = {};
    o = o[p] as Obj;
  }
  o[parts[parts.length - 1] as string] = value;
}

function deepMerge(a: Obj, b: Obj): Obj {
  const out: Obj = { ...a };
  for (const [k, v] of Object.entries(b)) {
    if (v === undefined) continue;
    const prev = out[k];
    out[k] =
      typeof v === 'object' && v !== null && !Array.isArray(v) && typeof prev === 'object' && prev !== null && !Array.isArray(prev)
        ? deepMerge(prev as Obj, v as Obj)
        : v;
  }
  return out;
}

function envLayer(env: NodeJS.ProcessEnv): Obj {
  const out: Obj = {};
  for (const [name, path] of Object.entries(ENV_MAP)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    setPath(out, path, /^\d+$/.test(raw) && !TEXT_PATHS.has(path) ? Number(raw) : raw);
  }
  return out;
}

function fileLayer(path: string): Obj {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new AppError('invalid', 'config.unreadable', `cannot read config file ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as Obj;
  } catch (e) {
    throw new AppError('invalid', 'config.malformed', `config file ${path} is not a JSON object: ${(e as Error).message}`);
  }
}

export interface LoadConfigOptions {
  /** Config file path (JSON); also FEMTOGUARD_CONFIG. */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags, already in config shape (dotted keys allowed). */
  flags?: Record<string, unknown>;
}

/**
 * One typed config: defaults < file < FEMTOGUARD_* env < flags. The result is frozen and
 * passed down; nothing else reads the environment for settings.
 */
export function loadConfig(opts: LoadConfigOptions = {}): Config {
  const env = opts.env ?? process.env;
  const file = opts.file ?? env.FEMTOGUARD_CONFIG;
  let merged: Obj = {};
  if (file) merged = deepMerge(merged, fileLayer(file));
  merged = deepMerge(merged, envLayer(env));
  const flagLayer: Obj = {};
  for (const [k, v] of Object.entries(opts.flags ?? {})) if (v !== undefined) setPath(flagLayer, k, v);
  merged = deepMerge(merged, flagLayer);
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const msg = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new AppError('invalid', 'config.invalid', `invalid configuration: ${msg}`);
  }
  const cfg = parsed.data;
  return deepFreeze({ ...cfg, dataDir: resolve(cfg.dataDir) });
}

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** The base URL certificates point at for OCSP and CRL. */
export function publicBaseUrl(cfg: Config): string {
  if (cfg.publicUrl) return cfg.publicUrl.replace(/\/+$/, '');
  const h = cfg.http.host.includes(':') ? `[${cfg.http.host}]` : cfg.http.host;
  const host = h === '0.0.0.0' || h === '[::]' ? '127.0.0.1' : h;
  return `http://${host}:${cfg.http.port}`;
}

