/** Detection: one engine for the live stream and for offline replay; rules; alerts. */
export { createEngine } from './engine.js';
export type { Engine, EngineOptions, EngineStats } from './engine.js';
export { replay, loadRegistry } from './replay.js';
export type { ReplaySummary, LineError } from './replay.js';
export { detectionConfigSchema, RULE_IDS, SEVERITIES } from './config.js';
export type { DetectionConfig, RuleId, Severity } from './config.js';
export { AlertBook, SEVERITY_RANK, alertId, subjectKey } from './alerts.js';
export type { Alert, Finding, Subject } from './alerts.js';
export { RegistryView, SubscriberIndex, CellFlags } from './state.js';
export type { DeviceView } from './state.js';
