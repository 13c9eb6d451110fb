/** The event contract (FORMATS.md §1): types, validation, NDJSON reading, ordering, the bus port. */
export { EVENT_TYPES } from './types.js';
export type { EventType, FgEvent, FemtoSessionEvent, FemtoReportEvent, UeAttachEvent, ImsRegisterEvent, PaymentAuthEvent, RegistryUpdateEvent, GpsFix } from './types.js';
export { validateEvent } from './validate.js';
export type { Validated } from './validate.js';
export { parseEventTime, formatEventTime } from './timestamp.js';
export { NdjsonSplitter, readNdjson, parseLine, MAX_LINE_BYTES } from './ndjson.js';
export type { NdjsonLine, RawLine } from './ndjson.js';
export { ReorderBuffer, OrderedIntake } from './reorder.js';
export { DedupWindow, hashId, hashIdBytes } from './dedup.js';
export type { Timed } from './reorder.js';
export type { EventStore, EventBus, StoredEvent } from './store.js';
export { SubscriberDecoder, ScannedAttach, ScannedIms, digitsKey, digitsKeyOf, type SubscriberKeys } from './fast-decode-subscriber.js';
export { forEachNdjsonLine, followEventLog } from './follow.js';
export { createRecords, scanEvent, spreadHash, recordTime, recordType, copyRecord, recordIdStart, recordIdLength, REC_I32, REC_F64, type EventRecords } from './fast-scan.js';
export { EventDecoder, recordId } from './fast-decode.js';
