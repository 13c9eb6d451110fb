/**
 * Admission: the mutual-TLS check-in, the one decision every check-in and every session an
 * external gateway reports goes through (fail closed), decision records, one live session
 * per identity, and gateway address rotation.
 */
export { decide, internalErrorDecision, createLeafCache } from './decision.js';
export type { DecisionDeps, LeafCache, VerifiedLeaf, Outcome } from './decision.js';
export { CHECKS } from './types.js';
export type {
  CheckCode,
  CheckinReport,
  Decision,
  DecisionInput,
  DecisionKind,
  Enforce,
  GatewayAnnouncement,
  GatewaySessionInput,
  Reason,
  RecordedDecision,
  RefusalCode,
  Verdict,
} from './types.js';
export { admissionConfigSchema, TUNABLE_CHECKS } from './config.js';
export type { AdmissionConfig, TunableCheck } from './config.js';
export { createPolicyResolver } from './policy.js';
export type { EffectivePolicy } from './policy.js';
export { LiveSessions } from './sessions.js';
export type { LiveSession } from './sessions.js';
export { createAdmission, identityVerified } from './service.js';
export { RefusalEventLimiter, sourcePrefixOf, SUMMARY_INTERVAL_MS } from './refusal-limiter.js';
export type { RefusalEventLimits, Suppression } from './refusal-limiter.js';
export type { Admission, AdmissionDeps, CheckinAdmitted, CheckinConnection } from './service.js';
export { createGatewayRotation, nextEpoch, RotationView, endpointOf, normalizeEndpoint } from './rotation.js';
export type { EndpointStatus, GatewayRotation, RotationSettings } from './rotation.js';
export type { DecisionStore, DecisionWrite, DecisionFilter, GatewayRotationStore, RotationEpoch } from './store.js';
export { registerCheckinRoutes, registerGatewaySessionRoutes, checkinReportSchema, gatewaySessionSchema, peerChain, peerAddress, answerCheckin } from './checkin.routes.js';
export type { CheckinAnswer } from './checkin.routes.js';
export { createGatewayServer } from './gateway-server.js';
export type { GatewayServerOptions } from './gateway-server.js';
export { registerAdmissionQueryRoutes } from './query.routes.js';
export { listenTlsFront } from './listener.js';
export type { TlsFront } from './listener.js';
