import type { FastifyInstance } from 'fastify';
import { Readable } from 'node:stream';
import { z } from 'zod';
import { AppError } from '../core/errors.js';
import type { CertStore } from '../pki/index.js';
import { DEVICE_STATUSES, deviceCreateSchema, devicePatchSchema, type Registry } from '../registry/index.js';
import { actorOf, requirePermission } from './auth.js';
import { parseWith } from './parse.js';
import type { TokenService } from './tokens.js';

const listQuery = z.strictObject({
  status: z.enum(DEVICE_STATUSES).optional(),
  owner: z.string().max(200).optional(),
  serialPrefix: z.string().max(64).optional(),
  cellId: z.string().max(64).optional(),
  after: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(100),
});
const statusBody = z.strictObject({ status: z.enum(DEVICE_STATUSES), reason: z.string().trim().min(1, 'a reason is required').max(500) });
const serialParam = z.strictObject({ serial: z.string().min(1).max(64) });

/** `/v1/devices`: the fleet registry over REST. */
export function registerDeviceRoutes(app: FastifyInstance, deps: { registry: Registry; certs: CertStore; tokens: TokenService }): void {
  const { registry, certs, tokens } = deps;
  const read = { preHandler: requirePermission(tokens, 'devices:read') };
  const write = { preHandler: requirePermission(tokens, 'devices:write') };

  app.get('/v1/devices', read, async (req) => {
    const q = parseWith(listQuery, req.query, 'query');
    const { limit, after, ...filter } = q;
    const items = await registry.list({ ...filter, after, limit });
    const total = await registry.count(filter);
    const last = items[items.length - 1];
    return { items, total, next: items.length === limit && last ? last.serial : null };
  });

  app.post('/v1/devices', write, async (req, reply) => {
    const input = parseWith(deviceCreateSchema, req.body, 'body');
    const device = await registry.add(input, actorOf(req));
    return reply.code(201).header('location', `/v1/devices/${encodeURIComponent(device.serial)}`).send(device);
  });

  app.get('/v1/devices/:serial', read, async (req) => {
    const { serial } = parseWith(serialParam, req.params, 'path');
    const device = await registry.mustGet(serial);
    const [certificates, history] = await Promise.all([certs.list({ deviceSerial: serial, limit: 1000 }), registry.history(serial)]);
    return { ...device, certificates, history };
  });

  app.patch('/v1/devices/:serial', write, async (req) => {
    const { serial } = parseWith(serialParam, req.params, 'path');
    const patch = parseWith(devicePatchSchema, req.body, 'body');
    if (patch.status !== undefined) throw new AppError('invalid', 'device.status_via_patch', 'change status with POST /v1/devices/{serial}/status and a reason');
    const { status: _ignored, ...fields } = patch;
    return registry.update(serial, fields, actorOf(req));
  });

  app.post('/v1/devices/:serial/status', write, async (req) => {
    const { serial } = parseWith(serialParam, req.params, 'path');
    const body = parseWith(statusBody, req.body, 'body');
    return registry.setStatus(serial, body.status, actorOf(req), body.reason);
  });

  // Registry CSV import (FORMATS.md §2); bad rows come back with their line numbers.
  app.post('/v1/devices/import', write, async (req) => {
    const body = req.body;
    if (!Buffer.isBuffer(body)) throw new AppError('invalid', 'request.unsupported_media_type', 'send the registry CSV with Content-Type: text/csv');
    return registry.importCsv(Readable.from([body]), actorOf(req));
  });
}
