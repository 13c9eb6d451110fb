export { AppError, HTTP_STATUS, isAppError, invalid, notFound, conflict, forbidden, unauthenticated } from './errors.js';
export type { ErrorKind } from './errors.js';
export { createLogger, silentLogger, REDACT_PATHS } from './logger.js';
export type { Logger } from './logger.js';
export { systemClock, fixedClock } from './clock.js';
export type { Clock } from './clock.js';
export { randomId, sha256Hex } from './ids.js';
export { maskImsi, maskMsisdn, maskSubscriberFields } from './mask.js';
export { SeqHeap } from './heap.js';
