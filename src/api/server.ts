import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
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
import { clientErrorHandler, problemErrorHandler, sendProblem } from './problem.js';
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
  maxBodyBytes: number;
  ocspNextUpdateSeconds: number;
  /** keep-alive and token re-check interval of the live alert stream */
  streamPingMs: number;
}

/**
 * The plain-HTTP listener: REST API (`/v1`, bearer tokens), the operator console
 * (`/dashboard`, which reads the same API with the operator's token), and the public OCSP,
 * CRL and CA-certificate endpoints that security gateways fetch.
 */
export function buildApiServer(deps: ApiDeps): FastifyInstance {
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.logger.child({ listener: 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.maxBodyBytes,
    return503OnClosing: true,
    clientErrorHandler,
    serverFactory: (handler) =>
      createServer({ keepAliveTimeout: 65_000 }, (req: IncomingMessage, res: ServerResponse) => {
        if (!handleRevocationRequest(req, res, deps.endpoints, deps.ocspNextUpdateSeconds)) handler(req, res);
      }),
  });
  app.setErrorHandler(problemErrorHandler(deps.logger));
  app.setNotFoundHandler((req, reply) => sendProblem(reply, 404, 'not_found', `no route for ${req.method} ${req.url.split('?')[0]}`));
  for (const type of ['text/csv', 'application/x-pem-file', 'application/octet-stream', 'text/plain', 'application/x-ndjson', 'application/ndjson', 'application/jsonl']) {
    app.addContentTypeParser(type, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  }
  app.get('/healthz', async () => ({ status: 'ok', ca: deps.endpoints() ? 'unlocked' : 'unavailable' }));
  registerDeviceRoutes(app, deps);
  registerCertRoutes(app, deps);
  registerAdminRoutes(app, deps);
  registerEventRoutes(app, deps);
  registerAlertRoutes(app, deps);
  registerDashboard(app);
  return app;
}
