/** Composition root: wires ports to adapters, starts and stops the server. */
export { startServer } from './server.js';
export type { RunningServer } from './server.js';
export { openBase, openCa, caSettings, databasePath } from './context.js';
export type { BaseContext, CaContext } from './context.js';
export { resolvePassphrase, GENERATED_PASSPHRASE_FILE } from './passphrase.js';
