/**
 * Wires admission into the server: the check-in on the main TLS listener and on one TLS
 * listener per gateway pool address, the gateway session report and the read routes on the
 * REST API, the rotation poller, and the decision the SeGW bridge calls in-process.
 */
import type { Server as HttpsServer } from 'node:https';
import type { Server as TlsServer } from 'node:tls';
import { sqliteDecisionStore } from '../adapters/sqlite/decision-store.js';
import { sqliteGatewayRotationStore } from '../adapters/sqlite/gateway-rotation-store.js';
import {
  createAdmission,
  createGatewayServer,
  createGatewayRotation,
  internalErrorDecision,
  listenTlsFront,
  peerAddress,
  registerAdmissionQueryRoutes,
  registerCheckinRoutes,
  registerGatewaySessionRoutes,
  type Admission,
  type Decision,
  type GatewayRotation,
  type GatewaySessionInput,
  type RecordedDecision,
  type TlsFront,
} from '../admission/index.js';
import type { AuditSink } from '../audit-log/index.js';
import type { Logger } from '../core/logger.js';
import { issueTlsServerCertificate } from '../pki/index.js';
import type { BaseContext, CaContext } from './context.js';
import type { ExtensionContext, ServerExtension } from './extensions.js';
import { mtlsServerOptions } from './tls-app.js';

interface AdmissionState {
  admission: Admission;
  rotation: GatewayRotation;
  /** set once the CA is unlocked; until then nothing is admitted */
  ca: { current: CaContext | null };
}

/** Per running server (tests run several in one process), keyed by its base context. */
const states = new WeakMap<BaseContext, AdmissionState>();

/** The rotation service over this data directory's database (the server, and the CLI). */
export function openGatewayRotation(base: BaseContext, log?: Logger): GatewayRotation {
  return createGatewayRotation({ store: sqliteGatewayRotationStore(base.stores.db), audit: base.stores.audit, clock: base.clock, ...(log ? { logger: log } : {}) }, base.config.admission.rotation);
}

function stateOf(base: BaseContext, log: Logger): AdmissionState {
  let st = states.get(base);
  if (st) return st;
  const rotation = openGatewayRotation(base, log);
  const ca: AdmissionState['ca'] = { current: null };
  const admission = createAdmission({
    config: base.config.admission,
    devices: base.stores.devices,
    certs: base.stores.certs,
    issuing: () => ca.current?.ca.issuing ?? null,
    decisions: sqliteDecisionStore(base.stores.db),
    events: base.stores.events,
    bus: base.bus,
    rotation,
    clock: base.clock,
    audit: base.stores.audit,
    logger: log,
  });
  st = { admission, rotation, ca };
  states.set(base, st);
  return st;
}

/**
 * The decision for a session an external gateway reports, for the SeGW bridge running in the
 * same process (the HTTP form is `POST /v1/segw/sessions`). Without admission running for
 * this server it denies: fail closed.
 */
export async function admitGatewaySession(base: BaseContext, input: GatewaySessionInput): Promise<RecordedDecision | Decision> {
  const st = states.get(base);
  if (!st) return internalErrorDecision({ serial: input.serial ?? null, certFingerprint: input.certFingerprint }, 'admission is not running in this server');
  return st.admission.admitGatewaySession(input);
}

/**
 * Garbage on a TLS port (plain HTTP, random bytes, a handshake that fails) is refused; it is
 * also audited, at most once a second per listener with a count of the rest, so a flood
 * cannot fill the audit log.
 */
function refusalAuditor(listener: string, audit: AuditSink, log: Logger): (sourceIp: string | undefined, error: string, message: string) => void {
  let last = 0;
  let suppressed = 0;
  return (sourceIp, error, message) => {
    const now = Date.now();
    if (now - last < 1000) {
      suppressed++;
      return;
    }
    last = now;
    const details = { listener, sourceIp: peerAddress(sourceIp), error, message: message.slice(0, 200), suppressedBefore: suppressed };
    suppressed = 0;
    audit.record({ action: 'admission.tls_refused', actor: 'anonymous', outcome: 'denied', details }).catch((e: unknown) => log.error({ err: String(e) }, 'audit of a TLS refusal failed'));
  };
}

function auditTlsErrors(server: TlsServer, refused: ReturnType<typeof refusalAuditor>): void {
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket) => refused(socket.remoteAddress, err.code ?? 'tls_error', String(err.message)));
}

function splitHostPort(endpoint: string): { host: string; port: number } {
  const i = endpoint.lastIndexOf(':');
  return { host: endpoint.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(endpoint.slice(i + 1)) };
}

interface PoolListener {
  server: HttpsServer & { closing: boolean };
  front: TlsFront;
}

async function closePoolListener(l: PoolListener): Promise<void> {
  l.server.closing = true;
  await l.front.close();
  l.server.closeAllConnections();
  await new Promise<void>((resolve) => l.server.close(() => resolve()));
}

/** One TLS listener per pool address, all with the same check-in handler. */
async function startPool(ctx: ExtensionContext, st: AdmissionState): Promise<PoolListener[]> {
  const pool = st.rotation.pool();
  if (pool.length === 0) return [];
  const hosts = pool.map((e) => splitHostPort(e).host);
  const cert = await issueTlsServerCertificate(ctx.ca.ca, hosts, undefined, ctx.base.clock);
  const { certPem, keyPem } = cert;
  const started: PoolListener[] = [];
  const closeAll = async (): Promise<void> => {
    for (const l of started) await closePoolListener(l);
  };
  try {
    for (const endpoint of pool) {
      const log = ctx.log.child({ listener: `gateway ${endpoint}` });
      // Gateway listeners take check-ins only; no TLS session tickets (see MtlsOptions).
      const tls = mtlsServerOptions({ certPem, keyPem, clientCaDers: [ctx.ca.ca.issuing.der, ctx.ca.ca.root.der], sessionTickets: false });
      const server = createGatewayServer({ tls, admission: st.admission, maxReportBytes: ctx.config.admission.maxReportBytes, logger: log });
      const refused = refusalAuditor(endpoint, ctx.base.stores.audit, log);
      auditTlsErrors(server, refused);
      const { host, port } = splitHostPort(endpoint);
      let front: TlsFront;
      try {
        front = await listenTlsFront(server, host, port, (ip, b) => refused(ip, 'not_tls', `first byte 0x${b.toString(16).padStart(2, '0')} is not a TLS handshake`));
      } catch (e) {
        // The server already tracks connections (it emitted 'listening'): stop that too.
        server.close();
        throw e;
      }
      started.push({ server, front });
    }
  } catch (e) {
    await closeAll();
    throw e;
  }
  ctx.log.info({ pool }, 'gateway listeners up');
  // The pool shares one server certificate: renewed together, in place (no restart, no rebind).
  ctx.tlsRenewal.addTls({
    name: 'gateway pool',
    hosts,
    current: cert,
    contextFor: (c) => mtlsServerOptions({ certPem: c.certPem, keyPem: c.keyPem, clientCaDers: [ctx.ca.ca.issuing.der, ctx.ca.ca.root.der], sessionTickets: false }),
    servers: () => started.filter((l) => !l.server.closing).map((l) => l.server),
  });
  return started;
}

export const admissionExtension: ServerExtension = {
  name: 'admission',
  registerApi(app, ctx) {
    const st = stateOf(ctx.base, ctx.log);
    registerGatewaySessionRoutes(app, { admission: st.admission, tokens: ctx.base.tokens });
    registerAdmissionQueryRoutes(app, { decisions: sqliteDecisionStore(ctx.base.stores.db), rotation: st.rotation, tokens: ctx.base.tokens });
  },
  register(ctx) {
    const st = stateOf(ctx.base, ctx.log);
    st.ca.current = ctx.ca;
    registerCheckinRoutes(ctx.tls, { admission: st.admission, maxReportBytes: ctx.config.admission.maxReportBytes, mainListener: true, logger: ctx.log });
    auditTlsErrors(ctx.tls.server as unknown as TlsServer, refusalAuditor('main', ctx.base.stores.audit, ctx.log));
  },
  async start(ctx) {
    const st = stateOf(ctx.base, ctx.log);
    st.ca.current = ctx.ca;
    await st.rotation.ensure();
    const stopRotation = st.rotation.start();
    const stopSweep = st.admission.start();
    let pool: PoolListener[];
    try {
      pool = await startPool(ctx, st);
    } catch (e) {
      stopRotation();
      stopSweep();
      throw e;
    }
    return async () => {
      stopRotation();
      stopSweep();
      for (const l of pool) await closePoolListener(l);
      await st.admission.drain();
      states.delete(ctx.base);
    };
  },
};
