/** Fleet registry: devices, lifecycle, CSV import. */
export { createRegistry } from './service.js';
export type { Registry, CredentialRevoker, ImportResult, ImportRowError, ImportProgress, RegistryDeps } from './service.js';
export type { Device, DeviceFilter, DeviceStore, DeviceWrite, StatusChange } from './store.js';
export { TRANSITIONS, canTransition, assertTransition, REVOKING_STATUSES, ENROLLABLE_STATUSES } from './lifecycle.js';
export { DEVICE_STATUSES, deviceCreateSchema, devicePatchSchema, formatZodError, createCsvRowMapper } from './device-input.js';
export type { DeviceInput, DeviceStatus } from './device-input.js';
export { readCsv, readCsvText, toCsvLine, csvField } from './csv.js';
export type { CsvRecord } from './csv.js';
export { parsePrefix, formatPrefix, prefixContains, isIp, PrefixSet } from './prefix.js';
export type { Prefix } from './prefix.js';
export { readRegistryCsv, readRegistryCsvRows, applyDevicePatch, deviceFieldSchemas } from './device-input.js';
export type { DevicePatch, CsvRowResult } from './device-input.js';
