import type { FastifyInstance } from 'fastify';
import { AppError } from '../core/errors.js';
import { NdjsonSplitter, validateEvent, type EventBus, type EventStore, type FgEvent, type NdjsonLine } from '../events/index.js';
import type { Logger } from '../core/logger.js';
import { requirePermission } from './auth.js';
import type { TokenService } from './tokens.js';

const MAX_LISTED = 1000;
/** How far ahead of the server clock an event may be dated (a sender's clock a little fast is no harm). */
export const DEFAULT_MAX_FUTURE_MS = 5 * 60_000;

/**
 * Why the live server refuses an event that is valid by FORMATS.md, or undefined. A
 * `registry.update` would let any ingest token rewrite what detection believes of a device:
 * live, the registry is changed through /v1/devices (audited, by an operator). An event dated
 * far ahead would move detection's event time there and make every real event too old.
 */
function refusedLive(e: FgEvent, now: number, maxFutureMs: number): string | undefined {
  if (e.type === 'registry.update') return 'registry.update is not accepted here: change the registry through /v1/devices (the registry is the record of devices)';
  if (e.t > now + maxFutureMs) return `ts is ${Math.round((e.t - now) / 1000)} s ahead of the server clock (at most ${Math.round(maxFutureMs / 1000)} s)`;
  return undefined;
}

/**
 * `POST /v1/events`: NDJSON ingestion (FORMATS.md §1). Every line is validated; accepted
 * events are committed to the event log before the answer (so an acknowledged event is never
 * lost), duplicates by `id` are counted and not stored twice, rejected lines come back with
 * their line numbers (also valid events the live server refuses: `refusedLive`). Then the
 * stored events go to the bus for detection.
 */
export function registerEventRoutes(app: FastifyInstance, deps: { events: EventStore; bus: EventBus; tokens: TokenService; logger: Logger; now?: () => number; maxFutureMs?: number }): void {
  const now = deps.now ?? Date.now;
  const maxFutureMs = deps.maxFutureMs ?? DEFAULT_MAX_FUTURE_MS;
  app.post('/v1/events', { preHandler: requirePermission(deps.tokens, 'events:ingest') }, async (req) => {
    const body = req.body;
    if (!Buffer.isBuffer(body)) throw new AppError('invalid', 'request.unsupported_media_type', 'send events as NDJSON with Content-Type: application/x-ndjson');
    const accepted: FgEvent[] = [];
    /** the line number of each accepted event */
    const acceptedLines: number[] = [];
    const rejected: { line: number; error: string }[] = [];
    let rejectedCount = 0;
    const unknownTypes: Record<string, number> = {};
    let lines = 0;
    const at = now();
    const onLine = (l: NdjsonLine): void => {
      lines++;
      let v = 'error' in l ? { ok: false as const, error: l.error } : validateEvent(l.value);
      if (v.ok) {
        const why = refusedLive(v.event, at, maxFutureMs);
        if (why) v = { ok: false, error: why };
      }
      if (v.ok) {
        accepted.push(v.event);
        acceptedLines.push(l.line);
      }
      else if ('unknownType' in v) unknownTypes[v.unknownType] = (unknownTypes[v.unknownType] ?? 0) + 1;
      else {
        rejectedCount++;
        if (rejected.length < MAX_LISTED) rejected.push({ line: l.line, error: v.error });
      }
    };
    const s = new NdjsonSplitter();
    s.push(body, onLine);
    s.end(onLine);
    if (lines === 0) throw new AppError('invalid', 'events.empty', 'the body holds no events (one JSON object per line)');
    const { stored, duplicates, duplicateAt } = accepted.length ? await deps.events.append(accepted) : { stored: [], duplicates: 0, duplicateAt: [] };
    // An id seen before (in this body or an earlier one) is not stored again: which lines, so a sender can tell a retry from a clash.
    const duplicateLines = duplicateAt.slice(0, MAX_LISTED).map((i) => acceptedLines[i] as number);
    if (stored.length) {
      deps.bus.publish(stored).catch((e: unknown) => deps.logger.error({ err: String(e) }, 'event bus publish failed'));
    }
    return { lines, accepted: stored.length, duplicates, duplicateLines, rejected, rejectedCount, unknownTypes, lastSeq: stored[stored.length - 1]?.seq ?? null };
  });
}
