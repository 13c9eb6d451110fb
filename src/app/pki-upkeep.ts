import type { SecureContextOptions } from 'node:tls';
import type { Logger } from '../core/logger.js';
import { issueTlsServerCertificate, reconcileRevocations, renewalDue, renewOcspResponder, type ReconcileResult, type TlsServerCertificate, type UnlockedCa } from '../pki/index.js';
import { caSettings, ocspResponderFor, type BaseContext, type CaContext } from './context.js';

/** A TLS listener (or a group sharing one certificate) whose server certificate is kept current. */
export interface TlsRenewalTarget {
  /** for logs and audit: `https`, `gateway pool` */
  name: string;
  /** the names the certificate carries (as given to issueTlsServerCertificate) */
  hosts: readonly string[];
  current: TlsServerCertificate;
  /** The TLS options for a certificate, as `server.setSecureContext` takes them. */
  contextFor(cert: TlsServerCertificate): SecureContextOptions | Promise<SecureContextOptions>;
  /** The listeners to swap the new context into (asked at renewal time). */
  servers(): readonly { setSecureContext(options: SecureContextOptions): void }[];
}

/** Failed checks are tried again this soon (or at the regular interval if that is shorter). */
const RETRY_MS = 15 * 60_000;
const DAY_MS = 86_400_000;
/** The issuing CA is reported as ending once it has less than this many device lifetimes left. */
const EXPIRY_WARNING_LIFETIMES = 2;

/** How near the issuing CA is to its end, in the terms an operator acts on. */
export interface IssuingCaExpiry {
  notAfter: Date;
  /** days until the CA's end (fractional; negative once it has ended) */
  daysLeft: number;
  /** below {@link EXPIRY_WARNING_LIFETIMES} device validities: new certificates may be cut short */
  expiring: boolean;
  ended: boolean;
}

/**
 * The issuing CA's remaining life against the device certificate validity. With less than two
 * device lifetimes left, certificates issued now are (or soon will be) shortened to the CA's
 * end, and devices come back for new ones sooner and sooner until nothing can be issued.
 */
export function issuingCaExpiry(issuingNotAfter: Date, now: Date, deviceValidityDays: number): IssuingCaExpiry {
  const daysLeft = (issuingNotAfter.getTime() - now.getTime()) / DAY_MS;
  return { notAfter: issuingNotAfter, daysLeft, expiring: daysLeft < EXPIRY_WARNING_LIFETIMES * deviceValidityDays, ended: daysLeft <= 0 };
}

/**
 * Keeps the delegated OCSP responder certificate and the TLS server certificates current
 * while the server runs (both used to be renewed only at start: a server up longer than
 * their lifetime signed OCSP with an expired responder and served an expired TLS
 * certificate). Each check replaces what is in the last third of its life; a failure is
 * logged and audited and tried again after {@link RETRY_MS}, never thrown.
 *
 * Holds the CA passphrase for the server's lifetime: a renewed responder key is sealed
 * under it in the store, so a restart (or another node) finds the same responder. It is
 * the passphrase the server was started with (environment or file), never logged.
 */
export function createPkiRenewal(deps: { base: BaseContext; ca: CaContext; passphrase: string; log: Logger; onResponderRenewed(ca: CaContext): void }) {
  const { base, ca, passphrase, log } = deps;
  const targets: TlsRenewalTarget[] = [];
  const audit = base.stores.audit;
  /** When `ca.expiring` was last written by this process: at most once a day. */
  let lastExpiryWarningMs: number | null = null;

  /**
   * Warns (log and `ca.expiring` audit event, at most once a day) while the issuing CA has
   * less than two device lifetimes left; an error once it has ended. Returns the state so
   * {@link check} can skip renewals that cannot succeed past the end.
   */
  async function checkCaExpiry(): Promise<IssuingCaExpiry> {
    const now = base.clock.now();
    const e = issuingCaExpiry(ca.ca.issuing.notAfter, now, base.config.ca.deviceValidityDays);
    if (!e.expiring) return e;
    if (lastExpiryWarningMs !== null && now.getTime() - lastExpiryWarningMs < DAY_MS) return e;
    lastExpiryWarningMs = now.getTime();
    const facts = {
      issuingNotAfter: e.notAfter.toISOString(),
      daysLeft: Math.max(0, Math.floor(e.daysLeft * 10) / 10),
      deviceValidityDays: base.config.ca.deviceValidityDays,
      ended: e.ended,
    };
    if (e.ended) log.error(facts, 'the issuing CA has ended: no certificate can be issued until it is rolled over (docs/pki.md)');
    else log.warn(facts, 'the issuing CA ends soon: new certificates are cut short at its end; roll it over (docs/pki.md)');
    await audit.record({ action: 'ca.expiring', actor: 'system', subject: ca.ca.issuing.serialHex, outcome: e.ended ? 'failure' : 'success', details: facts });
    return e;
  }

  async function renewResponder(): Promise<boolean> {
    try {
      const next: UnlockedCa | null = await renewOcspResponder({ store: base.stores.certs, audit, clock: base.clock }, caSettings(base.config), ca.ca, passphrase);
      if (!next) return true;
      const previous = ca.ca.responder.serialHex;
      // Issuance, EST and the CRL sign with the issuing key, unchanged; only OCSP moves over.
      ca.ca = next;
      ca.ocsp = ocspResponderFor(base, next);
      deps.onResponderRenewed(ca);
      log.info({ previous, serial: next.responder.serialHex, notAfter: next.responder.notAfter.toISOString() }, 'OCSP responder certificate renewed');
      return true;
    } catch (e) {
      await failed('ocsp-responder', e);
      return false;
    }
  }

  async function renewTls(t: TlsRenewalTarget): Promise<boolean> {
    if (!renewalDue(t.current, base.clock.now())) return true;
    try {
      const cert = await issueTlsServerCertificate(ca.ca, t.hosts, undefined, base.clock);
      const options = await t.contextFor(cert);
      for (const server of t.servers()) server.setSecureContext(options);
      const previous = t.current.serialHex;
      t.current = cert;
      // issueTlsServerCertificate caps the certificate at the issuing CA's end: say so.
      const shortened = cert.notAfter.getTime() >= ca.ca.issuing.notAfter.getTime() ? { shortenedToCaEnd: true } : {};
      await audit.record({
        action: 'tls.server_certificate_renewed',
        actor: 'system',
        subject: cert.serialHex,
        outcome: 'success',
        details: { listener: t.name, previous, notAfter: cert.notAfter.toISOString(), ...shortened },
      });
      log.info({ listener: t.name, previous, serial: cert.serialHex, notAfter: cert.notAfter.toISOString() }, 'TLS server certificate renewed');
      return true;
    } catch (e) {
      await failed(`tls ${t.name}`, e);
      return false;
    }
  }

  async function failed(what: string, e: unknown): Promise<void> {
    const code = e instanceof Error ? ((e as { code?: unknown }).code ?? e.name) : 'error';
    log.error({ what, code: String(code), err: String(e) }, 'certificate renewal failed; retrying later');
    await audit.record({ action: 'pki.renewal_failed', actor: 'system', subject: what, outcome: 'failure', details: { code: String(code) } }).catch(() => undefined);
  }

  /**
   * One check of everything; true when nothing failed. Past the issuing CA's end nothing can
   * be renewed: that is reported (daily) by the expiry check, not retried every 15 minutes.
   */
  async function check(): Promise<boolean> {
    const expiry = await checkCaExpiry();
    if (expiry.ended) return true;
    let ok = await renewResponder();
    for (const t of targets) ok = (await renewTls(t)) && ok;
    return ok;
  }

  return {
    addTls(t: TlsRenewalTarget): void {
      targets.push(t);
    },
    check,
    /**
     * Checks the issuing CA's expiry now (the warning at start), then everything every
     * `intervalMs` (sooner after a failure); returns the stop. The timer never holds the
     * process open.
     */
    start(intervalMs: number): () => void {
      checkCaExpiry().catch((e: unknown) => log.error({ err: String(e) }, 'issuing CA expiry check failed'));
      return repeat(intervalMs, Math.min(intervalMs, RETRY_MS), check, (e) => log.error({ err: String(e) }, 'certificate renewal check failed'));
    },
  };
}

export type PkiRenewal = ReturnType<typeof createPkiRenewal>;

/**
 * Revokes what the registry says must not be valid but is (src/pki/reconcile.ts): logs and
 * returns what it repaired. Serials and counts only, nothing secret.
 */
export async function reconcileOnce(base: BaseContext, log: Logger): Promise<ReconcileResult> {
  const r = await reconcileRevocations({
    certs: base.stores.certs,
    devicesInStatus: async (status, after, limit) => (await base.stores.devices.list({ status, after, limit })).map((d) => d.serial),
    applyStatus: (serial, from, to, actor) => base.revocation.applyStatus(serial, from, to, actor),
    statusOf: async (serial) => (await base.stores.devices.get(serial))?.status ?? null,
    liftHolds: (serial, actor) => base.revocation.applyStatus(serial, 'suspended', 'active', actor),
    audit: base.stores.audit,
    clock: base.clock,
  });
  if (r.repaired.length > 0) {
    log.warn(
      { devices: r.repaired.length, certificates: r.repaired.reduce((n, x) => n + x.certificates, 0), serials: r.repaired.slice(0, 20).map((x) => x.serial) },
      'reconcile revoked certificates a status change had left valid',
    );
  }
  if (r.failed.length > 0) log.error({ devices: r.failed.length, failed: r.failed.slice(0, 20) }, 'reconcile could not revoke some certificates; retrying next run');
  return r;
}

/** Runs `reconcileOnce` every `intervalMs`; returns the stop. */
export function startReconcile(base: BaseContext, log: Logger, intervalMs: number): () => void {
  return repeat(
    intervalMs,
    intervalMs,
    async () => (await reconcileOnce(base, log)).failed.length === 0,
    (e) => log.error({ err: String(e) }, 'reconcile run failed; retrying next run'),
  );
}

/**
 * Runs `task` after `intervalMs`, then again after `intervalMs` (or `retryMs` when it
 * reported a failure or threw). One run at a time; timers are unref'd.
 */
function repeat(intervalMs: number, retryMs: number, task: () => Promise<boolean>, onError: (e: unknown) => void): () => void {
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  const schedule = (ms: number): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      task()
        .then((ok) => schedule(ok ? intervalMs : retryMs))
        .catch((e: unknown) => {
          onError(e);
          schedule(retryMs);
        });
    }, ms);
    timer.unref();
  };
  schedule(intervalMs);
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
