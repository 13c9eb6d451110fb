export { loadConfig, publicBaseUrl } from './load.js';
export type { LoadConfigOptions } from './load.js';
export { configSchema } from './schema.js';
export type { Config, ConfigInput } from './schema.js';
