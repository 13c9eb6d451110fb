import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest, type RouteOptions } from 'fastify';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AuditStore } from '../audit-log/index.js';
import type { Logger } from '../core/logger.js';
import { registerDashboard } from '../dashboard/index.js';
import type { AlertHub, AlertStore, PaymentHoldStore } from '../detection/index.js';
import type { EnrollmentAdmin } from '../est/index.js';
import type { EventBus, EventStore } from '../events/index.js';
import type { CertStore, Revocation } from '../pki/index.js';
import type { Registry } from '../registry/index.js';
import { registerAdminRoutes } from './admin.routes.js';
import { registerAlertRoutes } from './alerts.routes.js';
import { registerEventRoutes } from './events.routes.js';
import { registerCertRoutes } from './certs.routes.js';
import { registerDeviceRoutes } from './devices.routes.js';
import { authenticate, createDenialAudit, denialOf, isPermissionGuard } from './auth.js';
import { clientErrorHandler, problemErrorHandler, sendProblem, UnsupportedMediaTypeError } from './problem.js';
import { handleRevocationRequest, type RevocationEndpoints } from './revocation-http.js';
import type { TokenService } from './tokens.js';

export interface ApiDeps {
  registry: Registry;
  certs: CertStore;
  audit: AuditStore;
  tokens: TokenService;
  revocation: Revocation;
  enrollment: EnrollmentAdmin;
  events: EventStore;
  bus: EventBus;
  alerts: AlertStore;
  holds: PaymentHoldStore;
  hub: AlertHub;
  /** the unlocked CA's endpoints; null until the CA is open (answers tryLater / 503) */
  endpoints: () => RevocationEndpoints | null;
  logger: Logger;
  /** body limit of the bulk routes (`BODY_ROUTES` with `bulk`): registry CSV import, event ingestion */
  maxBodyBytes: number;
  /** body limit of every other route (JSON requests); default `DEFAULT_JSON_BODY_BYTES` */
  maxJsonBodyBytes?: number;
  /** POST /v1/events refuses events dated further ahead of `now` (default 5 min, Date.now) */
  maxFutureMs?: number;
  now?: () => number;
  ocspNextUpdateSeconds: number;
  /** keep-alive and token re-check interval of the live alert stream */
  streamPingMs: number;
}

/** Body limit of the JSON routes unless `maxJsonBodyBytes` says otherwise: far above any request they take. */
export const DEFAULT_JSON_BODY_BYTES = 1024 * 1024;

const JSON_TYPES = ['application/json'] as const;

/**
 * The routes whose body is not JSON, and the only ones the buffer parsers serve: what they
 * take, and whether they are bulk (the large `maxBodyBytes` limit). Every other route takes
 * `application/json` up to `maxJsonBodyBytes`, so a CSV or a megabyte of text sent to a
 * JSON route is refused (415) before it is read, never handed to zod as a Buffer.
 */
export const BODY_ROUTES: Readonly<Record<string, { types: readonly string[]; bulk: boolean }>> = {
  'POST /v1/events': { types: ['application/x-ndjson', 'application/ndjson', 'application/jsonl', 'text/plain', 'application/octet-stream'], bulk: true },
  'POST /v1/devices/import': { types: ['text/csv', 'text/plain', 'application/octet-stream'], bulk: true },
  'POST /v1/vendor-roots': { types: ['application/x-pem-file', 'text/plain', 'application/octet-stream'], bulk: false },
};

/** Routes anyone may call: liveness and the console's static files (it reads /v1 with the operator's token). */
const isPublicRoute = (url: string): boolean => url === '/healthz' || url === '/dashboard' || url.startsWith('/dashboard/');

type RequestHook = (req: FastifyRequest) => Promise<void>;
const asList = (h: unknown): unknown[] => (h === undefined ? [] : Array.isArray(h) ? h : [h]);

/** The media type of a Content-Type header, without parameters, lower case ('' when absent). */
function mediaTypeOf(header: string | undefined): string {
  return (header ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** Refuses a body of a type the route does not take, from the headers alone (before it is read). */
function mediaGate(accepted: readonly string[]): RequestHook {
  return async (req) => {
    if (req.method === 'GET' || req.method === 'HEAD') return;
    const announced = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
    if (!announced) return;
    const type = mediaTypeOf(req.headers['content-type']);
    if (!accepted.includes(type)) throw new UnsupportedMediaTypeError(type, accepted);
  };
}

/**
 * Everything a route refuses is refused from the headers, before fastify reads the body: a
 * token (every route but the public ones, including routes whose handlers check it again
 * in their own error format, and routes added later by extensions: fail closed), the route's
 * permission (`requirePermission` guards are moved from `preHandler` to `onRequest`), the media
 * type; and the body limit is the route's own. An unauthenticated 50 MB upload costs a 401,
 * not 50 MB of memory and a JSON parse.
 */
function gateRoutes(app: FastifyInstance, deps: ApiDeps, jsonLimit: number): void {
  const authenticated: RequestHook = async (req) => {
    await authenticate(req, deps.tokens);
  };
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = asList(route.method) as string[];
    const rule = methods.map((m) => BODY_ROUTES[`${m} ${route.url}`]).find((r) => r !== undefined);
    route.bodyLimit ??= rule?.bulk ? deps.maxBodyBytes : jsonLimit;
    const pre = asList(route.preHandler);
    const hoisted = pre.filter(isPermissionGuard);
    const rest = pre.filter((h) => !isPermissionGuard(h));
    route.preHandler = (rest.length ? rest : undefined) as RouteOptions['preHandler'];
    const gates: unknown[] = [...(isPublicRoute(route.url) ? [] : [authenticated]), ...hoisted, mediaGate(rule?.types ?? JSON_TYPES)];
    route.onRequest = [...gates, ...asList(route.onRequest)] as RouteOptions['onRequest'];
  });
}

/**
 * The plain-HTTP listener: REST API (`/v1`, bearer tokens), the operator console
 * (`/dashboard`, which reads the same API with the operator's token), and the public OCSP,
 * CRL and CA-certificate endpoints that security gateways fetch.
 */
export function buildApiServer(deps: ApiDeps): FastifyInstance {
  const jsonLimit = deps.maxJsonBodyBytes ?? DEFAULT_JSON_BODY_BYTES;
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.logger.child({ listener: 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // Requests no route takes (404) are read up to the JSON limit at most.
    bodyLimit: jsonLimit,
    return503OnClosing: true,
    clientErrorHandler,
    serverFactory: (handler) =>
      createServer({ keepAliveTimeout: 65_000 }, (req: IncomingMessage, res: ServerResponse) => {
        if (!handleRevocationRequest(req, res, deps.endpoints, deps.ocspNextUpdateSeconds)) handler(req, res);
      }),
  });
  app.setErrorHandler(problemErrorHandler(deps.logger));
  app.setNotFoundHandler((req, reply) => sendProblem(reply, 404, 'not_found', `no route for ${req.method} ${req.url.split('?')[0]}`));
  // Only the routes of BODY_ROUTES get past mediaGate with these types.
  for (const type of new Set(Object.values(BODY_ROUTES).flatMap((r) => r.types))) {
    app.addContentTypeParser(type, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  }
  gateRoutes(app, deps, jsonLimit);
  // Refused API access is audited, aggregated per token, route and reason (auth.ts).
  const denials = createDenialAudit({ audit: deps.audit, onError: (e) => deps.logger.error({ err: String(e) }, 'auth.denied audit write failed') });
  app.addHook('onError', async (req, _reply, err) => {
    const d = denialOf(req, err);
    if (d) denials.record(d);
  });
  app.addHook('onClose', async () => denials.close());
  app.get('/healthz', async () => ({ status: 'ok', ca: deps.endpoints() ? 'unlocked' : 'unavailable' }));
  registerDeviceRoutes(app, deps);
  registerCertRoutes(app, deps);
  registerAdminRoutes(app, deps);
  registerEventRoutes(app, deps);
  registerAlertRoutes(app, deps);
  registerDashboard(app);
  return app;
}
