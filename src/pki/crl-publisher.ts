import type { Clock } from '../core/clock.js';
import type { UnlockedCa } from './ca.js';
import { buildCrl } from './crl.js';
import { keyIdentifier } from './profiles.js';
import type { CertStore } from './store.js';

/**
 * Keeps the current CRL (RFC 5280 §5) of the issuing CA: regenerated on every revocation
 * (marked dirty by the change listener or feed) and before half its validity has passed.
 */
export function createCrlPublisher(deps: { ca: UnlockedCa; store: CertStore; clock: Clock }, s: { nextUpdateHours: number }) {
  const { ca, store, clock } = deps;
  const aki = ca.issuing.extensions.subjectKeyIdentifier ?? keyIdentifier(ca.issuing.spki);
  let current: { der: Buffer; thisUpdate: number; crlNumber: bigint } | null = null;
  let dirty = true;
  let building: Promise<Buffer> | null = null;
  const validityMs = s.nextUpdateHours * 3_600_000;

  async function build(): Promise<Buffer> {
    dirty = false;
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
      revoked: revoked.map((r) => ({ serialNumber: Buffer.from(r.serialHex.length % 2 ? `0${r.serialHex}` : r.serialHex, 'hex'), revokedAt: new Date(r.revokedAt), ...(r.reason !== null ? { reason: r.reason } : {}) })),
    });
    current = { der, thisUpdate: thisUpdate.getTime(), crlNumber };
    return der;
  }

  return {
    /** The current DER CRL, rebuilt first if something changed or it is half-way to nextUpdate. */
    async current(): Promise<Buffer> {
      const stale = !current || dirty || clock.now().getTime() > current.thisUpdate + validityMs / 2;
      if (!stale && current) return current.der;
      if (!building) building = build().finally(() => (building = null));
      const der = await building;
      // A change that arrived while building needs one more pass.
      return dirty ? this.current() : der;
    },
    markDirty(): void {
      dirty = true;
    },
    info: (): { crlNumber: string | null; thisUpdate: string | null } => ({
      crlNumber: current ? current.crlNumber.toString() : null,
      thisUpdate: current ? new Date(current.thisUpdate).toISOString() : null,
    }),
  };
}

export type CrlPublisher = ReturnType<typeof createCrlPublisher>;
