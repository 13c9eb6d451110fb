import { z } from 'zod';

/**
 * The checks whose enforcement an operator may choose (deny the session, or admit it and
 * leave the finding to detection). The identity checks (certificate chain, expiry,
 * revocation, serial binding, registry status) are not in this list: they always deny,
 * because admitting a foreign, revoked or unknown credential is never a policy choice.
 */
export const TUNABLE_CHECKS = ['source-prefix', 'gps-in-site', 'neighbors-consistent', 'cells-allowed', 'single-session', 'endpoint-current'] as const;
export type TunableCheck = (typeof TUNABLE_CHECKS)[number];

const enforce = z.enum(['deny', 'alert']);

/** Per-check enforcement and tolerances; every field optional so a fleet overrides only what it names. */
const policyOverride = z
  .object({
    enforce: z.partialRecord(z.enum(TUNABLE_CHECKS), enforce).optional(),
    /** metres added to the site radius and the fix's own accuracy before a GPS fix is "away" */
    gpsMarginM: z.number().min(0).max(100_000).optional(),
    /** share of the reported neighbours that must be expected ones (0..1) */
    minNeighborOverlap: z.number().min(0).max(1).optional(),
    /** the poorest fix accuracy (metres) that may widen the allowed circle; a poorer fix counts as no fix */
    maxGpsAccuracyM: z.number().min(0).max(100_000).optional(),
  })
  .strict();
export type PolicyOverride = z.infer<typeof policyOverride>;

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;

export const admissionConfigSchema = z
  .object({
    /** what an admitted device is told: come back in this many seconds */
    checkinIntervalSeconds: z.number().int().min(10).max(86_400).default(300),
    /** a check-in keeps its session live this long (one session per identity) */
    sessionLivenessSeconds: z.number().int().min(10).max(7 * 86_400).default(900),
    /** a session reported up by an external gateway is forgotten after this long without a `down` */
    gatewaySessionTtlSeconds: z.number().int().min(60).max(30 * 86_400).default(86_400),
    /**
     * How far (ms) a gateway-supplied `ts` may be from the server clock. Decisions are always
     * made at the server's clock; `ts` is only the event time, and one further off is replaced
     * by the server's time (and logged) rather than let it place the event outside detection's
     * windows: refusing it would leave a late `down` unrecorded and the session live.
     */
    maxClockSkewMs: z.number().int().min(1_000).max(86_400_000).default(300_000),
    /** check-in body limit (a femto.report is a few hundred bytes) */
    maxReportBytes: z.number().int().min(512).max(1024 * 1024).default(16 * 1024),
    /** the default policy; the safe defaults are in docs/admission.md */
    policy: z
      .object({
        enforce: z
          .object({
            'source-prefix': enforce.default('deny'),
            'gps-in-site': enforce.default('alert'),
            'neighbors-consistent': enforce.default('alert'),
            'cells-allowed': enforce.default('deny'),
            'single-session': enforce.default('deny'),
            'endpoint-current': enforce.default('deny'),
          })
          .strict()
          .prefault({}),
        gpsMarginM: z.number().min(0).max(100_000).default(200),
        minNeighborOverlap: z.number().min(0).max(1).default(0.2),
        /**
         * The fix's `accuracyM` is the client's own claim, and it widens the allowed circle: past
         * this many metres a fix is no evidence of where the device is and counts as no fix
         * (a failure where `gps-in-site` is enforced as deny).
         */
        maxGpsAccuracyM: z.number().min(0).max(100_000).default(1_000),
      })
      .strict()
      .prefault({}),
    /** per-fleet overrides, keyed by the registry's `owner` */
    fleets: z.record(z.string().min(1), policyOverride).default({}),
    /**
     * Refusals whose identity no certificate proved publish nothing to detection (their serial
     * and cells are only claims). The limiter still counts them per source prefix: within this
     * rate they are background noise; past it the prefix is flooding, and one
     * `admission.events_suppressed` audit event per source prefix per minute counts what came
     * past the rate (docs/admission.md). Proven identities (`Decision.provenSerial`) are never
     * counted here.
     */
    refusalEvents: z
      .object({
        perMinute: z.number().int().min(1).max(1_000_000).default(20),
        burst: z.number().int().min(1).max(1_000_000).default(20),
        /** IPv4 sources are grouped by this prefix length (32: each address its own bucket) */
        ipv4PrefixLength: z.number().int().min(8).max(32).default(24),
        /** IPv6 sources are grouped by this prefix length (128: each address its own bucket) */
        ipv6PrefixLength: z.number().int().min(16).max(128).default(56),
        /** source prefixes tracked at most (least recently seen evicted first); ~200 bytes each */
        maxSources: z.number().int().min(16).max(1_000_000).default(10_000),
        /** over all sources together: bounds a flood rotating through many prefixes */
        totalPerMinute: z.number().int().min(1).max(10_000_000).default(600),
      })
      .strict()
      .prefault({}),
    rotation: z
      .object({
        /** gateway addresses (`host:port`), each served by its own TLS listener; empty = no rotation */
        // With two addresses the one just retired is announced as next at once (and admits
        // again): a seized unit holding it would never go stale. Three is the least that works.
        pool: z
          .array(z.string().regex(HOST_PORT, 'expected HOST:PORT, e.g. 127.0.0.2:9443'))
          .max(64)
          .refine((p) => p.length === 0 || p.length >= 3, 'a rotation pool needs at least 3 addresses (with 2, the retired one is announced as next at once and never goes stale)')
          .refine((p) => new Set(p).size === p.length, 'each address may appear once in the pool')
          .default([]),
        intervalSeconds: z.number().int().min(1).max(365 * 86_400).default(86_400),
        /** a retired address keeps answering this long, then every connection to it is stale */
        graceSeconds: z.number().int().min(0).max(30 * 86_400).default(3_600),
        /** how often the server re-reads the rotation state (the CLI rotates from another process) */
        pollMs: z.number().int().min(50).max(60_000).default(1_000),
        /** check-ins on the main TLS listener (EST) are accepted as a bootstrap address */
        acceptOnMainListener: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});

export type AdmissionConfig = z.infer<typeof admissionConfigSchema>;
