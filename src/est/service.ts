import type { AuditSink } from '../audit-log/index.js';
import type { Clock } from '../core/clock.js';
import { AppError, isAppError } from '../core/errors.js';
import { sha256Hex } from '../core/ids.js';
import {
  certsOnlyPkcs7,
  createRevocation,
  CRL_REASONS,
  csrAttributes,
  nameToString,
  OID,
  parseCertificate,
  parseCsrAsync,
  verifySignedBy,
  type CertRecord,
  type CertStore,
  type Issuance,
  type IssuedCertificate,
  type ParsedCertificate,
  type ParsedCsr,
  type Revocation,
  type UnlockedCa,
} from '../pki/index.js';
import { deviceFieldSchemas, ENROLLABLE_STATUSES, type DeviceStatus, type Registry } from '../registry/index.js';
import { createCredentialKeeper, EST_ACTOR, errorLabel, UNDELIVERED_REASON, withdrawalReason } from './credentials.js';
import { createFailureLimiter, createRateLimitAudit } from './rate-limit.js';
import type { EnrollmentStore, VendorRoot } from './store.js';

export interface EstSettings {
  maxFailedAttempts: number;
  attemptWindowSeconds: number;
}

/** What the transport learned about the caller. */
export interface EstCaller {
  sourceIp: string;
  /** HTTP Basic credentials, if sent */
  basic?: { user: string; password: string } | undefined;
  /** client certificate chain from TLS, leaf first (DER), if presented */
  clientChain?: Buffer[] | undefined;
}

const CSR_ATTRS = csrAttributes();

/**
 * The serial a CSR asks for: subject serialNumber, else CN (RFC 7030 leaves naming to the CA).
 * It must be a serial the registry could hold (the registry's own rule, untrimmed): anything
 * else names no device, and refusing it here keeps request-supplied text of any length or
 * content out of audit subjects, limiter keys and error messages. The refusal does not echo it.
 */
export function csrDeviceSerial(csr: ParsedCsr): string {
  const s = csr.subjectSerialNumber ?? csr.commonName;
  if (!s) throw new AppError('invalid', 'est.csr_no_serial', 'the CSR subject must carry the device serial in serialNumber or CN');
  const r = deviceFieldSchemas.serial.safeParse(s);
  if (!r.success || r.data !== s) {
    throw new AppError('invalid', 'est.csr_bad_serial', `the device serial in the CSR subject (serialNumber or CN, ${s.length} characters) must be 1..64 characters of A-Z a-z 0-9 . _ : -`);
  }
  return s;
}

/** Enrollment tokens are 24 random bytes in base64url (see admin.ts `createToken`). */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{32}$/;
/** Longest request-supplied text kept in an audit event (a vendor certificate's subject). */
const MAX_AUDIT_TEXT = 200;

/**
 * Request-supplied text for audit details: control characters replaced (a viewer's terminal
 * or the dashboard shows it) and cut to `MAX_AUDIT_TEXT` characters.
 */
export function auditText(s: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what this replaces
  const clean = s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '\ufffd');
  return clean.length > MAX_AUDIT_TEXT ? `${clean.slice(0, MAX_AUDIT_TEXT)}…` : clean;
}

/**
 * What the audit log keeps of an HTTP Basic user that is not the CSR's serial: never the value
 * (it is often the enrollment token, sent in the wrong field, and the audit log is open to
 * viewers), only its length, what it looks like, and the first 8 hex digits of its SHA-256 so
 * an operator can tell repeats apart or confirm a value they already know (32 bits say
 * nothing usable about a 192-bit token).
 */
export function describeBasicUser(user: string): { length: number; looksLike: 'enrollment-token' | 'serial' | 'other'; sha256Prefix: string } {
  const serialShaped = deviceFieldSchemas.serial.safeParse(user);
  const looksLike = TOKEN_SHAPE.test(user) ? 'enrollment-token' : serialShaped.success && serialShaped.data === user ? 'serial' : 'other';
  return { length: user.length, looksLike, sha256Prefix: sha256Hex(user).slice(0, 8) };
}

const denied = (code: string, message: string): AppError => new AppError('forbidden', code, message);
const unauth = (code: string, message: string): AppError => new AppError('unauthenticated', code, message);

/** Re-enrollment is for active devices only (a provisioned one has no certificate yet). */
const REENROLLABLE_STATUSES: readonly DeviceStatus[] = ['active'];

/**
 * EST (RFC 7030) enrollment logic, independent of HTTP. First enrollment is authorised by
 * a one-time token bound to the serial, or by a vendor (factory) certificate naming the
 * serial; re-enrollment by the device's current (newest valid) femtoguard certificate. A
 * delivered certificate supersedes the device's earlier ones (revoked, reason superseded):
 * one device, one live credential. Every decision is an audit event. A request refused before
 * issuance leaves no certificate, key binding or status change behind and releases its
 * credential; one that fails after a certificate was recorded revokes that certificate (it was
 * never delivered) and keeps the credential spent, so a token is never good for two
 * certificates.
 *
 * Failed attempts are limited, but only ever after authentication: a request whose token or
 * certificate checked out is never refused by the limiter, so failures that carry no valid
 * credential (a CSR naming any serial, from any address, a NAT shared with the device) cannot
 * lock a device out. A request being refused anyway is counted against its source address
 * and the serial it targets (the serial a certificate proved, or the one a token or vendor
 * certificate was checked against); once either is over `maxFailedAttempts` in the window it
 * is answered `429` instead, audited as `est.rate_limited` (aggregated per key and minute).
 * Refusals name as actor only what a certificate proved (`device:<serial>`), else `anonymous`.
 */
export function createEst(deps: {
  ca: UnlockedCa;
  issuance: Issuance;
  certs: CertStore;
  registry: Registry;
  store: EnrollmentStore;
  audit: AuditSink;
  clock: Clock;
  settings: EstSettings;
  /**
   * Revokes the certificates EST supersedes or withdraws. Pass the process's revocation core
   * so OCSP and the CRL refresh at once; without it a core over `certs` is used, whose
   * changes a running server picks up from the change feed (`changePollMs`).
   */
  revocation?: Pick<Revocation, 'revokeCertificate'> | undefined;
}) {
  const { ca, issuance, certs, registry, store, audit, clock, settings } = deps;
  const keeper = createCredentialKeeper({ certs, revocation: deps.revocation ?? createRevocation({ store: certs, audit, clock }), audit, clock });
  const limiter = createFailureLimiter({ max: settings.maxFailedAttempts, windowMs: settings.attemptWindowSeconds * 1000, now: () => clock.now().getTime() });
  const limitedAudit = createRateLimitAudit({ audit, now: () => clock.now().getTime() });
  // Pending 429 counts reach the log within a window even when the flood stops; unref'd so it
  // never keeps the process up (close() writes what is left).
  const flushTimer = setInterval(() => void limitedAudit.flush().catch(() => undefined), 15_000);
  flushTimer.unref();
  const cacertsDer = certsOnlyPkcs7([ca.issuing.der, ca.root.der]);
  // Read on each use: roots added by the CLI or another node take effect at once (a handful of rows).
  async function roots(): Promise<{ root: VendorRoot; cert: ParsedCertificate }[]> {
    return (await store.vendorRoots()).map((root) => ({ root, cert: parseCertificate(root.der) }));
  }

  const ipKey = (caller: EstCaller): string => `ip:${caller.sourceIp}`;
  const serialKey = (serial: string): string => `serial:${serial}`;
  const deviceActor = (serial: string): string => `device:${serial}`;

  /** The limiter key among `keys` blocked longest, with its wait in seconds; null when none is blocked. */
  function blocked(keys: readonly string[]): { key: string; wait: number } | null {
    let worst: { key: string; wait: number } | null = null;
    for (const key of keys) {
      const wait = limiter.blockedFor(key);
      if (wait > 0 && (!worst || wait > worst.wait)) worst = { key, wait };
    }
    return worst;
  }

  /** What a refusal is counted against, and who it is audited as. */
  interface Counted {
    /** limiter keys: the source address for refusals no valid credential stands behind, and the serial targeted */
    keys: readonly string[];
    /** `device:<serial>` when a certificate proved the serial, else `anonymous` */
    actor: string;
    /** audit details of the refusal itself */
    extra?: Record<string, unknown> | undefined;
    /** further audit of the refusal (credential-shared, a superseded certificate): written whether or not it is answered 429 */
    alsoAudit?: (() => Promise<void>) | undefined;
  }

  /**
   * Refuses a request that failed: counted against `keys` and audited, unless one of them is
   * already over its limit, in which case the answer is 429 (and the audit aggregated). Only
   * requests that are refused anyway come here, so the limiter never refuses one that would
   * have succeeded.
   */
  async function refuseCounted(action: string, serial: string, caller: EstCaller, err: AppError, c: Counted): Promise<never> {
    // A security finding (another device's token, a superseded certificate) is audited even
    // when a flood has put the source over its limit: the flood must not hide it.
    await c.alsoAudit?.();
    const over = blocked(c.keys);
    if (over) {
      await limitedAudit.record({ request: action, key: over.key, actor: c.actor, subject: serial, refusal: err.code, sourceIp: caller.sourceIp, retryAfterSeconds: over.wait });
      throw new AppError('rate_limited', 'est.rate_limited', `too many failed enrollment attempts; retry in ${over.wait} s`, { retryAfterSeconds: over.wait });
    }
    for (const key of c.keys) limiter.fail(key);
    return deny(action, serial, caller, err, c.extra, c.actor);
  }

  async function deny(action: string, serial: string, caller: EstCaller, err: AppError, extra?: Record<string, unknown>, actor = deviceActor(serial)): Promise<never> {
    await audit.record({ action, actor, subject: serial, outcome: 'denied', details: { code: err.code, sourceIp: caller.sourceIp, ...extra } });
    throw err;
  }

  /**
   * Refuses after authorisation: an AppError is denied (audited, then mapped at the edge); any
   * other error is audited as a failure by its label only (no message: it may quote input)
   * and goes on to become a bare 500.
   */
  async function refuse(action: string, serial: string, caller: EstCaller, e: unknown, extra?: Record<string, unknown>): Promise<never> {
    if (isAppError(e)) return deny(action, serial, caller, e, extra);
    await audit
      .record({ action, actor: `device:${serial}`, subject: serial, outcome: 'failure', details: { code: errorLabel(e), sourceIp: caller.sourceIp, ...extra } })
      .catch(() => undefined);
    throw e;
  }

  /**
   * Re-reads the device after its certificate was recorded: a status change committed between
   * the first check and the record revoked the certificates that existed then, not this one.
   * (One committed after the record revokes it through the registry as usual.) Null while the
   * device may still have it; otherwise the refusal and the CRL reason to withdraw it with.
   */
  async function lapsedStatus(serial: string, allowed: readonly DeviceStatus[]): Promise<{ error: AppError; reason: number } | null> {
    const device = await registry.get(serial);
    if (device && allowed.includes(device.status)) return null;
    const status = device?.status ?? null;
    return {
      reason: withdrawalReason(status),
      error: denied('est.device_status_changed', `device ${serial} became ${status ?? 'unregistered'} while its certificate was being issued; that certificate is revoked and the request refused`),
    };
  }

  /**
   * The certificates a failed attempt left recorded: the one issued, or, when issuance itself
   * failed after recording (its audit write), those that appeared since `before`. Empty when the
   * attempt failed before issuing; null when that cannot be told (the store failed too), which
   * callers treat as "a certificate may exist".
   */
  async function leftBehind(serial: string, issued: IssuedCertificate | null, before: ReadonlySet<string> | null): Promise<string[] | null> {
    if (issued) return [issued.serialHex];
    if (!before) return [];
    return keeper.addedSince(serial, before).catch(() => null);
  }

  /**
   * A certificate that is not the device's current one asked to re-enroll: revoked as
   * superseded, or valid beside a newer one. The real unit renews with its newest certificate,
   * so this is how a copied (cloned) credential shows itself.
   */
  async function supersededAttempt(device: string, rec: CertRecord, leaf: ParsedCertificate, caller: EstCaller, newer: CertRecord | null): Promise<never> {
    const err = denied(
      'est.client_cert_superseded',
      `this certificate of device ${device} was superseded by a newer one; only the device's current certificate re-enrolls (a unit that lost its new certificate is re-provisioned with an enrollment token)`,
    );
    // Not a valid credential: counted against the address too. The device it proves is
    // counted, never blocked: its current certificate still renews.
    return refuseCounted('est.reenroll_superseded_cert', device, caller, err, {
      keys: [ipKey(caller), serialKey(device)],
      actor: deviceActor(device),
      extra: { fingerprint: leaf.fingerprint, certificate: rec.serialHex, ...(newer ? { current: newer.serialHex } : {}) },
    });
  }

  /** Parses a leaf chained to a vendor root; null when it does not chain to any. */
  async function vendorLeaf(chain: Buffer[]): Promise<ParsedCertificate | null> {
    const leafDer = chain[0];
    if (!leafDer) return null;
    const leaf = parseCertificate(leafDer);
    for (const { cert } of await roots()) {
      if (leaf.issuerDer.equals(cert.subjectDer) && verifySignedBy(leaf, cert.spki)) return leaf;
      // One intermediate (factory sub-CA) sent by the client.
      for (const midDer of chain.slice(1)) {
        const mid = parseCertificate(midDer);
        if (
          mid.issuerDer.equals(cert.subjectDer) &&
          verifySignedBy(mid, cert.spki) &&
          mid.extensions.basicConstraints?.ca &&
          leaf.issuerDer.equals(mid.subjectDer) &&
          verifySignedBy(leaf, mid.spki)
        ) {
          return leaf;
        }
      }
    }
    return null;
  }

  /** Is this a current femtoguard device certificate? Returns the parsed leaf and its record. */
  function ourLeaf(chain: Buffer[] | undefined): ParsedCertificate | null {
    const der = chain?.[0];
    if (!der) return null;
    const leaf = parseCertificate(der);
    if (!leaf.issuerDer.equals(ca.issuing.subjectDer) || !verifySignedBy(leaf, ca.issuing.spki)) return null;
    return leaf;
  }

  /**
   * Refuses an HTTP Basic user that is not the CSR's serial. Installers swap the fields
   * (`curl -u "$TOKEN:$SERIAL"`): when the user is this serial's live token, it is spent at
   * once, since a user name is what proxies and access logs record (nginx's `$remote_user`)
   * and the token must be taken as seen by them. Spending needs the token itself (192 random
   * bits), so no one can spend another's token this way; one bound to another serial is left
   * alone (the store finds tokens by serial). The spend is audited on its own, even when the
   * refusal is answered 429; the refusal records only `describeBasicUser`, never the value.
   */
  async function userMismatch(serial: string, user: string, caller: EstCaller, guess: (err: AppError, extra?: Record<string, unknown>) => Promise<never>): Promise<never> {
    const spent = (await store.consumeToken(sha256Hex(user), serial, clock.now().toISOString())) === 'ok';
    if (spent) {
      await audit.record({ action: 'est.token_exposed', actor: EST_ACTOR, subject: serial, outcome: 'success', details: { field: 'basic-user', tokenSpent: true, sourceIp: caller.sourceIp } });
    }
    const message = spent
      ? "the HTTP Basic user must be the serial named in the CSR and the password the enrollment token; this serial's token was sent as the user, a field that logs record, so it is now spent: ask for a new token"
      : 'the HTTP Basic user must be the serial named in the CSR (and the password the enrollment token)';
    return guess(denied('est.serial_mismatch', message), { basicUser: describeBasicUser(user), ...(spent ? { tokenSpent: true } : {}) });
  }

  /**
   * Authenticates a first enrollment: the token or vendor certificate is checked before the
   * limiter is consulted, and one that checks out is never refused by it. A credential that
   * fails is counted against the address and the serial it was checked against.
   */
  async function authorizeFirstEnrollment(serial: string, caller: EstCaller): Promise<{ method: string; undo: () => Promise<void> }> {
    const guess = (err: AppError, extra?: Record<string, unknown>, alsoAudit?: () => Promise<void>): Promise<never> =>
      refuseCounted('est.enroll', serial, caller, err, { keys: [ipKey(caller), serialKey(serial)], actor: 'anonymous', extra, alsoAudit });
    if (caller.basic) {
      if (caller.basic.user !== serial) return userMismatch(serial, caller.basic.user, caller, guess);
      const hash = sha256Hex(caller.basic.password);
      const res = await store.consumeToken(hash, serial, clock.now().toISOString());
      if (res !== 'ok') {
        const msg = { unknown: 'enrollment token not valid', used: 'enrollment token already used', expired: 'enrollment token expired', wrong_serial: 'enrollment token not valid for this serial' }[res];
        // A token presented for a second serial: the way a shared credential shows itself.
        const shared =
          res === 'wrong_serial'
            ? async (): Promise<void> => {
                await audit.record({ action: 'credential-shared', actor: `device:${serial}`, subject: serial, outcome: 'denied', details: { kind: 'enroll-token', sourceIp: caller.sourceIp } });
              }
            : undefined;
        return guess(unauth(`est.token_${res}`, msg), undefined, shared);
      }
      return { method: 'token', undo: () => store.unconsumeToken(hash) };
    }
    if (caller.clientChain?.length) {
      const leaf = await vendorLeaf(caller.clientChain);
      if (!leaf) return guess(unauth('est.vendor_cert_untrusted', 'the client certificate does not chain to an imported vendor root'));
      const now = clock.now();
      if (leaf.notBefore > now || leaf.notAfter < now) return guess(unauth('est.vendor_cert_expired', 'the vendor certificate is not within its validity period'));
      const named = leaf.subject.filter((a) => a.type === OID.serialNumber || a.type === OID.commonName).map((a) => a.value);
      if (!named.includes(serial)) return guess(denied('est.vendor_cert_serial_mismatch', 'the vendor certificate does not name the serial in the CSR'), { vendorSubject: auditText(nameToString(leaf.subject)) });
      const credentials = [`cert:${leaf.fingerprint}`, `key:${sha256Hex(leaf.spki)}`];
      const bound = await store.bindVendorCredentials(credentials, serial, now.toISOString());
      if (!bound.ok) {
        await audit.record({ action: 'credential-shared', actor: `device:${serial}`, subject: serial, outcome: 'denied', details: { kind: 'vendor-certificate', credential: bound.credential, boundTo: bound.boundTo, sourceIp: caller.sourceIp } });
        return deny('est.enroll', serial, caller, denied('est.vendor_cert_shared', 'this factory credential was already used by another device'));
      }
      return { method: 'vendor-certificate', undo: () => store.unbindVendorCredentials(bound.created, serial) };
    }
    // No credential at all: nothing was checked against the serial, so only the address counts.
    return refuseCounted('est.enroll', serial, caller, unauth('est.auth_required', 'enrollment needs an enrollment token (HTTP Basic, user = serial) or a vendor certificate'), {
      keys: [ipKey(caller)],
      actor: 'anonymous',
    });
  }

  return {
    /** RFC 7030 §4.1: the CA certificates, as a certs-only PKCS#7. */
    cacerts: (): Buffer => cacertsDer,

    /** RFC 7030 §4.5 csrattrs: what femtoguard wants in a CSR (DER CsrAttrs). */
    csrattrs: (): Buffer => CSR_ATTRS,

    async simpleenroll(csrDer: Buffer, caller: EstCaller): Promise<Buffer> {
      const csr = await parseCsrAsync(csrDer);
      const serial = csrDeviceSerial(csr);
      const auth = await authorizeFirstEnrollment(serial, caller);
      const actor = `device:${serial}`;
      let before: Set<string> | null = null;
      let issued: IssuedCertificate | null = null;
      let reason: number = UNDELIVERED_REASON;
      try {
        const device = await registry.get(serial);
        if (!device) throw denied('est.device_unknown', `device ${serial} is not in the registry`);
        if (!ENROLLABLE_STATUSES.includes(device.status)) throw denied('est.device_not_enrollable', `device ${serial} is ${device.status}; only provisioned or active devices enroll`);
        before = await keeper.snapshot(serial);
        issued = await issuance.issue(csr, serial, { actor });
        const lapse = await lapsedStatus(serial, ENROLLABLE_STATUSES);
        if (lapse) {
          reason = lapse.reason;
          throw lapse.error;
        }
        await registry.markEnrolled(serial, actor);
        limiter.reset(`serial:${serial}`);
        await audit.record({ action: 'est.enroll', actor, subject: serial, outcome: 'success', details: { method: auth.method, certificate: issued.serialHex, sourceIp: caller.sourceIp } });
      } catch (e) {
        const left = await leftBehind(serial, issued, before);
        // Nothing issued: release the credential so the device may retry. Once a certificate
        // exists (or may), the credential stays spent and the certificate is revoked.
        if (left?.length === 0) await auth.undo();
        else if (left) await keeper.withdraw(serial, left, reason, errorLabel(e));
        return refuse('est.enroll', serial, caller, e, { method: auth.method, ...(left?.length ? { withdrawn: left } : {}) });
      }
      await keeper.supersede(serial, issued.serialHex);
      return issued.der;
    },

    async simplereenroll(csrDer: Buffer, caller: EstCaller): Promise<Buffer> {
      const csr = await parseCsrAsync(csrDer);
      const serial = csrDeviceSerial(csr);
      // Until a certificate of ours is found in the store, nothing proves who is asking: the
      // refusal counts against the address only, never the serial the CSR names.
      const unproven = (err: AppError, extra?: Record<string, unknown>): Promise<never> =>
        refuseCounted('est.reenroll', serial, caller, err, { keys: [ipKey(caller)], actor: 'anonymous', extra });
      const leaf = ourLeaf(caller.clientChain);
      if (!leaf) return unproven(unauth('est.client_cert_required', 're-enrollment needs the current femtoguard device certificate over mutual TLS'));
      const now = clock.now();
      if (leaf.notAfter < now || leaf.notBefore > now) return unproven(unauth('est.client_cert_expired', 'the client certificate has expired; enroll again with a new enrollment token'));
      const rec = await certs.byFingerprint(leaf.fingerprint);
      if (!rec || rec.kind !== 'device' || !rec.deviceSerial) return unproven(unauth('est.client_cert_unknown', 'the client certificate is not a femtoguard device certificate'));
      // From here the certificate proves its device: refusals count against, and are audited
      // under, that device (a CSR naming another serial is kept as `claimedSerial`).
      const proven = rec.deviceSerial;
      const claimed = proven === serial ? {} : { claimedSerial: serial };
      const refused = (err: AppError, keys: readonly string[], extra?: Record<string, unknown>): Promise<never> =>
        refuseCounted('est.reenroll', proven, caller, err, { keys, actor: deviceActor(proven), extra: { ...claimed, ...extra } });
      if (rec.status === 'revoked') {
        if (rec.reason === CRL_REASONS.superseded) return supersededAttempt(proven, rec, leaf, caller, null);
        return refused(unauth('est.client_cert_revoked', 'the client certificate is revoked'), [ipKey(caller), serialKey(proven)], { certificate: rec.serialHex });
      }
      if (proven !== serial) {
        return refused(denied('est.serial_mismatch', 'the CSR names a different serial than the client certificate'), [serialKey(proven)]);
      }
      // RFC 7030 §4.2.2 renews "the current certificate": an older one still valid beside a
      // newer one (its revocation failed, or a token re-provisioned the unit) does not renew.
      const newer = await keeper.newerThan(rec);
      if (newer) return supersededAttempt(proven, rec, leaf, caller, newer);
      const device = await registry.get(serial);
      if (!device || !REENROLLABLE_STATUSES.includes(device.status)) {
        return refused(denied('est.device_not_active', `device ${serial} is ${device?.status ?? 'unknown'}; only active devices re-enroll`), [serialKey(proven)]);
      }
      const actor = `device:${serial}`;
      let before: Set<string> | null = null;
      let issued: IssuedCertificate | null = null;
      let reason: number = UNDELIVERED_REASON;
      try {
        before = await keeper.snapshot(serial);
        issued = await issuance.issue(csr, serial, { actor, requireNewKey: true });
        const lapse = await lapsedStatus(serial, REENROLLABLE_STATUSES);
        if (lapse) {
          reason = lapse.reason;
          throw lapse.error;
        }
        await audit.record({ action: 'est.reenroll', actor, subject: serial, outcome: 'success', details: { previous: rec.serialHex, certificate: issued.serialHex, sourceIp: caller.sourceIp } });
      } catch (e) {
        const left = await leftBehind(serial, issued, before);
        if (left?.length) await keeper.withdraw(serial, left, reason, errorLabel(e));
        // Refused after authentication (a reused key, …): counted against the device, which
        // its own certificate proved; the limiter is not consulted, the device is answered as is.
        if (isAppError(e)) limiter.fail(serialKey(serial));
        return refuse('est.reenroll', serial, caller, e, left?.length ? { withdrawn: left } : undefined);
      }
      // The device has its successor: the presented certificate (and any older one) is superseded.
      await keeper.supersede(serial, issued.serialHex);
      return issued.der;
    },

    vendorRootDers: async (): Promise<Buffer[]> => (await roots()).map((r) => r.root.der),

    /** Stops the audit timer and writes the 429 counts still pending (call on shutdown). */
    async close(): Promise<void> {
      clearInterval(flushTimer);
      await limitedAudit.flush(true);
    },
  };
}

export type Est = ReturnType<typeof createEst>;
