import { createHash } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { isAppError } from '../core/errors.js';
import type { UnlockedCa } from './ca.js';
import { CRL_REASONS } from './crl.js';
import {
  buildOcspResponse,
  issuerKeyHashes,
  ocspErrorResponse,
  parseOcspRequest,
  type OcspCertId,
  type OcspCertStatus,
  type OcspHash,
} from './ocsp.js';
import type { CertStore } from './store.js';

/** Port: the device status behind a certificate (the registry answers it). */
export type DeviceStatusLookup = (serial: string) => Promise<string | null>;

export interface OcspResponderSettings {
  nextUpdateSeconds: number;
  /** Sign a fresh response echoing the request's nonce (RFC 6960 §4.4.1); else serve the cached one (RFC 5019 §2.2.1). */
  echoNonce: boolean;
  /** Upper bound on cached responses (each a few hundred bytes). */
  maxCacheEntries?: number;
}

interface Entry {
  /** this entry's key in `cache` (the CertID's DER as latin1) */
  key: string;
  serialHex: string;
  certIdDer: Buffer;
  status: OcspCertStatus;
  response: Buffer;
  /** ms: re-sign once past this (half the nextUpdate interval) */
  refreshAt: number;
  /** Keys in `byRequest` that lead here: whole requests already answered from this entry. */
  requestKeys: string[];
}

/**
 * A CertID is usually asked for with the very same request bytes every time (RFC 5019
 * clients send one CertID and no nonce), so those bytes can lead straight to the cached
 * entry without parsing them again. A few encodings per entry (e.g. with and without the
 * optional version field) is plenty; more are answered through the parser.
 */
const MAX_REQUEST_KEYS_PER_ENTRY = 4;

const HASHES: readonly OcspHash[] = ['sha1', 'sha256', 'sha384', 'sha512'];
/** Statuses whose certificates may be `good`. Anything else answers `revoked`: fail closed. */
const LIVE = new Set(['provisioned', 'active']);

/**
 * RFC 6960 / RFC 5019 responder for femtoguard's issuing CA. Responses are signed by the
 * delegated responder key, cached per CertID until half their validity has passed, and
 * re-signed as soon as the certificate's status changes (in-process listener or the
 * change feed), so a revocation shows within the poll interval. A request whose exact bytes
 * were already answered from the cache is recognised by those bytes and skips the parser
 * (`cached`): the hot path of a fleet that re-checks the same certificates.
 */
export function createOcspResponder(deps: { ca: UnlockedCa; store: CertStore; deviceStatus: DeviceStatusLookup; clock: Clock }, s: OcspResponderSettings) {
  const { ca, store, deviceStatus, clock } = deps;
  const maxEntries = s.maxCacheEntries ?? 200_000;
  const intervalMs = s.nextUpdateSeconds * 1000;
  const responderKeyHash = createHash('sha1').update(ca.responder.publicKeyBits).digest();
  const ours = new Map<OcspHash, { name: Buffer; key: Buffer }>();
  for (const h of HASHES) {
    const { nameHash, keyHash } = issuerKeyHashes(ca.issuing.subjectDer, ca.issuing.publicKeyBits, h);
    ours.set(h, { name: nameHash, key: keyHash });
  }
  const cache = new Map<string, Entry>();
  const bySerial = new Map<string, Set<string>>();
  /** whole request DER (latin1) -> the entry that answered it; only single-CertID requests without a nonce */
  const byRequest = new Map<string, Entry>();
  const stats = { requests: 0, cacheHits: 0, signed: 0, malformed: 0, errors: 0 };
  /** The pre-signed answers of cache entries: successful, one CertID, no nonce (see `cacheable`). */
  const preSigned = new WeakSet<Buffer>();

  const isOurs = (id: OcspCertId): boolean => {
    if (id.hash === 'unsupported') return false;
    const o = ours.get(id.hash);
    return !!o && o.name.equals(id.issuerNameHash) && o.key.equals(id.issuerKeyHash);
  };

  async function statusOf(serialHex: string): Promise<OcspCertStatus> {
    const cert = await store.get(serialHex);
    if (!cert) return { status: 'unknown' };
    if (cert.status === 'revoked') {
      // A row stored with removeFromCRL before revocation refused it is still revoked; that
      // code is no revocation reason (RFC 5280 §5.3.1), so the answer leaves it out, as the CRL does.
      const reason = cert.reason === null || cert.reason === CRL_REASONS.removeFromCRL ? 0 : cert.reason;
      return { status: 'revoked', revokedAt: new Date(cert.revokedAt ?? cert.issuedAt), reason };
    }
    if (cert.kind === 'device' && cert.deviceSerial !== null) {
      const st = await deviceStatus(cert.deviceSerial);
      if (st === null || !LIVE.has(st)) {
        // The registry says the device may not be live even though revocation has not run yet.
        const reason = st === 'suspended' ? CRL_REASONS.certificateHold : st === 'lost' ? CRL_REASONS.keyCompromise : CRL_REASONS.cessationOfOperation;
        return { status: 'revoked', revokedAt: clock.now(), reason };
      }
    }
    return { status: 'good' };
  }

  function sign(certIdDer: Buffer, status: OcspCertStatus, now: Date, nonce?: Buffer): Promise<Buffer> {
    stats.signed++;
    const thisUpdate = new Date(Math.floor(now.getTime() / 1000) * 1000);
    return buildOcspResponse({
      signer: ca.responderSigner,
      responderCertDer: ca.responder.der,
      responderKeyHash,
      producedAt: thisUpdate,
      responses: [{ certIdDer, status, thisUpdate, nextUpdate: new Date(thisUpdate.getTime() + intervalMs) }],
      ...(nonce ? { nonce } : {}),
    });
  }

  function dropRequestKeys(e: Entry): void {
    for (const k of e.requestKeys) if (byRequest.get(k) === e) byRequest.delete(k);
    e.requestKeys.length = 0;
  }
  function remember(key: string, e: Entry): void {
    const old = cache.get(key);
    if (old) dropRequestKeys(old);
    else if (cache.size >= maxEntries) {
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) forget(oldest);
    }
    cache.set(key, e);
    let set = bySerial.get(e.serialHex);
    if (!set) bySerial.set(e.serialHex, (set = new Set()));
    set.add(key);
  }
  function forget(key: string): void {
    const e = cache.get(key);
    if (!e) return;
    cache.delete(key);
    dropRequestKeys(e);
    const set = bySerial.get(e.serialHex);
    set?.delete(key);
    if (set && set.size === 0) bySerial.delete(e.serialHex);
  }

  async function fresh(key: string, serialHex: string, certIdDer: Buffer, now: Date): Promise<Entry> {
    const status = await statusOf(serialHex);
    const e: Entry = { key, serialHex, certIdDer: Buffer.from(certIdDer), status, response: await sign(certIdDer, status, now), refreshAt: now.getTime() + intervalMs / 2, requestKeys: [] };
    preSigned.add(e.response);
    remember(key, e);
    return e;
  }

  /**
   * The cached response for exactly these request bytes, when an earlier identical request
   * was answered from a cache entry that is still current; else undefined. Same answer as
   * the parser path: identical bytes parse identically, and the entry is checked the same way.
   */
  function cachedFor(der: Buffer): Buffer | undefined {
    if (byRequest.size === 0) return undefined;
    const e = byRequest.get(der.toString('latin1'));
    if (e === undefined || cache.get(e.key) !== e || e.refreshAt <= clock.now().getTime()) return undefined;
    stats.requests++;
    stats.cacheHits++;
    return e.response;
  }

  async function answerOne(id: OcspCertId, nonce: Buffer | undefined, requestDer: Buffer): Promise<Buffer> {
    const now = clock.now();
    if (!isOurs(id)) return sign(id.der, { status: 'unknown' }, now, nonce);
    const key = id.der.toString('latin1');
    let e = cache.get(key);
    if (e && e.refreshAt > now.getTime()) stats.cacheHits++;
    else e = await fresh(key, id.serialNumber.toString('hex'), id.der, now);
    if (nonce && s.echoNonce) return sign(id.der, e.status, now, nonce);
    // Remember these request bytes for cachedFor, unless the entry was replaced meanwhile.
    if (!nonce && cache.get(key) === e && e.requestKeys.length < MAX_REQUEST_KEYS_PER_ENTRY) {
      const rk = requestDer.toString('latin1');
      if (!byRequest.has(rk)) {
        byRequest.set(rk, e);
        e.requestKeys.push(rk);
      }
    }
    return e.response;
  }

  return {
    stats,
    /**
     * Synchronous fast path for the HTTP layer: the pre-signed response when these exact
     * request bytes were answered from the cache before and that entry is still current;
     * undefined otherwise (then call {@link respond}). Counts as a request and a cache hit.
     */
    cached: cachedFor,
    /**
     * Whether an answer this responder gave may be kept by HTTP caches (RFC 5019 §6): only a
     * pre-signed cache-entry answer, which is successful and carries no nonce. Error answers
     * (malformedRequest, internalError, tryLater) are transient, and a nonce echo belongs to
     * one client's request; a cache serving either to others would be wrong.
     */
    cacheable: (response: Buffer): boolean => preSigned.has(response),
    /** Answers one DER OCSPRequest. Never throws: errors become OCSP error responses. */
    async respond(der: Buffer): Promise<Buffer> {
      const hit = cachedFor(der);
      if (hit) return hit;
      stats.requests++;
      let req;
      try {
        req = parseOcspRequest(der);
      } catch {
        stats.malformed++;
        return ocspErrorResponse('malformedRequest');
      }
      try {
        const first = req.certIds[0];
        if (req.certIds.length === 1 && first) return await answerOne(first, req.nonce, der);
        // Several CertIDs in one request: answered together, signed fresh (rare; RFC 5019 clients send one).
        const now = clock.now();
        const responses = [];
        for (const id of req.certIds) {
          const status = isOurs(id) ? await statusOf(id.serialNumber.toString('hex')) : ({ status: 'unknown' } as const);
          const thisUpdate = new Date(Math.floor(now.getTime() / 1000) * 1000);
          responses.push({ certIdDer: id.der, status, thisUpdate, nextUpdate: new Date(thisUpdate.getTime() + intervalMs) });
        }
        stats.signed++;
        return await buildOcspResponse({
          signer: ca.responderSigner,
          responderCertDer: ca.responder.der,
          responderKeyHash,
          producedAt: new Date(Math.floor(now.getTime() / 1000) * 1000),
          responses,
          ...(req.nonce && s.echoNonce ? { nonce: req.nonce } : {}),
        });
      } catch (e) {
        stats.errors++;
        return ocspErrorResponse(isAppError(e) && e.kind === 'invalid' ? 'malformedRequest' : 'internalError');
      }
    },
    /** Status changed: drop and re-sign the cached responses of these certificates now. */
    async invalidate(serialHexes: readonly string[]): Promise<void> {
      const now = clock.now();
      const work: Promise<Entry>[] = [];
      for (const serialHex of serialHexes) {
        const keys = bySerial.get(serialHex);
        if (!keys) continue;
        for (const key of [...keys]) {
          const e = cache.get(key);
          forget(key);
          if (e) work.push(fresh(key, serialHex, e.certIdDer, now));
        }
      }
      await Promise.all(work);
    },
    cacheSize: (): number => cache.size,
  };
}

export type OcspResponder = ReturnType<typeof createOcspResponder>;
