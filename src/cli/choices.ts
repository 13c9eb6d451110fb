/**
 * What the commands' registrations need before any command runs: option choices and defaults
 * shown in `--help`. Every command is registered on every run, so these come from the small
 * files that define them, not through their modules' doors (index.ts), which load the whole
 * module (zod, fastify, the stores): `femtoguard detect` would pay for every other command
 * before it starts. The commands import what their actions use when they run (`await import`).
 */
export { DEFAULT_POLICY } from '../audit/types.js';
export { ROLES, type Role } from '../api/tokens.js';
export { CRL_REASONS } from '../pki/crl.js';
export { KEY_ALGORITHMS, type KeyAlgorithm } from '../pki/signer.js';
export { DEVICE_STATUSES, type DeviceStatus } from '../registry/device-statuses.js';
export { SCENARIOS, type ScenarioName } from '../sim/types.js';
