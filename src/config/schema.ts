import { z } from 'zod';
import { admissionConfigSchema } from '../admission/config.js';
import { detectionConfigSchema, SEVERITIES } from '../detection/config.js';

/** `HOST:PORT` (IPv6 hosts in brackets). */
export const listenSchema = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected HOST:PORT, e.g. 127.0.0.1:8080')
  .transform((s, ctx) => {
    const i = s.lastIndexOf(':');
    const host = s.slice(0, i).replace(/^\[|\]$/g, '');
    const port = Number(s.slice(i + 1));
    if (port > 65535) {
      ctx.addIssue({ code: 'custom', message: `port ${port} is out of range` });
      return z.NEVER;
    }
    return { host, port };
  });

export const configSchema = z
  .object({
    dataDir: z.string().min(1).default('./femtoguard-data'),
    http: listenSchema.prefault('127.0.0.1:8080'),
    https: listenSchema.prefault('127.0.0.1:8443'),
    /**
     * A dedicated listener for OCSP, CRL and CA certificates only (HOST:PORT), on a lean
     * HTTP/1.1 server below node:http (docs/pki.md). Off by default: the same endpoints are
     * always served on `http` too. When set and no publicUrl is given, new certificates point
     * their OCSP, CRL and caIssuers URLs here.
     */
    revocation: listenSchema.optional(),
    /** Base URL written into certificates (OCSP, CRL, caIssuers). Defaults to http://<http listen>. */
    publicUrl: z.url().optional(),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    ca: z
      .object({
        keyAlgorithm: z.enum(['P-256', 'P-384', 'RSA-3072']).default('P-256'),
        name: z.string().min(1).max(64).default('femtoguard'),
        rootValidityDays: z.number().int().min(365).max(365 * 30).default(365 * 20),
        issuingValidityDays: z.number().int().min(90).max(365 * 10).default(365 * 5),
        responderValidityDays: z.number().int().min(1).max(365).default(90),
        /** Device certificate lifetime. Short by design: a lost unit's credential dies with it. */
        deviceValidityDays: z.number().int().min(1).max(365, 'device certificates above one year are refused').default(30),
      })
      .strict()
      .prefault({}),
    /** Background upkeep of the PKI while the server runs (docs/operations.md). */
    pki: z
      .object({
        /**
         * How often certificates still valid of suspended, lost or decommissioned devices are
         * held or revoked (a status change whose revocation step failed). Also run at start.
         */
        reconcileIntervalMs: z.number().int().min(1_000).max(86_400_000).default(600_000),
        /**
         * How often the OCSP responder and TLS server certificates are checked and, in the
         * last third of their life, replaced without a restart.
         */
        renewalCheckIntervalMs: z.number().int().min(1_000).max(86_400_000).default(86_400_000),
      })
      .strict()
      .prefault({}),
    ocsp: z
      .object({
        /** nextUpdate of OCSP responses: security gateways cache a response until then. */
        nextUpdateSeconds: z.number().int().min(10).max(7 * 86400).default(300),
      })
      .strict()
      .prefault({}),
    crl: z
      .object({
        nextUpdateHours: z.number().int().min(1).max(24 * 7).default(24),
      })
      .strict()
      .prefault({}),
    est: z
      .object({
        /** Failed token attempts allowed per serial and per client address in a window. */
        maxFailedAttempts: z.number().int().min(1).max(1000).default(5),
        attemptWindowSeconds: z.number().int().min(1).max(86400).default(900),
        maxBodyBytes: z.number().int().min(1024).max(1024 * 1024).default(16 * 1024),
      })
      .strict()
      .prefault({}),
    api: z
      .object({
        /** bulk routes: POST /v1/events, the registry CSV import */
        maxBodyBytes: z.number().int().min(1024).max(1024 * 1024 * 1024).default(64 * 1024 * 1024),
        /** every other route (JSON requests) */
        maxJsonBodyBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
      })
      .strict()
      .prefault({}),
    /** Detection thresholds and responses (docs/detection.md). */
    detection: detectionConfigSchema,
    /** Where alerts go besides the store and the live stream. */
    alerts: z
      .object({
        /** append new alerts (NDJSON, FORMATS.md §3) to this file */
        file: z.string().min(1).optional(),
        /** signed webhooks (HMAC-SHA256); the secret may come from FEMTOGUARD_WEBHOOK_SECRET */
        webhooks: z
          .array(z.object({ url: z.url(), secret: z.string().min(16).optional(), minSeverity: z.enum(SEVERITIES).default('high') }).strict())
          .default([]),
        webhookMaxAttempts: z.number().int().min(1).max(20).default(6),
        webhookBackoffMs: z.number().int().min(10).max(60_000).default(1000),
        /** full IMSI/MSISDN in webhooks and the alerts file (default: masked) */
        includeIdentifiers: z.boolean().default(false),
        /** the live alert stream sends a keep-alive this often and checks its token again then (a revoked token's stream is closed) */
        streamPingMs: z.number().int().min(100).max(300_000).default(15_000),
      })
      .strict()
      .prefault({}),
    /**
     * Live detection. maxOutOfOrderMs is FORMATS.md's 10 minutes by default: input out of order
     * by up to that gives the alerts of sorted input, as `femtoguard detect` does. A shorter
     * horizon gives alerts sooner under a steady stream and gives up that guarantee.
     */
    live: z
      .object({
        maxOutOfOrderMs: z.number().int().min(0).max(600_000).default(600_000),
        quietFlushMs: z.number().int().min(50).max(60_000).default(1_000),
        registryPollMs: z.number().int().min(100).max(60_000).default(2_000),
        /** events dated further ahead of the server clock are refused at ingestion and not given to live detection */
        maxFutureMs: z.number().int().min(1_000).max(86_400_000).default(300_000),
      })
      .strict()
      .prefault({}),
    /** Retention of the stored event log (investigators needed 13 months). */
    events: z.object({ retentionDays: z.number().int().min(1).max(3650).default(400) }).strict().prefault({}),
    /** Admission: mutual-TLS check-in policy and gateway address rotation (docs/admission.md). */
    admission: admissionConfigSchema,
    /** strongSwan SeGW bridge over VICI (docs/segw.md): session events in, live teardown out. */
    segw: z
      .object({
        enabled: z.boolean().default(false),
        /** charon's VICI unix socket, e.g. /var/run/charon.vici */
        vici: z.string().min(1).optional(),
      })
      .strict()
      .refine((s) => !s.enabled || s.vici !== undefined, { message: 'segw.enabled needs segw.vici (the path of charon\'s VICI socket)', path: ['vici'] })
      .strict()
      .prefault({}),
    /** How often the server looks for revocations made by other processes (CLI, other nodes). */
    changePollMs: z.number().int().min(50).max(60_000).default(250),
  })
  .strict();

export type Config = Readonly<z.infer<typeof configSchema>>;
export type ConfigInput = z.input<typeof configSchema>;
