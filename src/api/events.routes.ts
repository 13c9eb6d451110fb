import type { FastifyInstance } from 'fastify';
import { AppError } from '../core/errors.js';
import { isAppError } from '../core/errors.js';
import { NdjsonSplitter, validateEvent, type EventBus, type EventStore, type FgEvent, type NdjsonLine, type RegistryUpdateEvent } from '../events/index.js';
import type { Logger } from '../core/logger.js';
import { canTransition, type DeviceInput, type Registry } from '../registry/index.js';
import { actorOf, requirePermission } from './auth.js';
import { can, type TokenService } from './tokens.js';

const MAX_LISTED = 1000;
/** registry.update lines applied per body: each is a registry write and an audit event (a bulk change is a CSV import) */
const MAX_REGISTRY_UPDATES = 1000;
/** How far ahead of the server clock an event may be dated (a sender's clock a little fast is no harm). */
export const DEFAULT_MAX_FUTURE_MS = 5 * 60_000;

/**
 * Why the live server refuses an event that is valid by FORMATS.md, or undefined. An event
 * dated far ahead would move detection's event time there and make every real event too old.
 * A `registry.update` from a token that may not change the registry (`devices:write`) is
 * refused: otherwise any ingest token could rewrite what detection believes of a device.
 */
function refusedLive(e: FgEvent, now: number, maxFutureMs: number, mayWriteRegistry: boolean): string | undefined {
  if (e.t > now + maxFutureMs) return `ts is ${Math.round((e.t - now) / 1000)} s ahead of the server clock (at most ${Math.round(maxFutureMs / 1000)} s)`;
  if (e.type === 'registry.update' && !mayWriteRegistry) return 'registry.update needs a token that may change the registry (devices:write, the admin role); an ingest token may not';
  return undefined;
}

/**
 * A `registry.update` applied to the registry, as an operator's change through /v1/devices
 * would be (audited under the token, a status change through the lifecycle): the registry
 * is the record of devices, and live detection reads it from there. A device not yet in the
 * registry is added (as `provisioned` unless the event says otherwise).
 */
async function applyRegistryUpdate(registry: Registry, e: RegistryUpdateEvent, actor: string, line: number): Promise<void> {
  const { type: _t, ts: _ts, id: _id, t: _time, serial, status, ...fields } = e;
  const reason = `registry.update event (line ${line}${e.id ? `, id ${e.id}` : ''})`;
  const cur = await registry.get(serial);
  if (!cur) {
    const input: DeviceInput = { serial, status: status ?? 'provisioned', cellIds: [], siteLat: null, siteLon: null, siteRadiusM: 300, ipPrefixes: [], expectedNeighbors: [], certFingerprints: [], owner: null, ...fields };
    await registry.add(input, actor, reason);
    return;
  }
  // A status the lifecycle refuses fails the line before any field is written: a line is
  // applied whole or not at all.
  // (setStatus audits the refusal and throws, before any field is written.)
  if (status !== undefined && status !== cur.status && !canTransition(cur.status, status)) await registry.setStatus(serial, status, actor, reason);
  if (Object.keys(fields).length > 0) await registry.update(serial, fields, actor);
  if (status !== undefined && status !== cur.status) await registry.setStatus(serial, status, actor, reason);
}

/**
 * `POST /v1/events`: NDJSON ingestion (FORMATS.md §1). Every line is validated; accepted
 * events are committed to the event log before the answer (so an acknowledged event is never
 * lost), duplicates by `id` are counted and not stored twice, rejected lines come back with
 * their line numbers (also valid events the live server refuses: `refusedLive`). Then the
 * stored events go to the bus for detection.
 */
export function registerEventRoutes(app: FastifyInstance, deps: { events: EventStore; bus: EventBus; tokens: TokenService; registry: Registry; logger: Logger; now?: () => number; maxFutureMs?: number }): void {
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
    const mayWriteRegistry = req.principal !== undefined && can(req.principal.role, 'devices:write');
    /** registry.update events, applied to the registry once the body is read, in line order */
    const updates: { e: RegistryUpdateEvent; line: number }[] = [];
    const onLine = (l: NdjsonLine): void => {
      lines++;
      let v = 'error' in l ? { ok: false as const, error: l.error } : validateEvent(l.value);
      if (v.ok) {
        const why = refusedLive(v.event, at, maxFutureMs, mayWriteRegistry);
        if (why) v = { ok: false, error: why };
      }
      if (v.ok && v.event.type === 'registry.update' && updates.length >= MAX_REGISTRY_UPDATES) v = { ok: false, error: `more than ${MAX_REGISTRY_UPDATES} registry.update lines in one body: send the rest in another (or import the registry as CSV)` };
      if (v.ok && v.event.type === 'registry.update') updates.push({ e: v.event, line: l.line });
      else if (v.ok) {
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
    // Registry changes first (the line order among them kept): what detection judges the
    // body's other events against is then the registry they were sent with.
    let registryUpdates = 0;
    for (const u of updates) {
      try {
        await applyRegistryUpdate(deps.registry, u.e, actorOf(req), u.line);
        registryUpdates++;
      } catch (e) {
        // A change the registry refuses (a lifecycle transition it does not allow) is that line's error; the others go on.
        if (!isAppError(e)) throw e;
        rejectedCount++;
        if (rejected.length < MAX_LISTED) rejected.push({ line: u.line, error: `registry.update: ${e.message}` });
      }
    }
    if (rejected.length > 1) rejected.sort((a, b) => a.line - b.line);
    const { stored, duplicates, duplicateAt } = accepted.length ? await deps.events.append(accepted) : { stored: [], duplicates: 0, duplicateAt: [] };
    // An id seen before (in this body or an earlier one) is not stored again: which lines, so a sender can tell a retry from a clash.
    const duplicateLines = duplicateAt.slice(0, MAX_LISTED).map((i) => acceptedLines[i] as number);
    if (stored.length) {
      deps.bus.publish(stored).catch((e: unknown) => deps.logger.error({ err: String(e) }, 'event bus publish failed'));
    }
    return { lines, accepted: stored.length, registryUpdates, duplicates, duplicateLines, rejected, rejectedCount, unknownTypes, lastSeq: stored[stored.length - 1]?.seq ?? null };
  });
}
