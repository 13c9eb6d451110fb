import type { AuditSink } from '../audit-log/index.js';
import type { Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import { randomId, sha256Hex } from '../core/ids.js';
import type { Logger } from '../core/logger.js';
import type { EventBus, EventStore, FemtoReportEvent, FemtoSessionEvent, FgEvent } from '../events/index.js';
import type { ParsedCertificate } from '../pki/index.js';
import type { AdmissionConfig } from './config.js';
import { createLeafCache, decide, type DecisionDeps } from './decision.js';
import { createPolicyResolver } from './policy.js';
import { createRecorder } from './recorder.js';
import { RefusalEventLimiter, type Suppression } from './refusal-limiter.js';
import type { GatewayRotation } from './rotation.js';
import { LiveSessions, type LiveSession } from './sessions.js';
import type { DecisionStore } from './store.js';
import type { CheckinReport, Decision, DecisionInput, GatewayAnnouncement, GatewaySessionInput, Reason, RecordedDecision, RefusalCode } from './types.js';

export interface AdmissionDeps {
  config: AdmissionConfig;
  devices: DecisionDeps['devices'];
  certs: DecisionDeps['certs'];
  issuing: () => ParsedCertificate | null;
  decisions: DecisionStore;
  events: EventStore;
  bus: EventBus;
  rotation: GatewayRotation;
  clock: Clock;
  logger: Logger;
  /**
   * Where the summaries of refusal events held back by the rate limit go
   * (`admission.events_suppressed`). Without it they are logged as warnings instead.
   */
  audit?: AuditSink | undefined;
}

/** The TLS connection a check-in came over. */
export interface CheckinConnection {
  clientChain?: readonly Buffer[] | undefined;
  sourceIp: string;
  endpoint: string | undefined;
  mainListener: boolean;
}

/** What the device is told when admitted. */
export interface CheckinAdmitted {
  decision: 'admit';
  nextCheckinSeconds: number;
  gateways: GatewayAnnouncement;
}

/**
 * A `femto.session` as admission publishes it. `endpointRetiredAt` is an added field
 * (FORMATS.md §1 allows added fields): when the device used a gateway address past its
 * grace period, the time it went stale, so detection's `stale-endpoint` rule learns retired
 * addresses from the rotation state and not only from its config.
 */
type SessionEvent = FemtoSessionEvent & { endpointRetiredAt?: string };

/**
 * `serial` is the identity a certificate proved (`Decision.provenSerial`), never a claimed one:
 * FORMATS.md §1 defines it as the identity the device authenticated as. `at` is the event time.
 */
function sessionEvent(d: RecordedDecision, serial: string, at: string, phase: 'up' | 'down', sessionId: string, cellIds: readonly string[] | undefined): SessionEvent {
  const e: SessionEvent = { type: 'femto.session', ts: at, t: Date.parse(at), id: `${d.id}:s`, serial, phase, sourceIp: d.sourceIp, sessionId };
  if (d.certFingerprint) e.certFingerprint = d.certFingerprint;
  if (cellIds?.length) e.cellIds = [...cellIds];
  if (d.endpoint) e.endpoint = d.endpoint;
  if (d.staleSince) e.endpointRetiredAt = d.staleSince;
  return e;
}

/** The check-in's report under the proven `serial` (the body's serial is only a claim). */
function reportEvent(d: RecordedDecision, serial: string, r: CheckinReport): FemtoReportEvent {
  const e: FemtoReportEvent = { type: 'femto.report', ts: d.at, t: Date.parse(d.at), id: `${d.id}:r`, serial, sourceIp: d.sourceIp };
  if (r.cellIds) e.cellIds = r.cellIds;
  if (r.gps) e.gps = r.gps;
  if (r.neighbors) e.neighbors = r.neighbors;
  if (r.swVersion) e.swVersion = r.swVersion;
  if (r.configHash) e.configHash = r.configHash;
  return e;
}

/**
 * Whether a certificate of femtoguard's issuing CA proved the identity the decision names: the
 * chain verified and the certificate store binds the certificate to that very serial.
 * Otherwise the serial is only what the client claimed (no certificate, a foreign, malformed
 * or unrecorded one, another device's certificate, the CA still locked, `internal-error`).
 * What is published to detection is `provenSerial`, which may differ from the claimed serial
 * (another device's certificate proves that other device).
 */
export function identityVerified(d: Decision): boolean {
  return d.provenSerial != null && d.provenSerial === d.serial;
}

/**
 * Admission as a service: runs the decision for check-ins and gateway-reported sessions,
 * keeps one live session per identity, records every decision (with its audit event) and
 * publishes it as `femto.session` / `femto.report` for detection.
 */
export function createAdmission(deps: AdmissionDeps) {
  const { config, clock, rotation } = deps;
  const sessions = new LiveSessions({ checkinTtlMs: config.sessionLivenessSeconds * 1000, gatewayTtlMs: config.gatewaySessionTtlSeconds * 1000 });
  const decisionDeps: DecisionDeps = {
    devices: deps.devices,
    certs: deps.certs,
    issuing: deps.issuing,
    sessions,
    endpoints: rotation,
    policy: createPolicyResolver(config),
    leafCache: createLeafCache(),
  };
  const recorder = createRecorder(deps);
  const limiter = new RefusalEventLimiter(config.refusalEvents);
  const auditWrites = new Set<Promise<void>>();

  /** One summary of refusal events held back for a source prefix: an audit event (there is no event type for it in FORMATS.md §1). */
  function auditSuppression(s: Suppression): void {
    const details = {
      sourcePrefix: s.sourcePrefix,
      suppressed: s.suppressed,
      firstAt: new Date(s.firstAt).toISOString(),
      lastAt: new Date(s.lastAt).toISOString(),
      perMinute: config.refusalEvents.perMinute,
      burst: config.refusalEvents.burst,
    };
    if (!deps.audit) {
      deps.logger.warn(details, 'refusal events suppressed (rate limit per source prefix)');
      return;
    }
    const p = deps.audit
      .record({ action: 'admission.events_suppressed', actor: 'system', subject: s.sourcePrefix, outcome: 'denied', details, at: new Date(s.lastAt) })
      .catch((e: unknown) => deps.logger.error({ err: String(e), sourcePrefix: s.sourcePrefix }, 'audit of suppressed refusal events failed'))
      .finally(() => auditWrites.delete(p));
    auditWrites.add(p);
  }

  /**
   * A decision no certificate proved an identity for publishes nothing (its serial, cells, GPS
   * and neighbours are claims: published, they would let anyone raise alerts, and responses,
   * against a real device). It is recorded and audited as always; the limiter counts it per
   * source prefix, and past the prefix's rate the count is audited as a flood
   * (`admission.events_suppressed`).
   */
  function withhold(d: RecordedDecision, nowMs: number): void {
    const r = limiter.take(d.sourceIp, nowMs);
    if (r.evicted) auditSuppression(r.evicted);
    if (r.summary) auditSuppression(r.summary);
  }

  async function evaluate(input: DecisionInput): Promise<RecordedDecision> {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const d = await decide(input, decisionDeps);
    const durationUs = Number((process.hrtime.bigint() - t0) / 1000n);
    const c = process.cpuUsage(c0);
    return { ...d, id: randomId('adm'), at: input.now.toISOString(), kind: input.kind, sourceIp: input.sourceIp, endpoint: input.endpoint ?? null, durationUs, cpuUs: c.user + c.system };
  }

  /**
   * Takes the identity's session for an admitted decision. A second look right before: two
   * check-ins from two addresses decided at the same time must not both win.
   */
  function claim(d: Decision, via: LiveSession['via'], sourceIp: string, nowMs: number, extra: { endpoint?: string | null; gatewaySessionId?: string | null }): LiveSession | null {
    if (d.decision !== 'admit' || d.serial === null) return null;
    const other = sessions.conflicting(d.serial, sourceIp, nowMs);
    if (other) {
      const r = d.reasons.find((x) => x.code === 'single-session');
      if (r) {
        r.ok = false;
        r.detail = `a live session of ${d.serial} from ${other.sourceIp} since ${new Date(other.startedAt).toISOString()}`;
        if (r.enforce === 'deny') {
          d.decision = 'deny';
          d.reason = 'single-session';
          return null;
        }
      }
    }
    return sessions.touch(d.serial, sourceIp, via, nowMs, extra);
  }

  let skewLoggedAt = -Infinity;

  /**
   * The event time of what a gateway reported: its `ts` when within `admission.maxClockSkewMs`
   * of the server clock, else the server's time (logged at most once a minute). Not refused: a
   * `down` delivered late (the gateway could not reach femtoguard for a while) must still end
   * the session, or the unit's next session is refused as a second one and detection takes it
   * for a clone; and an event dated far off would be judged out of its time (a future one
   * blinds live detection, an old one is dropped as too old). Decisions never use it.
   */
  function eventTime(reported: Date | undefined, now: Date): string {
    if (reported === undefined) return now.toISOString();
    const off = reported.getTime() - now.getTime();
    if (Number.isNaN(off)) throw new AppError('invalid', 'request.invalid', 'ts: not a valid time');
    if (Math.abs(off) <= config.maxClockSkewMs) return reported.toISOString();
    if (now.getTime() - skewLoggedAt >= 60_000) {
      skewLoggedAt = now.getTime();
      deps.logger.warn({ ts: reported.toISOString(), offSeconds: Math.round(off / 1000), maxClockSkewMs: config.maxClockSkewMs }, "a gateway's ts is off the server clock by more than admission.maxClockSkewMs: the event is recorded at the server's time");
    }
    return now.toISOString();
  }

  /**
   * Who a check-in is audited as: the device its certificate proved, `anonymous` when none did.
   * Never the serial in the body: anyone can claim one, and the audit log must not say a
   * device did what a client merely claimed in its name.
   */
  const actorOf = (d: Decision): string => (d.provenSerial ? `device:${d.provenSerial}` : 'anonymous');

  /**
   * Makes the recorded decision about the identity a certificate proved (as `Decision.serial`
   * is documented): a client presenting device A's certificate while claiming serial B is
   * denied (cert-serial-binding always denies), and that attempt is recorded and audited under
   * A, so that the log of the real device shows it; B stays in the cert-serial-binding reason.
   * Called after the session bookkeeping, which keeps running on the serial decided on.
   */
  function attributeToProven(d: RecordedDecision): void {
    if (d.provenSerial && d.serial !== d.provenSerial) {
      d.claimedSerial = d.serial;
      d.serial = d.provenSerial;
    }
  }

  return {
    decisionDeps,
    sessions,

    /** One check-in: decide, take the session, record and publish; resolves once recorded. */
    async checkin(report: CheckinReport, conn: CheckinConnection): Promise<{ decision: RecordedDecision; admitted: CheckinAdmitted | null }> {
      const now = clock.now();
      const d = await evaluate({
        kind: 'checkin',
        serial: report.serial,
        clientChain: conn.clientChain,
        sourceIp: conn.sourceIp,
        cellIds: report.cellIds,
        gps: report.gps,
        neighbors: report.neighbors,
        endpoint: conn.endpoint,
        mainListener: conn.mainListener,
        now,
      });
      const before = d.serial ? sessions.get(d.serial, now.getTime()) : undefined;
      const prior = before ? { id: before.id, endpoint: before.endpoint } : null;
      const s = claim(d, 'checkin', conn.sourceIp, now.getTime(), { endpoint: conn.endpoint ?? null });
      const proven = d.provenSerial ?? null;
      let events: FgEvent[] = [];
      if (proven === null) withhold(d, now.getTime());
      else {
        // femto.session when a session starts (or moves to another gateway address), and for a
        // refusal of a proven identity: a clone refused as a second session, a lost unit's
        // credential, a stale address are attempts detection's credential-shared,
        // inactive-device and stale-endpoint rules must see, and the first and last read only
        // femto.session. A check-in inside a live session is a femto.report only.
        const startsOrMoves = s === null || prior === null || prior.id !== s.id || prior.endpoint !== s.endpoint;
        const reported = reportEvent(d, proven, report);
        // A session a gateway reported keeps the gateway's id, so that its `down` closes it in detection too.
        events = startsOrMoves ? [sessionEvent(d, proven, d.at, 'up', s?.gatewaySessionId ?? s?.id ?? d.id, report.cellIds), reported] : [reported];
      }
      attributeToProven(d);
      try {
        await recorder.write({ decision: d, actor: actorOf(d) }, events);
      } catch (e) {
        // Not recorded means not admitted (fail closed).
        if (s && d.serial) sessions.end(d.serial, { sourceIp: conn.sourceIp });
        throw e;
      }
      const admitted: CheckinAdmitted | null = d.decision === 'admit' ? { decision: 'admit', nextCheckinSeconds: config.checkinIntervalSeconds, gateways: rotation.announcement() } : null;
      return { decision: d, admitted };
    },

    /**
     * Records a check-in refused before any check could run (unreadable or oversized body),
     * as a deny with that reason, so it leaves an audit event like every other refusal.
     */
    async refuse(code: RefusalCode, conn: CheckinConnection, detail: string): Promise<RecordedDecision> {
      const now = clock.now();
      const reasons: Reason[] = [{ code, ok: false, detail, enforce: 'deny' }];
      // Whoever connects to a stale address is recorded as such, readable body or not.
      const ep = rotation.status(conn.endpoint, conn.mainListener, now.getTime());
      const stale = ep.state === 'stale' ? new Date(ep.staleSince).toISOString() : null;
      if (stale) reasons.unshift({ code: 'endpoint-current', ok: false, detail: `stale-endpoint: ${conn.endpoint ?? ''} went stale at ${stale}`, enforce: 'deny' });
      const leaf = conn.clientChain?.[0];
      const d: RecordedDecision = {
        decision: 'deny',
        reason: stale ? 'stale-endpoint' : code,
        reasons,
        serial: null,
        certFingerprint: leaf ? sha256Hex(leaf) : null,
        staleSince: stale,
        id: randomId('adm'),
        at: now.toISOString(),
        kind: 'checkin',
        sourceIp: conn.sourceIp,
        endpoint: conn.endpoint ?? null,
        durationUs: 0,
        cpuUs: 0,
      };
      await recorder.write({ decision: d, actor: 'anonymous' }, []);
      return d;
    },

    /**
     * A session an external gateway (strongSwan through VICI, a vendor SeGW) reports up or
     * down, through the same decision. `up` takes the identity's session when admitted;
     * `down` frees it. The gateway enforces the verdict (tears the SA down on deny).
     */
    async admitGatewaySession(input: GatewaySessionInput): Promise<RecordedDecision> {
      // The decision runs at the server's clock, never the gateway's `ts`: a future ts would
      // outlive the live session and pass single-session, a past one pass cert-expiry and
      // stale-endpoint. `ts` is only the event time, within the allowed skew.
      const now = clock.now();
      const at = eventTime(input.at, now);
      const kind = input.phase === 'up' ? 'session-up' : 'session-down';
      const d = await evaluate({
        kind,
        serial: input.serial ?? null,
        clientChain: input.clientChain,
        certFingerprint: input.certFingerprint,
        sourceIp: input.sourceIp,
        cellIds: input.cellIds,
        endpoint: input.endpoint,
        now,
      });
      let sessionId = input.sessionId ?? d.id;
      if (input.phase === 'up') {
        const s = claim(d, 'gateway', input.sourceIp, now.getTime(), { endpoint: input.endpoint ?? null, gatewaySessionId: input.sessionId ?? null });
        sessionId = input.sessionId ?? s?.id ?? d.id;
      } else if (d.serial) {
        sessions.end(d.serial, { sourceIp: input.sourceIp, gatewaySessionId: input.sessionId });
      }
      const proven = d.provenSerial ?? null;
      const events: FgEvent[] = proven !== null ? [sessionEvent(d, proven, at, input.phase, sessionId, input.cellIds)] : [];
      if (proven === null) withhold(d, now.getTime());
      attributeToProven(d);
      await recorder.write({ decision: d, actor: input.actor ?? 'gateway' }, events);
      return d;
    },

    announcement: (): GatewayAnnouncement => rotation.announcement(),

    /**
     * Forgets expired sessions now and then, and audits the refusal events held back in the
     * last minute (one summary per source prefix); returns the stop function.
     */
    start(): () => void {
      const t = setInterval(() => {
        const nowMs = clock.now().getTime();
        sessions.sweep(nowMs);
        for (const s of limiter.flush(nowMs)) auditSuppression(s);
      }, 60_000);
      t.unref();
      return () => clearInterval(t);
    },

    /** Writes what is queued, and every pending suppression summary, and waits for them. */
    async drain(): Promise<void> {
      for (const s of limiter.flush(clock.now().getTime(), true)) auditSuppression(s);
      await recorder.drain();
      await Promise.all([...auditWrites]);
    },
  };
}

export type Admission = ReturnType<typeof createAdmission>;
