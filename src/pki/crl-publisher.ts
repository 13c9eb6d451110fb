import type { Clock } from '../core/clock.js';
import type { UnlockedCa } from './ca.js';
import { buildCrl, CRL_REASONS } from './crl.js';
import { keyIdentifier } from './profiles.js';
import type { CertStore } from './store.js';

/**
 * The reasonCode of a stored revocation. removeFromCRL (8) is refused by revocation now, but a
 * row stored with it earlier is still a revocation: RFC 5280 §5.3.1 allows that code only in
 * delta CRLs, and a verifier reading it in a full CRL (OpenSSL does) takes the certificate off
 * the list. Such an entry goes out without a reason (unspecified), so it stays revoked.
 */
function crlEntryReason(reason: number | null): { reason?: number } {
  if (reason === null || reason === CRL_REASONS.removeFromCRL) return {};
  return { reason };
}

/**
 * Keeps the current CRL (RFC 5280 §5) of the issuing CA: regenerated on every revocation
 * (marked dirty by the change listener or feed) and before half its validity has passed.
 */
export function createCrlPublisher(deps: { ca: UnlockedCa; store: CertStore; clock: Clock }, s: { nextUpdateHours: number }) {
  const { ca, store, clock } = deps;
  const aki = ca.issuing.extensions.subjectKeyIdentifier ?? keyIdentifier(ca.issuing.spki);
  let current: { der: Buffer; thisUpdate: number; crlNumber: bigint } | null = null;
  // Changes are counted rather than flagged: `built` only moves forward when a build that saw
  // them succeeded, so a failed build (database busy, signer error) leaves them pending and the
  // next request retries instead of serving a CRL that lacks a revocation.
  let changes = 0;
  let built = -1;
  let building: Promise<Buffer> | null = null;
  const validityMs = s.nextUpdateHours * 3_600_000;
  const pending = (): boolean => built !== changes;

  async function build(): Promise<Buffer> {
    const seen = changes;
    const now = clock.now();
    const thisUpdate = new Date(Math.floor(now.getTime() / 1000) * 1000);
    const revoked = await store.revokedUnexpired(now.toISOString());
    const crlNumber = await store.nextCrlNumber();
    const der = await buildCrl({
      signer: ca.issuingSigner,
      issuerSubjectDer: ca.issuing.subjectDer,
      authorityKeyId: aki,
      thisUpdate,
      nextUpdate: new Date(thisUpdate.getTime() + validityMs),
      crlNumber,
      revoked: revoked.map((r) => ({ serialNumber: Buffer.from(r.serialHex.length % 2 ? `0${r.serialHex}` : r.serialHex, 'hex'), revokedAt: new Date(r.revokedAt), ...crlEntryReason(r.reason) })),
    });
    current = { der, thisUpdate: thisUpdate.getTime(), crlNumber };
    built = seen;
    return der;
  }

  return {
    /**
     * The current DER CRL, rebuilt first if something changed or it is half-way to nextUpdate.
     * Rejects when a rebuild that carries a change fails; a failed refresh with nothing changed
     * still serves the last CRL while it is before its nextUpdate (it is still correct then).
     */
    async current(): Promise<Buffer> {
      const aged = !current || clock.now().getTime() > current.thisUpdate + validityMs / 2;
      if (!aged && !pending() && current) return current.der;
      if (!building) building = build().finally(() => (building = null));
      let der: Buffer;
      try {
        der = await building;
      } catch (e) {
        if (!pending() && current && clock.now().getTime() < current.thisUpdate + validityMs) return current.der;
        throw e;
      }
      // A change that arrived while building needs one more pass.
      return pending() ? this.current() : der;
    },
    markDirty(): void {
      changes++;
    },
    info: (): { crlNumber: string | null; thisUpdate: string | null } => ({
      crlNumber: current ? current.crlNumber.toString() : null,
      thisUpdate: current ? new Date(current.thisUpdate).toISOString() : null,
    }),
  };
}

export type CrlPublisher = ReturnType<typeof createCrlPublisher>;
