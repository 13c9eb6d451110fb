/**
 * The SeGW bridge: femtoguard beside a strongSwan security gateway, over VICI.
 *
 * - Sessions in: every IKE SA up/down (`ike-updown`; strongSwan's updown script fires only for
 *   CHILD SAs) becomes a `femto.session` event for detection.
 * - Blocking out: when a device is suspended (quarantine), lost or decommissioned, its live
 *   IKE SAs are terminated and charon's OCSP cache is flushed. Without this a revoked femtocell
 *   stays connected until its SA re-authenticates, and may even reconnect on a cached `good`
 *   response until that response's nextUpdate (RFC 6960 §4.2.2.1).
 *
 * The bridge survives charon restarts: it reconnects with backoff and, on every (re)connect,
 * reconciles: lists the SAs, reports them (event ids make repeats duplicates), and terminates
 * any that belong to a blocked device. Two connections are used, one for events and one for
 * commands, so a command never waits behind event delivery.
 *
 * It survives its own restarts too, given a state file (`stateFile`, state-file.ts): the sessions
 * it reported up and the downs not yet delivered are kept there, and the first connect after a
 * start reconciles against them exactly as a reconnect does, so a session that ended while the
 * bridge was not running still gets its `down` (detection would otherwise keep it live for 24 h).
 */
import { createHash } from 'node:crypto';
import type { DeviceStatus } from '../registry/index.js';
import { isBlocking, type BlockResult, type IngestResult, type SegwBridge, type SegwBridgeDeps } from './bridge-types.js';
import { ikeSasOf, isUp, sessionEvent, sessionKeyOf, serialFromIdentity, type IkeSa, type SessionEventInput } from './session.js';
import { createStateWriter, loadBridgeState, type BridgeState } from './state-file.js';
import { ViciClient } from './vici.js';
import { section, type ViciMessage } from './vici-codec.js';

export { BLOCKING_STATUSES, isBlocking } from './bridge-types.js';
export type { BlockResult, IngestResult, SegwBridge, SegwBridgeDeps } from './bridge-types.js';

export function createSegwBridge(deps: SegwBridgeDeps): SegwBridge {
  const { log } = deps;
  const now = deps.now ?? (() => new Date());
  const minMs = deps.reconnectMinMs ?? 500;
  const maxMs = deps.reconnectMaxMs ?? 10_000;
  const maxOutbox = deps.maxOutbox ?? 10_000;
  const ingestRetryMinMs = deps.ingestRetryMinMs ?? 1_000;
  const ingestRetryMaxMs = deps.ingestRetryMaxMs ?? 30_000;
  const statusRetryMs = deps.statusRetryMs ?? 2_000;
  const statusRetries = deps.statusRetries ?? 3;
  const statusRecheckMs = deps.statusRecheckMs ?? 15_000;
  let ingestBackoff = ingestRetryMinMs;
  /** serials whose status could not be read, with the timer that tries again and how many tries failed */
  const rechecks = new Map<string, { timer: NodeJS.Timeout; failures: number }>();
  let events: ViciClient | null = null;
  let control: ViciClient | null = null;
  let stopped = false;
  let started = false;
  let backoff = minMs;
  let retryTimer: NodeJS.Timeout | null = null;
  let readyWaiters: (() => void)[] = [];
  let connectGeneration = 0;
  let isReady = false;
  /**
   * The SAs reported up, by `sessionKeyOf` (unique id + SPI: unique ids restart with charon),
   * with the session id they continue: a rekeyed SA keeps its first SA's session.
   */
  const live = new Map<string, { sessionId: string; sa: IkeSa }>();
  /** downs handed to the outbox and not yet delivered, by event id: kept in the state file until they are */
  const pendingDowns = new Map<string, SessionEventInput>();
  const snapshot = (): BridgeState => ({ sessions: [...live.values()].map(({ sessionId, sa }) => ({ sessionId, sa })), downs: [...pendingDowns.values()] });
  const stateWriter = deps.stateFile ? createStateWriter(deps.stateFile, snapshot, log, { delayMs: deps.stateWriteDelayMs ?? 250 }) : null;
  const persist = (): void => stateWriter?.changed();
  /** events in order, one chain: an up is always delivered before its down */
  let work: Promise<void> = Promise.resolve();
  const outbox: SessionEventInput[] = [];
  let flushing: Promise<void> | null = null;
  let inFlight = 0;
  let flushTimer: NodeJS.Timeout | null = null;
  let sweepTimer: NodeJS.Timeout | null = null;

  const enqueue = (fn: () => Promise<void>): Promise<void> => {
    work = work.then(fn).catch((e: unknown) => log.error({ err: String(e) }, 'segw: event handling failed'));
    return work;
  };

  function deliver(evs: SessionEventInput[]): Promise<void> {
    outbox.push(...evs);
    if (outbox.length > maxOutbox) {
      // Never drop what is being sent right now (the batch at the head).
      const dropped = outbox.splice(inFlight, outbox.length - maxOutbox);
      forgetDowns(dropped);
      log.error({ dropped: dropped.length }, 'segw: femtoguard unreachable too long, oldest session events dropped');
    }
    // While a redelivery is scheduled, new events wait for it: sending at every new event would
    // hammer femtoguard in a tight loop exactly when it cannot take them.
    if (flushTimer) return Promise.resolve();
    return flush();
  }

  /** Sends the outbox in batches, in order, until it is empty or femtoguard cannot be reached. */
  function flush(): Promise<void> {
    if (flushing) return flushing;
    if (flushTimer) {
      // An explicit flush (drain, stop) is the retry.
      clearTimeout(flushTimer);
      flushTimer = null;
    }
    flushing = (async () => {
      while (outbox.length > 0) {
        const batch = outbox.slice(0, 500);
        inFlight = batch.length;
        let result: IngestResult | void;
        try {
          result = await deps.ingest(batch);
        } catch (e) {
          scheduleRedelivery(e);
          return;
        }
        // Delivered: accepted, duplicates (already stored) or refused for good.
        outbox.splice(0, batch.length);
        forgetDowns(batch);
        ingestBackoff = ingestRetryMinMs;
        if (result && result.rejected.length > 0) logRefused(batch, result.rejected);
      }
    })().finally(() => {
      flushing = null;
      inFlight = 0;
    });
    return flushing;
  }

  /** Downs delivered (or dropped for good) leave the state file: it holds only what is still owed. */
  function forgetDowns(evs: SessionEventInput[]): void {
    let changed = false;
    for (const e of evs) if (e.phase === 'down' && pendingDowns.delete(e.id)) changed = true;
    if (changed) persist();
  }

  function scheduleRedelivery(e: unknown): void {
    log.warn({ err: String(e), pending: outbox.length, retryInMs: ingestBackoff }, 'segw: session events not delivered; retrying');
    if (stopped || flushTimer) return;
    flushTimer = setTimeout(() => {
      flushTimer = null;
      void flush();
    }, ingestBackoff);
    flushTimer.unref();
    ingestBackoff = Math.min(ingestRetryMaxMs, ingestBackoff * 2);
  }

  /** One log line per batch: which events femtoguard refused and why (bounded; no secrets in session events). */
  function logRefused(batch: SessionEventInput[], rejected: IngestResult['rejected']): void {
    const events = rejected.slice(0, 20).map((r) => {
      const e = batch[r.index];
      return { id: e?.id, serial: e?.serial, phase: e?.phase, ts: e?.ts, reason: r.reason.slice(0, 300) };
    });
    log.error({ refused: rejected.length, events }, 'segw: femtoguard refused session events; dropped (they would be refused again)');
  }

  async function fingerprintOf(remoteId: string): Promise<string | undefined> {
    if (!control || !remoteId || remoteId === '%any') return undefined;
    try {
      // The peer certificate stays in charon's cache; several (old and renewed) would be ambiguous.
      const certs = (await control.listCerts({ type: 'X509', subject: remoteId })).filter((c) => c.flag === 'NONE' || c.flag === '');
      return certs.length === 1 && certs[0] ? createHash('sha256').update(certs[0].data).digest('hex') : undefined;
    } catch (e) {
      log.debug({ err: String(e) }, 'segw: list-certs failed; session reported without fingerprint');
      return undefined;
    }
  }

  async function checkStatus(sa: IkeSa): Promise<void> {
    const serial = serialFromIdentity(sa.remoteId);
    if (!serial) return;
    let status: DeviceStatus | null;
    try {
      status = await deps.deviceStatus(serial);
    } catch (e) {
      scheduleRecheck(serial, e);
      return;
    }
    const pending = rechecks.get(serial);
    if (pending) {
      clearTimeout(pending.timer);
      rechecks.delete(serial);
      log.info({ serial, status }, 'segw: device status readable again');
    }
    if (isBlocking(status)) await block(serial, status as DeviceStatus, `IKE SA up while the device is ${status}`);
  }

  /**
   * The status of a device with a live SA could not be read: it may be lost. Policy (docs/segw.md,
   * "Blocking"): the SA is kept, since femtoguard being unreachable must not cut the whole fleet
   * (and charon still asks OCSP at every new authentication), but the device is not left
   * unchecked until the next sweep: tried again every `statusRetryMs` (bounded), then logged as
   * an error and tried every `statusRecheckMs` while its SA is up.
   */
  function scheduleRecheck(serial: string, e: unknown): void {
    if (stopped) return;
    const prev = rechecks.get(serial);
    if (prev) clearTimeout(prev.timer);
    const failures = (prev?.failures ?? 0) + 1;
    const fast = failures <= statusRetries;
    if (fast) log.warn({ serial, err: String(e), failures }, 'segw: device status unavailable; checking again shortly');
    else if (failures === statusRetries + 1) log.error({ serial, err: String(e), failures, recheckMs: statusRecheckMs }, 'segw: device status still unavailable; its IKE SA is kept up and checked again on a timer');
    const timer = setTimeout(() => {
      const sa = liveSaOf(serial);
      if (!sa || stopped) {
        rechecks.delete(serial);
        return;
      }
      void checkStatus(sa).catch((err: unknown) => log.error({ serial, err: String(err) }, 'segw: status re-check failed'));
    }, fast ? statusRetryMs : statusRecheckMs);
    timer.unref();
    rechecks.set(serial, { timer, failures });
  }

  /** A live SA of the device, if the bridge knows one (its down ends the re-checks). */
  function liveSaOf(serial: string): IkeSa | undefined {
    for (const { sa } of live.values()) if (serialFromIdentity(sa.remoteId) === serial) return sa;
    return undefined;
  }

  async function onUp(sa: IkeSa): Promise<void> {
    const key = sessionKeyOf(sa);
    const sessionId = live.get(key)?.sessionId ?? key;
    live.set(key, { sessionId, sa });
    persist();
    const at = sa.establishedSeconds ? new Date(now().getTime() - sa.establishedSeconds * 1000) : now();
    const fp = await fingerprintOf(sa.remoteId);
    const e = sessionEvent(sa, 'up', at, { sessionId, ...(fp ? { certFingerprint: fp } : {}) });
    if (e) await deliver([e]);
    else log.warn({ remoteId: sa.remoteId, remoteHost: sa.remoteHost }, 'segw: IKE SA without a usable identity or address, not reported');
    // A blocked device must not stay up, whatever charon's OCSP cache said.
    await checkStatus(sa);
  }

  async function onDown(sa: IkeSa): Promise<void> {
    const key = sessionKeyOf(sa);
    const entry = live.get(key);
    if (!entry) {
      // charon also raises ike-updown (down) for an SA that never came up, e.g. one refused
      // in IKE_AUTH: that was no session.
      log.debug({ remoteId: sa.remoteId, remoteHost: sa.remoteHost }, 'segw: IKE SA ended before it was established');
      return;
    }
    live.delete(key);
    const e = sessionEvent(entry.sa, 'down', now(), { sessionId: entry.sessionId });
    if (e) pendingDowns.set(e.id, e);
    persist();
    if (e) await deliver([e]);
  }

  function onUpdown(m: ViciMessage): void {
    const up = isUp(m);
    for (const sa of ikeSasOf(m)) void enqueue(() => (up ? onUp(sa) : onDown(sa)));
  }

  function onRekey(m: ViciMessage): void {
    // { <name> = { old = {...}, new = {...} } }: the new SA continues the old one's session.
    for (const v of Object.values(m)) {
      if (Buffer.isBuffer(v) || Array.isArray(v)) continue;
      const oldSa = ikeSasOf(wrap(section(v, 'old')))[0];
      const newSa = ikeSasOf(wrap(section(v, 'new')))[0];
      if (!oldSa || !newSa) continue;
      void enqueue(async () => {
        const oldKey = sessionKeyOf(oldSa);
        const sessionId = live.get(oldKey)?.sessionId ?? oldKey;
        live.delete(oldKey);
        live.set(sessionKeyOf(newSa), { sessionId, sa: newSa });
        persist();
      });
    }
  }

  async function sweep(): Promise<void> {
    const ctl = control;
    if (!ctl) return;
    const bySerial = new Map<string, IkeSa>();
    for (const sa of (await ctl.listSas()).flatMap(ikeSasOf)) {
      const serial = serialFromIdentity(sa.remoteId);
      if (serial && !bySerial.has(serial)) bySerial.set(serial, sa);
    }
    for (const sa of bySerial.values()) await checkStatus(sa);
  }

  async function reconcile(): Promise<void> {
    if (!control) return;
    const sas = (await control.listSas()).flatMap(ikeSasOf).filter((sa) => sa.state === 'ESTABLISHED');
    log.info({ ikeSas: sas.length }, 'segw: connected to charon; reconciling live IKE SAs');
    // Sessions that ended while the bridge was away (or charon restarted) get their down now.
    const listed = new Set(sas.map(sessionKeyOf));
    for (const [key, entry] of live) if (!listed.has(key)) void enqueue(() => onDown(entry.sa));
    for (const sa of sas) void enqueue(() => onUp(sa));
    await enqueue(async () => undefined);
  }

  function dropConnections(): void {
    isReady = false;
    events?.close();
    control?.close();
    events = null;
    control = null;
  }

  function scheduleReconnect(): void {
    if (stopped || retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      void connect();
    }, backoff);
    retryTimer.unref();
    backoff = Math.min(maxMs, backoff * 2);
  }

  async function connect(): Promise<void> {
    if (stopped) return;
    const generation = ++connectGeneration;
    let ev: ViciClient | null = null;
    let ctl: ViciClient | null = null;
    try {
      const opts = { timeoutMs: deps.requestTimeoutMs ?? 15_000 };
      ev = await ViciClient.connect(deps.viciPath, opts);
      ctl = await ViciClient.connect(deps.viciPath, opts);
      const lost = (err: Error | null): void => {
        if (generation !== connectGeneration || stopped) return;
        connectGeneration++;
        log.warn({ err: err ? err.message : 'closed' }, 'segw: VICI connection lost; reconnecting');
        ev?.close();
        ctl?.close();
        if (events === ev) dropConnections();
        scheduleReconnect();
      };
      ev.onClose(lost);
      ctl.onClose(lost);
      ev.onHandlerError = (name, err) => log.error({ event: name, err: String(err) }, 'segw: VICI event handler failed');
      await ev.subscribe('ike-updown', onUpdown);
      await ev.subscribe('ike-rekey', onRekey);
      if (stopped || generation !== connectGeneration) throw new Error('superseded');
      events = ev;
      control = ctl;
      backoff = minMs;
      await reconcile();
      isReady = true;
      const waiters = readyWaiters;
      readyWaiters = [];
      for (const w of waiters) w();
    } catch (e) {
      ev?.close();
      ctl?.close();
      if (stopped) return;
      log.warn({ vici: deps.viciPath, err: e instanceof Error ? e.message : String(e) }, 'segw: cannot reach charon over VICI; retrying');
      if (generation === connectGeneration) {
        dropConnections();
        scheduleReconnect();
      }
    }
  }

  let blockChain: Promise<unknown> = Promise.resolve();
  function block(serial: string, status: DeviceStatus, reason?: string): Promise<BlockResult> {
    const run = blockChain.then(() => blockNow(serial, status, reason));
    blockChain = run.catch(() => undefined);
    return run;
  }

  async function blockNow(serial: string, status: DeviceStatus, reason?: string): Promise<BlockResult> {
    const result: BlockResult = { serial, terminated: [], ocspFlushed: false, crlFlushed: false, deferred: false };
    const ctl = control;
    const record = (outcome: 'success' | 'failure'): Promise<void> =>
      deps
        .audit({ action: 'segw.terminated', actor: 'system:segw', subject: serial, outcome, details: { status, reason, ikeSas: result.terminated, ocspFlushed: result.ocspFlushed, crlFlushed: result.crlFlushed, deferred: result.deferred, error: result.error } })
        .catch((e: unknown) => log.error({ err: String(e) }, 'segw: audit record failed'));
    if (!ctl) {
      result.deferred = true;
      result.error = 'VICI not connected';
      log.warn({ serial, status }, 'segw: charon unreachable; the device will be cut at reconnect');
      await record('failure');
      return result;
    }
    try {
      // Flush first: a device that reconnects the moment its SA dies must meet a fresh OCSP answer.
      await ctl.flushCerts('ocsp_response');
      result.ocspFlushed = true;
      await ctl.flushCerts('x509_crl');
      result.crlFlushed = true;
      const mine = (await ctl.listSas()).flatMap(ikeSasOf).filter((sa) => serialFromIdentity(sa.remoteId) === serial);
      for (const sa of mine) {
        await ctl.terminate({ ikeId: sa.uniqueId, force: true });
        result.terminated.push({ uniqueId: sa.uniqueId, name: sa.name, remoteHost: sa.remoteHost });
      }
    } catch (e) {
      result.error = e instanceof Error ? e.message : String(e);
      log.error({ serial, status, err: result.error }, 'segw: terminating the device over VICI failed');
      await record('failure');
      return result;
    }
    if (result.terminated.length > 0) {
      log.info({ serial, status, ikeSas: result.terminated.length }, 'segw: terminated live IKE SAs of a blocked device');
      await record('success');
    }
    return result;
  }

  /**
   * What the previous run left: its live sessions join `live`, so the first connect's reconcile
   * sends the downs of those charon no longer lists; its undelivered downs are sent again (same
   * event ids: a repeat is a duplicate).
   */
  function restoreState(path: string): void {
    const restored = loadBridgeState(path, log);
    for (const s of restored.sessions) live.set(sessionKeyOf(s.sa), { sessionId: s.sessionId, sa: s.sa });
    for (const d of restored.downs) pendingDowns.set(d.id, d);
    if (restored.sessions.length || restored.downs.length) log.info({ stateFile: path, sessions: restored.sessions.length, downs: restored.downs.length }, 'segw: sessions from the previous run restored; reconciled at connect');
    if (restored.downs.length) void enqueue(() => deliver(restored.downs));
  }

  return {
    start(): void {
      if (started) return;
      started = true;
      if (deps.stateFile) restoreState(deps.stateFile);
      void connect();
      if (deps.sweepMs) {
        sweepTimer = setInterval(() => void sweep().catch((e: unknown) => log.warn({ err: String(e) }, 'segw: sweep failed')), deps.sweepMs);
        sweepTimer.unref();
      }
    },
    ready(): Promise<void> {
      if (isReady) return Promise.resolve();
      return new Promise((resolve) => readyWaiters.push(resolve));
    },
    get connected(): boolean {
      return events !== null && control !== null;
    },
    block,
    sweep,
    async drain(): Promise<void> {
      await work;
      await flush();
    },
    async stop(): Promise<void> {
      stopped = true;
      if (retryTimer) clearTimeout(retryTimer);
      if (flushTimer) clearTimeout(flushTimer);
      if (sweepTimer) clearInterval(sweepTimer);
      for (const r of rechecks.values()) clearTimeout(r.timer);
      rechecks.clear();
      await work.catch(() => undefined);
      await flush().catch(() => undefined);
      // After the last delivery attempt: what is still owed is what the next run must send.
      await stateWriter?.close();
      dropConnections();
      const waiters = readyWaiters;
      readyWaiters = [];
      for (const w of waiters) w();
    },
  };
}

/** `ike-rekey` nests the SA bodies under `old`/`new`; give them a name so `ikeSasOf` reads them. */
function wrap(sa: ViciMessage | undefined): ViciMessage {
  const m = Object.create(null) as ViciMessage;
  if (sa) m.sa = sa;
  return m;
}
