import type { Server as TlsServer } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { buildApiServer, createRevocationListener, type RevocationEndpoints } from '../api/index.js';
import { publicBaseUrl, type Config } from '../config/index.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { LiveDetection } from '../detection/index.js';
import type { ReconcileResult } from '../pki/index.js';
import { registerEstRoutes } from '../est/index.js';
import { caExists, initCa, issueTlsServerCertificate } from '../pki/index.js';
import { caSettings, openBase, openCa, type BaseContext, type CaContext } from './context.js';
import { buildLiveDetection } from './detection.js';
import { EXTENSIONS, type ExtensionContext } from './extensions.js';
import { createPkiRenewal, reconcileOnce, startReconcile, type TlsRenewalTarget } from './pki-upkeep.js';
import { createMtlsApp, mtlsServerOptions } from './tls-app.js';
import { resolvePassphrase } from './passphrase.js';

export interface RunningServer {
  base: BaseContext;
  live: LiveDetection;
  ca: CaContext;
  httpUrl: string;
  httpsUrl: string;
  /** the dedicated OCSP/CRL listener (config `revocation`), null when not configured */
  revocationUrl: string | null;
  /** Printed once at first start; null afterwards. */
  adminToken: string | null;
  caCreated: boolean;
  passphraseSource: string;
  /** PKI upkeep the timers run (config `pki`), callable at once by tests and operators' tooling. */
  pki: {
    /** Revokes/holds certificates still valid of suspended, lost and decommissioned devices. */
    reconcile(): Promise<ReconcileResult>;
    /** Renews the OCSP responder and TLS server certificates that are due; true when nothing failed. */
    renew(): Promise<boolean>;
  };
  stop(): Promise<void>;
}

function urlOf(addr: string, port: number, scheme: string): string {
  return `${scheme}://${addr.includes(':') ? `[${addr}]` : addr}:${port}`;
}

/**
 * Starts femtoguard: opens the store, initialises the CA on first start, unlocks it, and
 * serves the HTTP listener (API, OCSP, CRL) and the TLS listener (EST). Revocations made by
 * other processes are picked up from the change feed within `changePollMs`.
 */
export async function startServer(config: Config, opts: { logger: Logger; env?: NodeJS.ProcessEnv; clock?: Clock }): Promise<RunningServer> {
  const log = opts.logger;
  const clock = opts.clock ?? systemClock;
  const base = openBase(config, clock);
  const stores = base.stores;
  let closers: (() => Promise<void> | void)[] = [() => base.close()];
  try {
    const exists = await caExists(stores.certs);
    const pass = resolvePassphrase(opts.env ?? process.env, config.dataDir, { generateIfMissing: !exists });
    let caCreated = false;
    if (!exists) {
      await initCa({ store: stores.certs, audit: stores.audit, clock }, caSettings(config), pass.passphrase, 'system');
      caCreated = true;
      log.info({ keyAlgorithm: config.ca.keyAlgorithm, passphraseSource: pass.source }, 'CA initialised');
    }
    // The HTTP listener comes up first, so certificates can name the address it really
    // bound (an ephemeral port in tests) when no publicUrl is configured.
    let endpoints: RevocationEndpoints | null = null;
    const { live, hub } = buildLiveDetection(base, log, opts.env ?? process.env);
    await live.start();
    closers.push(() => live.stop());
    const api = buildApiServer({
      registry: base.registry,
      certs: stores.certs,
      audit: stores.audit,
      tokens: base.tokens,
      revocation: base.revocation,
      enrollment: base.enrollment,
      events: stores.events,
      bus: base.bus,
      alerts: stores.alerts,
      holds: stores.holds,
      hub,
      endpoints: () => endpoints,
      logger: log,
      maxBodyBytes: config.api.maxBodyBytes,
      maxJsonBodyBytes: config.api.maxJsonBodyBytes,
      maxFutureMs: config.live.maxFutureMs,
      now: () => base.clock.now().getTime(),
      ocspNextUpdateSeconds: config.ocsp.nextUpdateSeconds,
      streamPingMs: config.alerts.streamPingMs,
    });
    closers.push(() => api.close());
    for (const ext of EXTENSIONS) await ext.registerApi?.(api, { config, base, log, env: opts.env ?? process.env });
    await api.listen({ host: config.http.host, port: config.http.port });
    const ha = api.server.address();
    const httpPort = typeof ha === 'object' && ha ? ha.port : config.http.port;
    const httpUrl = urlOf(config.http.host, httpPort, 'http');
    // The dedicated revocation listener, when configured, is what certificates name.
    let revocationUrl: string | null = null;
    let published = { host: config.http.host, port: httpPort };
    if (config.revocation) {
      const rl = createRevocationListener({ endpoints: () => endpoints, nextUpdateSeconds: config.ocsp.nextUpdateSeconds, logger: log });
      closers.push(() => rl.close());
      const ra = await rl.listen(config.revocation.host, config.revocation.port);
      revocationUrl = urlOf(config.revocation.host, ra.port, 'http');
      published = { host: config.revocation.host, port: ra.port };
      log.info({ url: revocationUrl }, 'revocation listener (OCSP, CRL) up');
    }
    const ca = await openCa(base, pass.passphrase, publicBaseUrl({ ...config, http: published }));
    endpoints = { ocsp: ca.ocsp, crl: ca.crl, ca: ca.ca };
    // EST's aggregated rate-limit audit events still pending are written before the database closes.
    closers.push(() => ca.est.close());
    // A renewed OCSP responder answers every request from then on (the listeners read `endpoints` per request).
    const renewal = createPkiRenewal({ base, ca, passphrase: pass.passphrase, log, onResponderRenewed: (c) => (endpoints = { ocsp: c.ocsp, crl: c.crl, ca: c.ca }) });

    // Status changes in this process: re-sign OCSP and rebuild the CRL at once.
    base.revocation.onChange((serials) => {
      ca.crl.markDirty();
      void ca.ocsp.invalidate(serials);
      void ca.crl.current().catch((e: unknown) => log.error({ err: String(e) }, 'CRL rebuild failed'));
    });
    // Changes from other processes (CLI, other nodes) through the change feed.
    let lastSeq = await stores.certs.lastChangeSeq();
    let polling = false;
    const poll = setInterval(() => {
      if (polling) return;
      polling = true;
      stores.certs
        .changesSince(lastSeq)
        .then((changes) => {
          if (changes.length === 0) return;
          lastSeq = changes[changes.length - 1]?.seq ?? lastSeq;
          base.revocation.emit(changes.map((c) => c.serialHex));
        })
        .catch((e: unknown) => log.error({ err: String(e) }, 'change feed poll failed'))
        .finally(() => (polling = false));
    }, config.changePollMs);
    poll.unref();
    closers.push(() => clearInterval(poll));
    // A status change whose revocation step failed (in this or an earlier run) is made good
    // now and then every `pki.reconcileIntervalMs`. A failure here must not stop the server.
    await reconcileOnce(base, log).catch((e: unknown) => log.error({ err: String(e) }, 'reconcile at start failed; retrying on the timer'));
    closers.push(startReconcile(base, log, config.pki.reconcileIntervalMs));

    const { app: tls, renewal: tlsTarget } = await buildTlsServer(config, ca, log, clock);
    closers.push(() => tls.close());
    renewal.addTls(tlsTarget);
    const env = opts.env ?? process.env;
    const extCtx: ExtensionContext = { config, base, ca, live, hub, log, env, api, tls, httpUrl, tlsRenewal: renewal };
    for (const ext of EXTENSIONS) await ext.register?.(extCtx);
    await tls.listen({ host: config.https.host, port: config.https.port });

    const ta = tls.server.address();
    const httpsUrl = typeof ta === 'object' && ta ? urlOf(config.https.host, ta.port, 'https') : '';
    for (const ext of EXTENSIONS) {
      const stop = await ext.start?.({ ...extCtx, httpsUrl });
      if (stop) closers.push(stop);
    }
    closers.push(renewal.start(config.pki.renewalCheckIntervalMs));
    // Last, once every listener is up: a start that fails before (a port taken) must not spend
    // the initial admin token, which is shown only by the start that creates it.
    let adminToken: string | null = null;
    if ((await stores.tokens.list()).length === 0) {
      adminToken = (await base.tokens.create('admin', 'system', 'initial admin token')).token;
    }
    let stopped = false;
    return {
      base,
      live,
      ca,
      httpUrl,
      httpsUrl,
      revocationUrl,
      adminToken,
      caCreated,
      passphraseSource: pass.source,
      pki: { reconcile: () => reconcileOnce(base, log), renew: () => renewal.check() },
      async stop(): Promise<void> {
        if (stopped) return;
        stopped = true;
        for (const c of closers.reverse()) await c();
        closers = [];
      },
    };
  } catch (e) {
    for (const c of closers.reverse()) await c();
    throw e;
  }
}

/**
 * The TLS listener (EST, check-in) and how its server certificate is renewed: the same
 * options with the new certificate, and the vendor roots as they are then (one added since
 * the start is trusted from that renewal on, as after a restart).
 */
async function buildTlsServer(config: Config, ca: CaContext, log: Logger, clock: Clock): Promise<{ app: FastifyInstance; renewal: TlsRenewalTarget }> {
  const hosts = [config.https.host];
  const cert = await issueTlsServerCertificate(ca.ca, hosts, undefined, clock);
  const clientCaDers = async (): Promise<Buffer[]> => [ca.ca.issuing.der, ca.ca.root.der, ...(await ca.est.vendorRootDers())];
  const app = createMtlsApp({ log: log.child({ listener: 'https' }), certPem: cert.certPem, keyPem: cert.keyPem, clientCaDers: await clientCaDers() });
  app.get('/healthz', async () => ({ status: 'ok' }));
  registerEstRoutes(app, ca.est, log, config.est.maxBodyBytes);
  const renewal: TlsRenewalTarget = {
    name: 'https',
    hosts,
    current: cert,
    contextFor: async (c) => mtlsServerOptions({ certPem: c.certPem, keyPem: c.keyPem, clientCaDers: await clientCaDers() }),
    servers: () => [app.server as unknown as TlsServer],
  };
  return { app, renewal };
}
