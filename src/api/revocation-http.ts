import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeOcspGetPath, ocspErrorResponse, OCSP_CONTENT_TYPES, toPem, type CrlPublisher, type OcspResponder, type UnlockedCa } from '../pki/index.js';

/** RFC 6960 Appendix A.1 POST bodies are small; anything bigger is not an OCSP request. */
const MAX_OCSP_REQUEST = 8 * 1024;

export interface RevocationEndpoints {
  ocsp: OcspResponder;
  crl: CrlPublisher;
  ca: UnlockedCa;
}

function send(res: ServerResponse, status: number, type: string, body: Buffer | string, extra?: Record<string, string>): void {
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, { 'content-type': type, 'content-length': buf.length, ...extra });
  res.end(buf);
}

/**
 * Cache-Control of OCSP answers (RFC 5019 §6.2: max-age must not reach past nextUpdate), the
 * same on both listeners. A cached response is re-signed once half its validity has passed,
 * so every response served has at least half the interval left: half the interval is a
 * max-age that never outlives the response, whether it was signed now or minutes ago.
 */
export function ocspCacheControl(nextUpdateSeconds: number): string {
  return `max-age=${Math.floor(nextUpdateSeconds / 2)}, public, no-transform, must-revalidate`;
}

/**
 * One OCSP answer. `cacheSeconds` is given only for an answer HTTP caches may keep (RFC 5019
 * §6: a successful response without a nonce, to a GET); every other answer says no-store, so
 * a cache in front of the responder never replays an error or another client's nonce.
 */
function ocspReply(res: ServerResponse, der: Buffer, cacheSeconds: number | null): void {
  send(res, 200, OCSP_CONTENT_TYPES.response, der, { 'cache-control': cacheSeconds ? ocspCacheControl(cacheSeconds) : 'no-store' });
}

/**
 * The public revocation endpoints, served straight from node:http without the router:
 * OCSP is the hottest path femtoguard has (every IKE authentication of every femtocell),
 * and its answers are pre-signed buffers. Returns false when the path is not one of them.
 */
export function handleRevocationRequest(req: IncomingMessage, res: ServerResponse, endpoints: () => RevocationEndpoints | null, nextUpdateSeconds: number): boolean {
  const url = req.url ?? '/';
  const isOcsp = url === '/ocsp' || url.startsWith('/ocsp/');
  if (!isOcsp && !url.startsWith('/crl') && !url.startsWith('/ca/')) return false;
  const ep = endpoints();
  if (isOcsp) {
    if (!ep) {
      ocspReply(res, ocspErrorResponse('tryLater'), null);
      return true;
    }
    if (req.method === 'POST' && (url === '/ocsp' || url === '/ocsp/')) {
      // Refuse an announced oversize body before reading any of it.
      const announced = Number(req.headers['content-length'] ?? 0);
      if (announced > MAX_OCSP_REQUEST) {
        send(res, 413, 'text/plain', `OCSP request larger than ${MAX_OCSP_REQUEST} bytes\n`, { connection: 'close' });
        req.resume();
        return true;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let tooBig = false;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_OCSP_REQUEST) tooBig = true;
        else chunks.push(c);
      });
      req.on('end', () => {
        if (tooBig) return send(res, 413, 'text/plain', `OCSP request larger than ${MAX_OCSP_REQUEST} bytes\n`);
        const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
        // A repeat of a request already answered from the cache: no parsing, no promise.
        const hit = ep.ocsp.cached(body);
        if (hit) return ocspReply(res, hit, null);
        ep.ocsp.respond(body).then(
          (der) => ocspReply(res, der, null),
          () => ocspReply(res, ocspErrorResponse('internalError'), null),
        );
      });
      req.on('error', () => res.destroy());
      return true;
    }
    if (req.method === 'GET' && url.startsWith('/ocsp/')) {
      let der: Buffer;
      try {
        der = decodeOcspGetPath(url.slice('/ocsp/'.length));
      } catch {
        ocspReply(res, ocspErrorResponse('malformedRequest'), null);
        return true;
      }
      const hit = ep.ocsp.cached(der);
      if (hit) {
        ocspReply(res, hit, nextUpdateSeconds);
        return true;
      }
      ep.ocsp.respond(der).then(
        (out) => ocspReply(res, out, ep.ocsp.cacheable(out) ? nextUpdateSeconds : null),
        () => ocspReply(res, ocspErrorResponse('internalError'), null),
      );
      return true;
    }
    send(res, 405, 'text/plain', 'OCSP: use POST /ocsp or GET /ocsp/{base64 request}\n', { allow: 'GET, POST' });
    return true;
  }
  const path = url.split('?')[0];
  if (path === '/crl' || path === '/crl.pem') {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'text/plain', 'method not allowed\n', { allow: 'GET, HEAD' });
      return true;
    }
    if (!ep) {
      send(res, 503, 'text/plain', 'CA not available\n');
      return true;
    }
    const pem = path === '/crl.pem' || /[?&]format=pem\b/.test(url);
    ep.crl.current().then(
      (der) => (pem ? send(res, 200, 'application/x-pem-file', toPem('X509 CRL', der)) : send(res, 200, 'application/pkix-crl', der)),
      () => send(res, 503, 'text/plain', 'CRL temporarily unavailable\n'),
    );
    return true;
  }
  if (path === '/ca/issuing.crt' || path === '/ca/root.crt' || path === '/ca/chain.pem') {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'text/plain', 'method not allowed\n', { allow: 'GET, HEAD' });
      return true;
    }
    if (!ep) {
      send(res, 503, 'text/plain', 'CA not available\n');
      return true;
    }
    if (path === '/ca/chain.pem') send(res, 200, 'application/x-pem-file', ep.ca.chainPem);
    else send(res, 200, 'application/pkix-cert', path === '/ca/root.crt' ? ep.ca.root.der : ep.ca.issuing.der);
    return true;
  }
  return false;
}
