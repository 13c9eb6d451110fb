/** The fleet and attack simulator: a seeded generator of registry, events and ground truth, and scoring against that truth. */
export { generate } from './generate.js';
export { SCENARIOS } from './types.js';
export type { ScenarioName, SimOptions, SimResult, Rogue, Truth } from './types.js';
export { score, parseAlerts, formatScore } from './score.js';
export type { ScoreReport, RogueScore, ScoredAlert } from './score.js';
export { runLive, liveUrls, liveTruth, LoopbackMap, TimeMap, serverReport, followAlerts } from './live/index.js';
export type { LiveOptions, LiveSummary, LiveObserver, LiveCounters, DecisionSeen, Phase, ServerReport, StreamedAlert } from './live/index.js';
