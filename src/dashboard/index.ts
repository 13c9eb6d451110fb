/**
 * The operator console: a static page, its script and stylesheet, served at `/dashboard`.
 * It holds no data and no secret: the page asks the operator for an API token (kept in the
 * tab's sessionStorage only) and reads everything through the REST API with it (`/v1/me`,
 * `/v1/devices`, `/v1/alerts`, the `/v1/alerts/stream` live stream, `/v1/payment-holds`),
 * so the token's role decides what it shows and allows, and every action is the API's,
 * audited as such.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** The assets: plain browser files, beside the sources (the compiled server reads the same ones). */
const PUBLIC = new URL('../../src/dashboard/public/', import.meta.url);

const ASSETS = [
  { path: '/dashboard', file: 'index.html', type: 'text/html; charset=utf-8' },
  { path: '/dashboard/app.js', file: 'app.js', type: 'text/javascript; charset=utf-8' },
  { path: '/dashboard/app.css', file: 'app.css', type: 'text/css; charset=utf-8' },
] as const;

/**
 * Nothing but the page's own files and the API on this origin: no inline script or style,
 * no framing, no form posts elsewhere. Data from the API is put in the page as text only.
 */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function send(reply: FastifyReply, type: string, body: Buffer): FastifyReply {
  return reply
    .header('content-type', type)
    .header('content-security-policy', CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('cache-control', 'no-cache')
    .send(body);
}

/** Registers the console's routes (read once at start: a missing asset stops the server, not a request). */
export function registerDashboard(app: FastifyInstance): void {
  for (const a of ASSETS) {
    const body = readFileSync(new URL(a.file, PUBLIC));
    app.get(a.path, async (_req, reply) => send(reply, a.type, body));
  }
  app.get('/dashboard/', async (_req, reply) => reply.redirect('/dashboard', 301));
}
