import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/index.js';
import type { Logger } from '../core/logger.js';
import type { AlertHub, LiveDetection } from '../detection/index.js';
import { admissionExtension } from './admission.js';
import type { TlsRenewalTarget } from './pki-upkeep.js';
import type { BaseContext, CaContext } from './context.js';
import { segwExtension } from './segw.js';
import { subscribersExtension } from './subscribers.js';

/** What a server extension gets: the wired domains and both listeners. */
export interface ExtensionContext {
  config: Config;
  base: BaseContext;
  ca: CaContext;
  live: LiveDetection;
  hub: AlertHub;
  log: Logger;
  env: NodeJS.ProcessEnv;
  /** the REST/OCSP listener (plain HTTP); already listening: fastify takes no new routes on it */
  api: FastifyInstance;
  /** the TLS listener (EST and other mutual-TLS endpoints), not yet listening when `register` runs */
  tls: FastifyInstance;
  /** base URL of the HTTP listener as bound */
  httpUrl: string;
  /** keeps an extension's own TLS listeners' server certificate current (renewed in its last third) */
  tlsRenewal: { addTls(target: TlsRenewalTarget): void };
}

/**
 * A capability that plugs into the running server (admission, SeGW bridge, ...): `registerApi`
 * adds REST routes, `register` adds routes to the TLS listener before it listens; `start` runs once everything listens and
 * returns its `stop`.
 */
export interface ServerExtension {
  name: string;
  /**
   * Adds REST routes to the HTTP listener before it listens. The CA is not open yet at this
   * point: keep references from `start` and use them at request time (answer 503 until then).
   */
  registerApi?(app: FastifyInstance, ctx: { config: Config; base: BaseContext; log: Logger; env: NodeJS.ProcessEnv }): Promise<void> | void;
  register?(ctx: ExtensionContext): Promise<void> | void;
  start?(ctx: ExtensionContext & { httpsUrl: string }): Promise<(() => Promise<void>) | void>;
}

/** The extensions the server runs, in order. One line per capability. */
export const EXTENSIONS: ServerExtension[] = [
  // extension list: add new capabilities below this line
  segwExtension,
  admissionExtension,
  subscribersExtension,
];
