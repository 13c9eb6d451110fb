/**
 * Subscribers: the exposure index (who was on which cell, when), the payment risk check for
 * the payment gateway, and the breach impact analysis with its exports.
 */
export { DAY_MS, dayOf, pairKey, holderAt, byLinkTime } from './types.js';
export type { ExposureBatch, ExposureBucket, ExposureStore, NumberLink, PaymentRecord, SubscriberRecord } from './types.js';
export { ExposureAggregator } from './aggregate.js';
export { HotIndex } from './hot-index.js';
export { FlagSet, cellsFlaggedBy } from './flags.js';
export type { FlaggingAlert } from './flags.js';
export { scoreExposure, RISK_LEVELS } from './score.js';
export type { CellFlag, ExposureScore, RiskLevel, RiskPolicy, SuspiciousCell } from './score.js';
export { CamaraError, parseRiskRequest, checkRisk, resolveSubscriber } from './risk.js';
export type { RiskLimits, RiskReason, RiskRequest, RiskResponse } from './risk.js';
export { ImpactBuilder, maskImpact } from './impact.js';
export type { ImpactPayment, ImpactResult, ImpactSubscriber, ImpactSummary } from './impact.js';
export { impactFromStore } from './impact-store.js';
export type { ImpactQuery } from './impact-store.js';
export { impactFromEvents, cellsFromAlerts } from './impact-offline.js';
export type { OfflineImpactStats } from './impact-offline.js';
export { SUBSCRIBERS_HEADER, PAYMENTS_HEADER, NOTIFICATION_HEADER, csvField, csvLine, spreadsheetSafe, notifications, notificationRow, paymentRow, subscriberRow, toCsv, toJson } from './exports.js';
export type { ImpactView, Notification } from './exports.js';
export { createSubscriberService } from './service.js';
export type { SubscriberService, SubscriberServiceDeps } from './service.js';
export { registerSubscriberRoutes, parseWindowTime } from './routes.js';
