import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TLSSocket } from 'node:tls';
import { AppError, HTTP_STATUS, isAppError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { certsOnlyPkcs7 } from '../pki/index.js';
import type { Est, EstCaller } from './service.js';

const PKCS7 = 'application/pkcs7-mime';
const PKCS7_CERTS_ONLY = 'application/pkcs7-mime; smime-type=certs-only';
const BASE64_ALPHABET = /^[A-Za-z0-9+/=\s]*$/;

/**
 * RFC 7030 §4.2.1: the body is a base64 PKCS#10. Accept the same with CRLFs, PEM, or raw
 * DER, and say precisely what is wrong otherwise.
 */
export function decodeEstBody(body: unknown): Buffer {
  if (!Buffer.isBuffer(body) || body.length === 0) throw new AppError('invalid', 'est.empty_body', 'the request body must be a base64-encoded PKCS#10 CSR');
  const text = body.toString('latin1');
  const pem = /-----BEGIN (?:NEW )?CERTIFICATE REQUEST-----([\s\S]*?)-----END (?:NEW )?CERTIFICATE REQUEST-----/.exec(text);
  const b64 = pem ? (pem[1] ?? '') : text;
  if (BASE64_ALPHABET.test(b64)) {
    const compact = b64.replace(/\s+/g, '');
    if (compact.length % 4 !== 0 || /=[^=]/.test(compact)) throw new AppError('invalid', 'est.bad_base64', `the request body is not valid base64 (length ${compact.length} is not a multiple of 4 or padding is misplaced)`);
    return Buffer.from(compact, 'base64');
  }
  if (body[0] === 0x30) return body;
  throw new AppError('invalid', 'est.bad_base64', 'the request body is neither base64 nor DER');
}

/** One line of base64, no CRLF wrapping: strongSwan's EST client needs exactly that. */
function sendBase64(reply: FastifyReply, contentType: string, der: Buffer): FastifyReply {
  return reply.header('content-type', contentType).header('content-transfer-encoding', 'base64').send(der.toString('base64'));
}

function peerChain(req: FastifyRequest): Buffer[] | undefined {
  const sock = req.raw.socket as TLSSocket;
  if (typeof sock.getPeerCertificate !== 'function') return undefined;
  const leaf = sock.getPeerCertificate(true);
  if (!leaf || !leaf.raw) return undefined;
  const chain: Buffer[] = [leaf.raw];
  let cur = leaf;
  // Walk the chain the client sent (Node links issuerCertificate; self-signed points to itself).
  for (let i = 0; i < 4 && cur.issuerCertificate && cur.issuerCertificate !== cur && cur.issuerCertificate.raw && !cur.issuerCertificate.raw.equals(cur.raw); i++) {
    cur = cur.issuerCertificate;
    chain.push(cur.raw);
  }
  return chain;
}

function basicAuth(req: FastifyRequest): EstCaller['basic'] {
  const h = req.headers.authorization;
  if (!h || !/^Basic\s+/i.test(h)) return undefined;
  const decoded = Buffer.from(h.replace(/^Basic\s+/i, ''), 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) throw new AppError('unauthenticated', 'est.bad_basic_auth', 'malformed HTTP Basic credentials');
  return { user: decoded.slice(0, i), password: decoded.slice(i + 1) };
}

/**
 * Registers `/.well-known/est/*` on the TLS listener. Errors are `text/plain` as RFC 7030
 * §4.2.3 allows; 401 carries a Basic challenge; 429 a Retry-After.
 */
export function registerEstRoutes(app: FastifyInstance, est: Est, log: Logger, maxBodyBytes: number): void {
  app.register(
    (scope, _opts, done) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxBodyBytes }, (_req, body, next) => next(null, body));
      scope.setErrorHandler((err: unknown, _req, reply) => {
        if (isAppError(err)) {
          // An ended issuing CA is the operator's to fix, not the device's: the device reads
          // `503 ca.expired: ... ended at <date>` (a server-side error; no Retry-After, since
          // waiting does not help), the operator reads this line.
          if (err.code === 'ca.expired') log.error({ code: err.code, caNotAfter: err.details?.caNotAfter }, 'EST request refused: the issuing CA has ended');
          if (err.kind === 'unauthenticated') reply.header('www-authenticate', 'Basic realm="femtoguard EST", charset="UTF-8"');
          const retry = err.details?.retryAfterSeconds;
          if (typeof retry === 'number') reply.header('retry-after', String(retry));
          return reply.code(HTTP_STATUS[err.kind]).type('text/plain; charset=utf-8').send(`${err.code}: ${err.message}\n`);
        }
        const e = err as { statusCode?: number; code?: string; message?: string };
        if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
          const msg = e.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? `request body larger than ${maxBodyBytes} bytes` : (e.message ?? 'bad request');
          return reply.code(e.statusCode).type('text/plain; charset=utf-8').send(`est.bad_request: ${msg}\n`);
        }
        log.error({ err: { message: e.message, code: e.code } }, 'EST request failed');
        return reply.code(500).type('text/plain; charset=utf-8').send('internal error\n');
      });

      const caller = (req: FastifyRequest): EstCaller => ({ sourceIp: req.socket.remoteAddress ?? 'unknown', basic: basicAuth(req), clientChain: peerChain(req) });

      // RFC 7030 §4.1: public by design.
      scope.get('/cacerts', (_req, reply) => sendBase64(reply, PKCS7, est.cacerts()));
      scope.get('/csrattrs', (_req, reply) => sendBase64(reply, 'application/csrattrs', est.csrattrs()));
      scope.post('/simpleenroll', async (req, reply) => sendBase64(reply, PKCS7_CERTS_ONLY, certsOnlyPkcs7([await est.simpleenroll(decodeEstBody(req.body), caller(req))])));
      scope.post('/simplereenroll', async (req, reply) => sendBase64(reply, PKCS7_CERTS_ONLY, certsOnlyPkcs7([await est.simplereenroll(decodeEstBody(req.body), caller(req))])));
      done();
    },
    { prefix: '/.well-known/est' },
  );
}
