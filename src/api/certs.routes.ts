import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AppError } from '../core/errors.js';
import { CRL_REASONS, normalizeSerialHex, parseCrlReason, toPem, type CertStore, type Revocation } from '../pki/index.js';
import { actorOf, requirePermission } from './auth.js';
import { parseWith } from './parse.js';
import type { TokenService } from './tokens.js';

const listQuery = z.strictObject({
  deviceSerial: z.string().max(64).optional(),
  status: z.enum(['valid', 'revoked']).optional(),
  after: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(100),
});
const serialParam = z.strictObject({ serialHex: z.string().regex(/^[0-9a-fA-F]{1,40}$/, 'a certificate serial in hex') });
const revokeBody = z.strictObject({ reason: z.string().default('unspecified') });
const deviceRevokeBody = z.strictObject({ deviceSerial: z.string().min(1).max(64), reason: z.string().default('unspecified') });

/** `/v1/certificates`: issued certificates and revocation. */
export function registerCertRoutes(app: FastifyInstance, deps: { certs: CertStore; revocation: Revocation; tokens: TokenService }): void {
  const { certs, revocation, tokens } = deps;
  const read = { preHandler: requirePermission(tokens, 'certs:read') };
  const revoke = { preHandler: requirePermission(tokens, 'certs:revoke') };
  const normal = (hex: string): string => normalizeSerialHex(hex) ?? hex;

  app.get('/v1/certificates', read, async (req) => {
    const { limit, ...f } = parseWith(listQuery, req.query, 'query');
    const items = await certs.list({ ...f, limit });
    const last = items[items.length - 1];
    return { items, next: items.length === limit && last ? last.serialHex : null };
  });

  app.get('/v1/certificates/:serialHex', read, async (req) => {
    const { serialHex } = parseWith(serialParam, req.params, 'path');
    const rec = await certs.get(normal(serialHex));
    const der = rec ? await certs.getDer(rec.serialHex) : null;
    if (!rec || !der) throw new AppError('not_found', 'cert.not_found', `no certificate with serial ${serialHex}`);
    return { ...rec, pem: toPem('CERTIFICATE', der) };
  });

  app.post('/v1/certificates/:serialHex/revoke', revoke, async (req) => {
    const { serialHex } = parseWith(serialParam, req.params, 'path');
    const { reason } = parseWith(revokeBody, req.body ?? {}, 'body');
    const code = parseCrlReason(reason);
    if (code === CRL_REASONS.removeFromCRL) throw new AppError('invalid', 'crl.bad_reason', 'removeFromCRL is not a revocation reason');
    await revocation.revokeCertificate(normal(serialHex), code, actorOf(req));
    return certs.get(normal(serialHex));
  });

  app.post('/v1/certificates/revoke-device', revoke, async (req) => {
    const { deviceSerial, reason } = parseWith(deviceRevokeBody, req.body, 'body');
    const revoked = await revocation.revokeDevice(deviceSerial, parseCrlReason(reason), actorOf(req));
    return { deviceSerial, revoked };
  });
}
