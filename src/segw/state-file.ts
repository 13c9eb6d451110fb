/**
 * The SeGW bridge's memory across its own restarts (docs/segw.md, "Restarts").
 *
 * Detection keeps a gateway session live until its `down` (or 24 h without sightings). A bridge
 * that forgot which sessions it reported up would never send the downs of sessions that ended
 * while it was not running, and the unit reconnecting from a new address would look like a
 * clone (credential-shared, automatic quarantine). So the bridge keeps, in a small file, every
 * session it reported up and is still live, plus the downs it has not yet delivered; at its
 * first connect after a start it compares them with charon's SAs as on any reconnect.
 *
 * The file is only ever replaced whole (temp file, fsync, rename) with mode 0600. A missing,
 * unreadable or corrupt file is logged and treated as empty: it must never keep the bridge down.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { closeSync, fstatSync, openSync, readSync, constants as fsc } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../core/logger.js';
import type { IkeSa, SessionEventInput } from './session.js';

/** Far above any gateway's SA count; a bigger file is not ours (or is damaged). */
export const MAX_STATE_FILE_BYTES = 64 * 1024 * 1024;

/** A session reported up: enough to build its `down` exactly as the bridge would have. */
export interface PersistedSession {
  /** the session id the `up` carried (kept across IKE rekeys) */
  sessionId: string;
  /** the SA as last seen (its key, `sessionKeyOf`, is derived from it) */
  sa: IkeSa;
}

export interface BridgeState {
  sessions: PersistedSession[];
  /** `down` events handed to the outbox but not yet delivered to femtoguard */
  downs: SessionEventInput[];
}

export const emptyState = (): BridgeState => ({ sessions: [], downs: [] });

const str = z.string().max(1024);
const ikeSaSchema = z.object({
  name: str,
  uniqueId: z.string().regex(/^\d{1,10}$/),
  state: str,
  remoteId: str,
  remoteHost: str.min(1),
  localHost: str,
  localPort: str,
  initiatorSpi: str,
  responderSpi: str,
  establishedSeconds: z.number().int().nonnegative().optional(),
});
const downSchema = z.object({
  type: z.literal('femto.session'),
  id: str.min(1),
  ts: z.string().datetime(),
  serial: str.min(1),
  phase: z.literal('down'),
  sourceIp: str.min(1),
  endpoint: str.optional(),
  sessionId: str.min(1),
  certFingerprint: str.optional(),
});
const fileSchema = z.object({
  version: z.literal(1),
  sessions: z.array(z.object({ sessionId: str.min(1), sa: ikeSaSchema })),
  downs: z.array(downSchema),
});

/**
 * Reads the state file. Never throws: a missing file is a first start (debug), anything else
 * (unreadable, too big, not JSON, wrong shape) is logged as an error and treated as empty.
 */
export function loadBridgeState(path: string, log: Logger): BridgeState {
  let text: string;
  try {
    text = readBounded(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      log.debug({ stateFile: path }, 'segw: no state file yet; starting with no known sessions');
    } else {
      log.error({ stateFile: path, err: e instanceof Error ? e.message : String(e) }, 'segw: state file unreadable; starting with no known sessions');
    }
    return emptyState();
  }
  let parsed: z.infer<typeof fileSchema>;
  try {
    parsed = fileSchema.parse(JSON.parse(text));
  } catch (e) {
    // The reason names the field, never the content (no secrets here, but no noise either).
    const why = e instanceof z.ZodError ? e.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ') : 'not JSON';
    log.error({ stateFile: path, err: why }, 'segw: state file corrupt; starting with no known sessions');
    return emptyState();
  }
  const sessions: PersistedSession[] = parsed.sessions.map(({ sessionId, sa }) => ({ sessionId, sa: { ...sa, establishedSeconds: sa.establishedSeconds } }));
  const downs: SessionEventInput[] = parsed.downs.map((d) => ({ ...d }));
  return { sessions, downs };
}

/** Reads at most MAX_STATE_FILE_BYTES; a regular file only (O_NOFOLLOW: a planted link is refused). */
function readBounded(path: string): string {
  const fd = openSync(path, fsc.O_RDONLY | fsc.O_NOFOLLOW);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error('not a regular file');
    if (st.size > MAX_STATE_FILE_BYTES) throw new Error(`larger than ${MAX_STATE_FILE_BYTES} bytes`);
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

export interface StateWriter {
  /** the state changed: it is written within `delayMs`, coalesced with other changes */
  changed(): void;
  /** writes now if anything changed and waits for it; no timed writes after this (stop) */
  close(): Promise<void>;
}

/**
 * Writes `snapshot()` to `path` at most once per `delayMs` while changes come, one write at a
 * time. A failed write is logged (once per run of failures) and tried again every
 * `retryMs`: the bridge goes on without it meanwhile.
 */
export function createStateWriter(path: string, snapshot: () => BridgeState, log: Logger, opts: { delayMs?: number; retryMs?: number } = {}): StateWriter {
  const delayMs = opts.delayMs ?? 250;
  const retryMs = opts.retryMs ?? 5_000;
  let dirty = false;
  let timer: NodeJS.Timeout | null = null;
  let writing: Promise<void> | null = null;
  let failing = false;
  let closed = false;

  async function writeOnce(): Promise<void> {
    dirty = false;
    const body = JSON.stringify({ version: 1, ...snapshot() }) + '\n';
    try {
      await writeAtomically(path, body);
      if (failing) log.info({ stateFile: path }, 'segw: state file written again');
      failing = false;
    } catch (e) {
      dirty = true;
      if (!failing) log.error({ stateFile: path, err: e instanceof Error ? e.message : String(e) }, 'segw: cannot write the state file; sessions that end while the bridge is down may get no down');
      failing = true;
    }
  }

  function write(): Promise<void> {
    writing ??= writeOnce().finally(() => {
      writing = null;
    });
    return writing;
  }

  function schedule(ms: number): void {
    if (timer || closed) return;
    timer = setTimeout(() => {
      timer = null;
      void (async () => {
        if (writing) await writing;
        if (dirty) await write();
        // Changes made during the write (or a failed write) wait for the next interval.
        if (dirty) schedule(failing ? retryMs : delayMs);
      })();
    }, ms);
    timer.unref();
  }

  return {
    changed(): void {
      dirty = true;
      schedule(failing ? retryMs : delayMs);
    },
    async close(): Promise<void> {
      closed = true;
      if (timer) {
        clearTimeout(timer);
        timer = null;
      }
      if (writing) await writing;
      if (dirty) await write();
    },
  };
}

/** Temp file beside the target (same file system), fsync, rename: a reader sees the old file or the new one. */
async function writeAtomically(path: string, body: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  // 'wx': a fresh file (never through a planted link), created 0600 whatever the umask allows more.
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(body);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
