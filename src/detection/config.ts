import { z } from 'zod';
import { parseEventTime } from '../events/index.js';

export const RULE_IDS = [
  'unregistered-device',
  'unregistered-cell',
  'inactive-device',
  'credential-shared',
  'source-ip-mismatch',
  'location-mismatch',
  'device-moving',
  'subscriber-surge',
  'ims-downgrade',
  'payment-exposure',
  'stale-endpoint',
  'idle-device',
] as const;
export type RuleId = (typeof RULE_IDS)[number];
export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

const MIN = 60_000;
const HOUR = 3_600_000;

const severity = z.enum(SEVERITIES);
const responses = z
  .object({
    /** quarantine the device: status suspended, certificates on hold (OCSP revoked, EST refuses) */
    quarantine: z.boolean().default(false),
    /** hold payments this alert is about (payment-exposure) instead of only flagging them */
    holdPayment: z.boolean().default(false),
  })
  .strict().prefault({});

/**
 * Detection thresholds, per rule. Every default is documented in docs/detection.md with the
 * false-positive trap it is set against. Every object is strict: a misspelt key is an error
 * when the config is read, not a threshold silently left at its default.
 */
export const detectionConfigSchema = z
  .object({
    /** FORMATS.md §1: arrival out of order by up to this much gives the same alerts as sorted input */
    maxOutOfOrderMs: z.number().int().min(0).max(24 * HOUR).default(10 * MIN),
    /** event ids are remembered this long (event time) for idempotency */
    dedupWindowMs: z.number().int().min(MIN).max(7 * 24 * HOUR).default(6 * HOUR),
    /** how long an IMSI↔MSISDN/IMEI pairing is remembered after the subscriber was last seen (joins payments to attaches) */
    subscriberLinkRetentionMs: z.number().int().min(MIN).max(90 * 24 * HOUR).default(7 * 24 * HOUR),
    /** responses run for real, or are only logged (dry run) */
    dryRun: z.boolean().default(false),
    /**
     * The live server's engine keeps an alert this long after its latest finding (event time)
     * and at most `max` alerts (least recently folded dropped first); the alert store keeps them
     * all. `femtoguard detect` keeps every alert: they are its output.
     */
    alertRetention: z
      .object({
        idleMs: z.number().int().min(MIN).max(90 * 24 * HOUR).default(24 * HOUR),
        max: z.number().int().min(1).max(10_000_000).default(100_000),
      })
      .strict().prefault({}),
    rules: z
      .object({
        'unregistered-device': z.object({ severity: severity.default('critical'), responses }).strict().prefault({}),
        'unregistered-cell': z
          .object({
            severity: severity.default('critical'),
            /** only cellIds matching this pattern are femtocells (when the attach feed also carries macro cells); empty = all */
            femtoCellPattern: z
              .string()
              // Checked here so that a typo stops the start, not the engine at its first cell.
              .refine((p) => {
                try {
                  new RegExp(p);
                  return true;
                } catch {
                  return false;
                }
              }, 'must be a valid regular expression')
              .default(''),
            responses,
          })
          .strict().prefault({}),
        'inactive-device': z
          .object({
            severity: severity.default('critical'),
            /** severity for a device that is only `provisioned` (not yet enrolled) */
            provisionedSeverity: severity.default('medium'),
            suspendedSeverity: severity.default('high'),
            responses,
          })
          .strict().prefault({}),
        'credential-shared': z
          .object({
            severity: severity.default('critical'),
            /** a session counts as live while its address was seen this recently (reports or session events) */
            sessionLivenessMs: z.number().int().min(MIN).default(45 * MIN),
            /**
             * a session brought up with a `sessionId` (security gateways, the strongSwan bridge: they
             * send its `down` too) counts as live until that `down`, or until its address has not been
             * seen for this long (a lost `down`), even when no report keeps it alive
             */
            gatewaySessionMaxMs: z.number().int().min(MIN).default(24 * 60 * MIN),
            responses: responses.default({ quarantine: true, holdPayment: false }),
          })
          .strict().prefault({}),
        'source-ip-mismatch': z.object({ severity: severity.default('high'), responses }).strict().prefault({}),
        'location-mismatch': z
          .object({
            severity: severity.default('high'),
            /** extra tolerance on top of the site radius and the fix's own accuracy */
            marginM: z.number().min(0).default(200),
            /** share of a scan's cells that must be among the expected neighbours (0..1); below it the scan does not match */
            minNeighborOverlap: z.number().min(0).max(1).default(0.2),
            /** how many consecutive non-matching scans before alerting (a single odd scan is noise) */
            consecutiveScans: z.number().int().min(1).default(2),
            responses,
          })
          .strict().prefault({}),
        'device-moving': z
          .object({
            severity: severity.default('high'),
            /** displacement between two fixes beyond accuracy + this, to count as a move */
            minMoveM: z.number().min(0).default(500),
            /** a scan whose Jaccard overlap with the cells of the last three scans is below this counts as a move (a disjoint scan always does) */
            maxNeighborJaccard: z.number().min(0).max(1).default(0.1),
            /** moves within the window before alerting */
            moves: z.number().int().min(1).default(3),
            windowMs: z.number().int().min(MIN).default(6 * HOUR),
            responses,
          })
          .strict().prefault({}),
        'subscriber-surge': z
          .object({
            severity: severity.default('high'),
            windowMs: z.number().int().min(MIN).default(HOUR),
            /** what any home cell does: a handful of phones; more distinct subscribers than this in a window is beyond a home */
            homeCellMax: z.number().int().min(1).default(12),
            /**
             * and more than this many times the cell's own learned level: the higher of its recent
             * level and the same hour of the week. After a window that surged, the recent level may
             * rise by this factor (a new steady crowd stops alerting within hours)
             */
            baselineFactor: z.number().min(1).default(4),
            /** weight of the newest week in a cell's hour-of-week slot (EWMA over weeks; windows that surged are left out) */
            baselineAlpha: z.number().min(0).max(1).default(0.2),
            /** active windows a registered cell must have been seen before its level is trusted (it takes their crowd as is) */
            warmupWindows: z.number().int().min(0).default(3),
            /**
             * how much a cell's recent level may rise per day toward a bigger crowd that did not
             * surge: a rogue ramping up faster (the incident's reached 1,100 an hour in a day)
             * outruns it and is compared with what the cell served a day before
             */
            maxDailyGrowth: z.number().min(1).default(3),
            /** half-life of a cell's recent level while its crowd is smaller (an office's Monday is judged against its Friday, not its weekend) */
            levelHalfLifeMs: z.number().int().min(HOUR).default(7 * 24 * HOUR),
            responses,
          })
          .strict().prefault({}),
        'ims-downgrade': z
          .object({
            severity: severity.default('high'),
            windowMs: z.number().int().min(MIN).default(HOUR),
            /** registrations needed in a window (or in the evidence span) before a share means anything */
            minRegistrations: z.number().int().min(1).default(8),
            /**
             * the cell's last this many windows (the current one included) are also judged as one
             * span, by the same tests: a low-volume rogue (a few stripped registrations an hour) is
             * caught on a day's evidence. One span finding per span
             */
            evidenceWindows: z.number().int().min(1).max(24 * 14).default(24),
            /** alert when a cell's share without IPsec exceeds the network's share by this much (absolute) */
            excessShare: z.number().min(0).max(1).default(0.4),
            /**
             * and only when chance cannot explain it: the binomial probability of seeing that many
             * registrations without IPsec at the network's share must be below this. A fleet has
             * tens of thousands of cell-hours; at 1e-7 a benign cell trips it about once in ten million.
             */
            maxPValue: z.number().min(0).max(1).default(1e-7),
            /** the network share used in that test is at least this (a near-zero share would make any downgrade "significant") */
            minNetworkShare: z.number().min(0).max(1).default(0.02),
            responses,
          })
          .strict().prefault({}),
        'payment-exposure': z
          .object({
            severity: severity.default('high'),
            /** a subscriber on a flagged cell this long before the payment is exposed */
            lookbackMs: z.number().int().min(MIN).default(2 * HOUR),
            /**
             * a cell's flag counts this long after the latest finding that flagged it, then lapses
             * (a rogue cell still at work keeps being flagged; one silent for a week is forgotten)
             */
            flagRetentionMs: z.number().int().min(MIN).max(90 * 24 * HOUR).default(7 * 24 * HOUR),
            responses: responses.default({ quarantine: false, holdPayment: true }),
          })
          .strict().prefault({}),
        'stale-endpoint': z
          .object({
            severity: severity.default('high'),
            /** gateway addresses rotated out, with the time they stopped being valid */
            retired: z
              .array(
                z
                  .object({
                    endpoint: z.string().min(1),
                    // An unreadable time would silently disable the check: refuse it (RFC 3339 with an offset, as event times).
                    retiredAt: z.string().refine((s) => !Number.isNaN(parseEventTime(s)), 'must be an RFC 3339 time with an offset'),
                  })
                  .strict(),
              )
              .default([]),
            responses,
          })
          .strict().prefault({}),
        'idle-device': z
          .object({
            severity: severity.default('low'),
            idleMs: z.number().int().min(MIN).default(24 * HOUR),
            responses,
          })
          .strict().prefault({}),
      })
      .strict().prefault({}),
  })
  .strict().prefault({});

export type DetectionConfig = z.infer<typeof detectionConfigSchema>;
export type RulesConfig = DetectionConfig['rules'];
