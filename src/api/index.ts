/** HTTP edge: REST API, role tokens, problem+json, public revocation endpoints. */
export { buildApiServer } from './server.js';
export type { ApiDeps } from './server.js';
export { createTokenService, ROLES, can } from './tokens.js';
export type { Role, Permission, Principal, TokenService, TokenStore, ApiTokenRecord } from './tokens.js';
export { parseDuration } from './admin.routes.js';
export { clientErrorHandler, problemBody, problemErrorHandler, sendProblem } from './problem.js';
export type { RevocationEndpoints } from './revocation-http.js';
export { createRevocationListener } from './revocation-listener.js';
export type { RevocationListener, RevocationListenerOptions } from './revocation-listener.js';
export { authenticate, authorize, requirePermission, actorOf } from './auth.js';
export { parseWith } from './parse.js';
