/** Live mode of the simulator: the seeded timeline played against a running server's real interfaces. */
export { runLive, liveUrls, liveTruth } from './driver.js';
export { serverReport } from './results.js';
export type { ServerReport } from './results.js';
export { LoopbackMap, TimeMap, certsFromPkcs7 } from './net.js';
export type { LiveOptions, LiveSummary, LiveObserver, LiveCounters, DecisionSeen, Phase, Channel } from './types.js';
export { followAlerts } from './stream.js';
export type { StreamedAlert } from './stream.js';
