/**
 * How the bridge learns that a device became blocked: in the server process from the
 * registry's change feed (`DeviceStore.changedSince`, kicked at once by revocations), in the
 * standalone bridge by polling the REST API. Both only report; the bridge acts.
 */
import type { Logger } from '../core/logger.js';
import type { Device, DeviceStatus } from '../registry/index.js';
import { BLOCKING_STATUSES, isBlocking } from './bridge.js';

export type OnBlocked = (serial: string, status: DeviceStatus) => void;

export interface Watcher {
  /** poll now (e.g. a revocation was seen) */
  kick(): void;
  stop(): void;
}

/** updated_at is compared strictly; overlap the cursor so a change in the same millisecond is not lost. */
const OVERLAP_MS = 2_000;
const PAGE = 1000;

/**
 * Follows `changedSince` from `since` on. A device is reported once per change (serial and
 * updatedAt), so a repeated page never blocks twice and a later change blocks again.
 */
export function watchRegistry(deps: {
  changedSince(iso: string, limit: number): Promise<Device[]>;
  since: Date;
  pollMs: number;
  onBlocked: OnBlocked;
  log: Logger;
}): Watcher {
  let cursor = deps.since.getTime();
  const seen = new Map<string, string>();
  let running: Promise<void> | null = null;
  let again = false;
  let stopped = false;

  async function pollOnce(): Promise<void> {
    let from = new Date(cursor - OVERLAP_MS).toISOString();
    for (;;) {
      const page = await deps.changedSince(from, PAGE);
      for (const d of page) {
        const t = Date.parse(d.updatedAt);
        if (Number.isFinite(t) && t > cursor) cursor = t;
        if (seen.get(d.serial) === d.updatedAt) continue;
        seen.set(d.serial, d.updatedAt);
        if (isBlocking(d.status)) deps.onBlocked(d.serial, d.status);
      }
      // Forget what fell behind the overlap window.
      for (const [serial, at] of seen) if (Date.parse(at) < cursor - OVERLAP_MS * 2) seen.delete(serial);
      const last = page[page.length - 1];
      // A full page continues strictly after its last time. More than a page changed in one
      // millisecond (one bulk import) cannot be paged by time: the bridge's periodic sweep of
      // the live SAs is the net for that.
      if (page.length < PAGE || !last || last.updatedAt <= from) return;
      from = last.updatedAt;
    }
  }

  function poll(): void {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = pollOnce()
      .catch((e: unknown) => deps.log.error({ err: String(e) }, 'segw: registry poll failed'))
      .finally(() => {
        running = null;
        if (again) {
          again = false;
          poll();
        }
      });
  }

  const timer = setInterval(poll, deps.pollMs);
  timer.unref();
  return {
    kick: poll,
    stop(): void {
      stopped = true;
      clearInterval(timer);
    },
  };
}

/**
 * The standalone bridge's view: lists the devices in each blocking status over REST and
 * reports serials that entered one since the previous poll. The first poll only takes the
 * baseline (the bridge's reconcile at connect covers devices already blocked).
 */
export function watchApi(deps: {
  listByStatus(status: DeviceStatus): Promise<string[]>;
  pollMs: number;
  onBlocked: OnBlocked;
  log: Logger;
}): Watcher & { baseline(): Promise<void> } {
  let known: Map<string, DeviceStatus> | null = null;
  let running = false;
  let stopped = false;

  async function snapshot(): Promise<Map<string, DeviceStatus>> {
    const now = new Map<string, DeviceStatus>();
    for (const status of BLOCKING_STATUSES) for (const serial of await deps.listByStatus(status)) now.set(serial, status);
    return now;
  }

  async function pollOnce(): Promise<void> {
    const now = await snapshot();
    const before = known;
    known = now;
    if (!before) return;
    for (const [serial, status] of now) if (before.get(serial) !== status) deps.onBlocked(serial, status);
  }

  function poll(): void {
    if (stopped || running) return;
    running = true;
    pollOnce()
      .catch((e: unknown) => deps.log.warn({ err: String(e) }, 'segw: device poll over the API failed'))
      .finally(() => (running = false));
  }

  const timer = setInterval(poll, deps.pollMs);
  timer.unref();
  return {
    async baseline(): Promise<void> {
      await pollOnce();
    },
    kick: poll,
    stop(): void {
      stopped = true;
      clearInterval(timer);
    },
  };
}
