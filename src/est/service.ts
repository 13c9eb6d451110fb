import type { AuditSink } from '../audit-log/index.js';
import type { Clock } from '../core/clock.js';
import { AppError, isAppError } from '../core/errors.js';
import { sha256Hex } from '../core/ids.js';
import {
  certsOnlyPkcs7,
  csrAttributes,
  nameToString,
  OID,
  parseCertificate,
  parseCsrAsync,
  verifySignedBy,
  type CertStore,
  type Issuance,
  type ParsedCertificate,
  type ParsedCsr,
  type UnlockedCa,
} from '../pki/index.js';
import { ENROLLABLE_STATUSES, type Registry } from '../registry/index.js';
import { createFailureLimiter } from './rate-limit.js';
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

/** The serial a CSR asks for: subject serialNumber, else CN (RFC 7030 leaves naming to the CA). */
export function csrDeviceSerial(csr: ParsedCsr): string {
  const s = csr.subjectSerialNumber ?? csr.commonName;
  if (!s) throw new AppError('invalid', 'est.csr_no_serial', 'the CSR subject must carry the device serial in serialNumber or CN');
  return s;
}

const denied = (code: string, message: string): AppError => new AppError('forbidden', code, message);
const unauth = (code: string, message: string): AppError => new AppError('unauthenticated', code, message);

/**
 * EST (RFC 7030) enrollment logic, independent of HTTP. First enrollment is authorised by
 * a one-time token bound to the serial, or by a vendor (factory) certificate naming the
 * serial; re-enrollment by the device's current femtoguard certificate. Every decision is
 * an audit event; a failure leaves no certificate, key binding or status change behind.
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
}) {
  const { ca, issuance, certs, registry, store, audit, clock, settings } = deps;
  const limiter = createFailureLimiter({ max: settings.maxFailedAttempts, windowMs: settings.attemptWindowSeconds * 1000, now: () => clock.now().getTime() });
  const cacertsDer = certsOnlyPkcs7([ca.issuing.der, ca.root.der]);
  // Read on each use: roots added by the CLI or another node take effect at once (a handful of rows).
  async function roots(): Promise<{ root: VendorRoot; cert: ParsedCertificate }[]> {
    return (await store.vendorRoots()).map((root) => ({ root, cert: parseCertificate(root.der) }));
  }

  function checkRate(serial: string, ip: string): void {
    const wait = Math.max(limiter.blockedFor(`serial:${serial}`), limiter.blockedFor(`ip:${ip}`));
    if (wait > 0) throw new AppError('rate_limited', 'est.rate_limited', `too many failed enrollment attempts; retry in ${wait} s`, { retryAfterSeconds: wait });
  }
  function failed(serial: string, ip: string): void {
    limiter.fail(`serial:${serial}`);
    limiter.fail(`ip:${ip}`);
  }

  async function deny(action: string, serial: string, caller: EstCaller, err: AppError, extra?: Record<string, unknown>): Promise<never> {
    await audit.record({ action, actor: `device:${serial}`, subject: serial, outcome: 'denied', details: { code: err.code, sourceIp: caller.sourceIp, ...extra } });
    throw err;
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

  async function authorizeFirstEnrollment(serial: string, caller: EstCaller): Promise<{ method: string; undo: () => Promise<void> }> {
    if (caller.basic) {
      if (caller.basic.user !== serial) {
        failed(serial, caller.sourceIp);
        return deny('est.enroll', serial, caller, denied('est.serial_mismatch', 'the HTTP Basic user must be the serial named in the CSR'), { user: caller.basic.user });
      }
      const hash = sha256Hex(caller.basic.password);
      const res = await store.consumeToken(hash, serial, clock.now().toISOString());
      if (res !== 'ok') {
        failed(serial, caller.sourceIp);
        if (res === 'wrong_serial') {
          // A token presented for a second serial: the way a shared credential shows itself.
          await audit.record({ action: 'credential-shared', actor: `device:${serial}`, subject: serial, outcome: 'denied', details: { kind: 'enroll-token', sourceIp: caller.sourceIp } });
        }
        const msg = { unknown: 'enrollment token not valid', used: 'enrollment token already used', expired: 'enrollment token expired', wrong_serial: 'enrollment token not valid for this serial' }[res];
        return deny('est.enroll', serial, caller, unauth(`est.token_${res}`, msg));
      }
      return { method: 'token', undo: () => store.unconsumeToken(hash) };
    }
    if (caller.clientChain?.length) {
      const leaf = await vendorLeaf(caller.clientChain);
      if (!leaf) {
        failed(serial, caller.sourceIp);
        return deny('est.enroll', serial, caller, unauth('est.vendor_cert_untrusted', 'the client certificate does not chain to an imported vendor root'));
      }
      const now = clock.now();
      if (leaf.notBefore > now || leaf.notAfter < now) {
        failed(serial, caller.sourceIp);
        return deny('est.enroll', serial, caller, unauth('est.vendor_cert_expired', 'the vendor certificate is not within its validity period'));
      }
      const named = leaf.subject.filter((a) => a.type === OID.serialNumber || a.type === OID.commonName).map((a) => a.value);
      if (!named.includes(serial)) {
        failed(serial, caller.sourceIp);
        return deny('est.enroll', serial, caller, denied('est.vendor_cert_serial_mismatch', 'the vendor certificate does not name the serial in the CSR'), {
          vendorSubject: nameToString(leaf.subject),
        });
      }
      const credentials = [`cert:${leaf.fingerprint}`, `key:${sha256Hex(leaf.spki)}`];
      const bound = await store.bindVendorCredentials(credentials, serial, now.toISOString());
      if (!bound.ok) {
        await audit.record({ action: 'credential-shared', actor: `device:${serial}`, subject: serial, outcome: 'denied', details: { kind: 'vendor-certificate', credential: bound.credential, boundTo: bound.boundTo, sourceIp: caller.sourceIp } });
        return deny('est.enroll', serial, caller, denied('est.vendor_cert_shared', 'this factory credential was already used by another device'));
      }
      return { method: 'vendor-certificate', undo: () => store.unbindVendorCredentials(bound.created, serial) };
    }
    failed(serial, caller.sourceIp);
    return deny('est.enroll', serial, caller, unauth('est.auth_required', 'enrollment needs an enrollment token (HTTP Basic, user = serial) or a vendor certificate'));
  }

  return {
    /** RFC 7030 §4.1: the CA certificates, as a certs-only PKCS#7. */
    cacerts: (): Buffer => cacertsDer,

    /** RFC 7030 §4.5 csrattrs: what femtoguard wants in a CSR (DER CsrAttrs). */
    csrattrs: (): Buffer => CSR_ATTRS,

    async simpleenroll(csrDer: Buffer, caller: EstCaller): Promise<Buffer> {
      const csr = await parseCsrAsync(csrDer);
      const serial = csrDeviceSerial(csr);
      checkRate(serial, caller.sourceIp);
      const auth = await authorizeFirstEnrollment(serial, caller);
      try {
        const device = await registry.get(serial);
        if (!device) throw denied('est.device_unknown', `device ${serial} is not in the registry`);
        if (!ENROLLABLE_STATUSES.includes(device.status)) throw denied('est.device_not_enrollable', `device ${serial} is ${device.status}; only provisioned or active devices enroll`);
        const issued = await issuance.issue(csr, serial, { actor: `device:${serial}` });
        await registry.markEnrolled(serial, `device:${serial}`);
        limiter.reset(`serial:${serial}`);
        await audit.record({ action: 'est.enroll', actor: `device:${serial}`, subject: serial, outcome: 'success', details: { method: auth.method, certificate: issued.serialHex, sourceIp: caller.sourceIp } });
        return issued.der;
      } catch (e) {
        await auth.undo();
        if (isAppError(e)) return deny('est.enroll', serial, caller, e, { method: auth.method });
        throw e;
      }
    },

    async simplereenroll(csrDer: Buffer, caller: EstCaller): Promise<Buffer> {
      const csr = await parseCsrAsync(csrDer);
      const serial = csrDeviceSerial(csr);
      checkRate(serial, caller.sourceIp);
      const fail = async (err: AppError, extra?: Record<string, unknown>): Promise<never> => {
        failed(serial, caller.sourceIp);
        return deny('est.reenroll', serial, caller, err, extra);
      };
      const leaf = ourLeaf(caller.clientChain);
      if (!leaf) return fail(unauth('est.client_cert_required', 're-enrollment needs the current femtoguard device certificate over mutual TLS'));
      const now = clock.now();
      if (leaf.notAfter < now || leaf.notBefore > now) return fail(unauth('est.client_cert_expired', 'the client certificate has expired; enroll again with a new enrollment token'));
      const rec = await certs.byFingerprint(leaf.fingerprint);
      if (!rec || rec.kind !== 'device' || !rec.deviceSerial) return fail(unauth('est.client_cert_unknown', 'the client certificate is not a femtoguard device certificate'));
      if (rec.status === 'revoked') return fail(unauth('est.client_cert_revoked', 'the client certificate is revoked'), { certificate: rec.serialHex });
      if (rec.deviceSerial !== serial) {
        return fail(denied('est.serial_mismatch', 'the CSR names a different serial than the client certificate'), { certificateSerial: rec.deviceSerial });
      }
      const device = await registry.get(serial);
      if (!device || device.status !== 'active') return fail(denied('est.device_not_active', `device ${serial} is ${device?.status ?? 'unknown'}; only active devices re-enroll`));
      try {
        const issued = await issuance.issue(csr, serial, { actor: `device:${serial}`, requireNewKey: true });
        await audit.record({ action: 'est.reenroll', actor: `device:${serial}`, subject: serial, outcome: 'success', details: { previous: rec.serialHex, certificate: issued.serialHex, sourceIp: caller.sourceIp } });
        return issued.der;
      } catch (e) {
        if (isAppError(e)) return fail(e);
        throw e;
      }
    },

    vendorRootDers: async (): Promise<Buffer[]> => (await roots()).map((r) => r.root.der),
  };
}

export type Est = ReturnType<typeof createEst>;
