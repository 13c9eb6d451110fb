import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AppError } from '../core/errors.js';
import { normalizeSerialHex, parseCrlReason, toPem, type CertStore, type Revocation } from '../pki/index.js';
import type { Registry } from '../registry/index.js';
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
export function registerCertRoutes(app: FastifyInstance, deps: { certs: CertStore; revocation: Revocation; tokens: TokenService; registry: Pick<Registry, 'mustGet'> }): void {
  const { certs, revocation, tokens, registry } = deps;
  const read = { preHandler: requirePermission(tokens, 'certs:read') };
  const revoke = { preHandler: requirePermission(tokens, 'certs:revoke') };
  const normal = (hex: string): string => normalizeSerialHex(hex) ?? hex;
  /** The body's reason as a code; the revocation core refuses removeFromCRL (8) and unassigned codes. */
  const reasonOf = (name: string): number => {
    const code = parseCrlReason(name);
    revocation.checkReason(code);
    return code;
  };

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
    await revocation.revokeCertificate(normal(serialHex), reasonOf(reason), actorOf(req));
    return certs.get(normal(serialHex));
  });

  app.post('/v1/certificates/revoke-device', revoke, async (req) => {
    const { deviceSerial, reason } = parseWith(deviceRevokeBody, req.body, 'body');
    const code = reasonOf(reason);
    // An unknown device is a 404, not an empty success (nor a success audit event).
    await registry.mustGet(deviceSerial);
    const revoked = await revocation.revokeDevice(deviceSerial, code, actorOf(req));
    return { deviceSerial, revoked };
  });
}
