/** EST (RFC 7030): enrollment logic, its HTTP routes, and the enrollment store port. */
export { createEst, csrDeviceSerial } from './service.js';
export type { Est, EstCaller, EstSettings } from './service.js';
export { registerEstRoutes } from './routes.js';
export type { EnrollmentStore, EnrollTokenRecord, VendorRoot, ConsumeResult } from './store.js';
export { createEnrollmentAdmin, MAX_TOKEN_TTL_SECONDS } from './admin.js';
export type { EnrollmentAdmin } from './admin.js';
