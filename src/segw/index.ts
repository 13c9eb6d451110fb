/**
 * External security gateway (strongSwan) integration: a VICI client, and the bridge that
 * reports IKE sessions to femtoguard and tears down blocked devices' live SAs (docs/segw.md).
 */
export { ViciClient, ViciError } from './vici.js';
export type { ViciClientOptions, ViciErrorCode } from './vici.js';
export { PacketType, MAX_SEGMENT_BYTES, ViciProtocolError, encodeMessage, decodeMessage, encodePacket, decodePacket, SegmentReader, text, section, textList, toPlain } from './vici-codec.js';
export type { ViciMessage, ViciValue, ViciInput, ViciScalar, Packet, PacketTypeCode } from './vici-codec.js';
export { ikeSasOf, isUp, serialFromIdentity, endpointOf, sessionEvent, sessionKeyOf } from './session.js';
export type { IkeSa, SessionEventInput } from './session.js';
export { createSegwBridge, BLOCKING_STATUSES, isBlocking } from './bridge.js';
export type { SegwBridge, SegwBridgeDeps, BlockResult, IngestResult } from './bridge.js';
export { watchRegistry, watchApi } from './watch.js';
export type { Watcher, OnBlocked } from './watch.js';
