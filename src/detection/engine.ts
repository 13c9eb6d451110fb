import type { FgEvent, RegistryUpdateEvent } from '../events/index.js';
import { OrderedIntake } from '../events/index.js';
import type { DeviceInput } from '../registry/index.js';
import { AlertBook, SEVERITY_RANK, type Alert, type Finding } from './alerts.js';
import { CellNumbers } from './cell-numbers.js';
import type { RuleId } from './config.js';
import { runsOn, type FlagEvent } from './partition.js';
import type { Rule, RuleContext } from './rule.js';
import { createRules } from './rules/index.js';
import { TypeCounts } from './type-counts.js';
import { CellFlags, type CellFlagRecord } from './cell-flags.js';
import { CellRecords } from './cell-records.js';
import { UNKNOWN_DEVICE_CAP, type EngineOptions, type EngineStats } from './engine-options.js';
import { DeviceRecords } from './device-records.js';
import { announceCells, markHeldCellNos, pruneDevice, relocates, seeAddress, SubscriberIndex, type DeviceRuntime, type DeviceView } from './state.js';

export { UNKNOWN_DEVICE_CAP, type EngineOptions, type EngineStats } from './engine-options.js';

/**
 * What a report from EventDecoder.decodeForEngine (the replay's reports) has beyond the event
 * contract: its neighbour cells numbered from the line's bytes (ScannedReport in
 * events/fast-decode.ts). Other reports (live detection's, parsed lines) have no `neighborNos`.
 */
interface ScannedNeighbors {
  /** the length in bytes of the `neighbors` list's text, -1 when the line has none */
  readonly neighborText: number;
  neighborNos?: (cells: CellNumbers, out: Int32Array) => number;
  /** the record the engine's DeviceRecords (`ofSerialBytes`) found for the serial when it was decoded */
  readonly device?: DeviceRuntime;
  /** the scanner's hash of the serial's bytes (DeviceRecords' key) */
  readonly serialHash?: number;
  /** puts the fix's numbers into RuleContext.gpsFix's array, read from the scanned record (no `gps` object made) */
  fixInto?: (out: Float64Array) => void;
}

/** Rules whose findings do not make a cell suspicious (they are about payments or idleness). */
const NON_FLAGGING = new Set<RuleId>(['payment-exposure', 'idle-device']);
const TICK_MS = 60_000;
const EXPIRE_EVERY_MS = 3_600_000;

/**
 * The detection engine: one instance per stream. The live server and `femtoguard detect` feed
 * it the same way (`push`), so the same input gives the same alerts. Event time drives every
 * window; arrival order within `maxOutOfOrderMs` does not matter; ids are deduplicated.
 */
export function createEngine(opts: EngineOptions) {
  const { registry, config } = opts;
  const part = opts.partition;
  const deviceSide = part?.side !== 'subscriber';
  const subscriberSide = part?.side !== 'device';
  const rules: Rule[] = createRules().filter((r) => part === undefined || runsOn(r.id, part.side));
  // Handlers by event type, taken off the rule objects once: calling each rule's optional
  // method on twelve rule objects of twelve shapes made every call a megamorphic property load.
  const handlers = <K extends keyof Rule>(k: K): NonNullable<Rule[K]>[] => rules.map((r) => r[k]).filter((h): h is NonNullable<Rule[K]> => h !== undefined);
  const byType = {
    session: handlers('onSession'),
    report: handlers('onReport'),
    attach: handlers('onAttach'),
    ims: handlers('onIms'),
    payment: handlers('onPayment'),
    update: handlers('onRegistryUpdate'),
    tick: handlers('onTick'),
  };
  const book = new AlertBook(opts.alertRetention);
  const subscribers = new SubscriberIndex();
  const flagRetentionMs = config.rules['payment-exposure'].flagRetentionMs;
  const flags = new CellFlags(flagRetentionMs, opts.trackFlags === true);
  // Device records by serial (device-records.ts: registered ones kept, unknown ones capped).
  const devices = new DeviceRecords(registry, Math.max(1, opts.unknownDeviceCap ?? UNKNOWN_DEVICE_CAP));
  const recordOf = (serial: string): DeviceRuntime | undefined => devices.get(serial);
  /** A registry record changed: the device's and its cells' records follow. */
  function changed(before: DeviceView | undefined, after: DeviceView): void {
    devices.adopt(after.serial);
    cells.registrationChanged(before?.cellIds, after.cellIds);
  }

  const cells = new CellRecords(registry);
  // Cell numbers (RuleContext.cellNo): device-chosen ids, so ids nothing holds are swept (see
  // CellNumbers). The only places a number outlives the report that interned it are on the
  // device records, all marked by `markHeldCellNos`.
  const cellNos = new CellNumbers(opts.cellSweepMin);
  let neighborIds = new Int32Array(64);
  let neighborCount = 0;
  const gpsFix = new Float64Array(4);
  const stats: EngineStats = { events: 0, byType: {}, duplicates: 0, late: 0, tooOld: 0, findings: 0 };
  const typeCounts = new TypeCounts(['femto.report', 'ue.attach', 'ims.register', 'femto.session', 'payment.auth', 'registry.update']);
  let startT = NaN;
  let lastT = -Infinity;
  let nextTick = -Infinity;
  let nextExpire = -Infinity;
  const sessionBounds = { livenessMs: config.rules['credential-shared'].sessionLivenessMs, gatewayMs: config.rules['credential-shared'].gatewaySessionMaxMs };
  // Subscribers are kept as long as the longest look-back that needs them.
  const retentionMs = Math.max(config.rules['payment-exposure'].lookbackMs, config.rules['subscriber-surge'].windowMs) + config.maxOutOfOrderMs;
  /** the longest per-cell window: a cell quiet for longer (and the dedup window) is forgotten or folded (CellRecords.expire) */
  const cellWindowMs = Math.max(config.rules['subscriber-surge'].windowMs, config.rules['ims-downgrade'].windowMs);

  /** order number of the event being processed (the reader's, or this engine's own count) */
  let seq = 0;
  let ownSeq = 0;
  const onFlag = part?.side === 'device' ? part.onFlag : undefined;
  const flag = (cellId: string, t: number, rule: RuleId): void => {
    // A partitioned subscriber side first takes in the device side's flags raised before this
    // event (waiting for them, as before a payment), so that flags meet CellFlags in the order
    // of their events, as in one engine: whether a flag starts a new episode depends on it.
    if (part?.side === 'subscriber') absorb(part.flagsBefore(seq, true));
    flags.flag(cellId, t, rule);
    onFlag?.({ cellId, t, rule, seq });
  };

  /** The device side's flags, on a partitioned subscriber side. */
  function absorb(fs: readonly FlagEvent[]): void {
    for (const f of fs) flags.flag(f.cellId, f.t, f.rule);
  }

  function raise(f: Finding): void {
    stats.findings++;
    const { alert, isNew, severityBefore } = book.fold(f, seq);
    if (!NON_FLAGGING.has(f.rule) && SEVERITY_RANK[f.severity] >= SEVERITY_RANK.medium) {
      if (f.cellId) flag(f.cellId, f.t, f.rule);
      if (f.serial) {
        const reg = registry.get(f.serial);
        if (reg) for (const c of reg.cellIds) flag(c, f.t, f.rule);
        const rt = recordOf(f.serial);
        if (rt) for (const c of rt.announced) flag(c, f.t, f.rule);
      }
    }
    opts.onAlert?.(alert, isNew, f, severityBefore);
  }

  const ctx: RuleContext = {
    cfg: config.rules,
    registry,
    subscribers,
    flags,
    runtime: recordOf,
    get startT() {
      return startT;
    },
    raise,
    raised: (rule, s) => book.has({ rule, ...s }),
    cellNo: cellNos.no,
    cellName: cellNos.name,
    get neighborIds() {
      return neighborIds;
    },
    get neighborCount() {
      return neighborCount;
    },
    gpsFix,
  };

  /** Between reports (no number is in flight outside the device records): sweeps the cell numbers when due. */
  const sweepCellNos = (): void => {
    if (cellNos.sweepDue) cellNos.sweep((mark) => markHeldCellNos(mark, devices.all()), devices.size);
  };

  function tick(t: number, final = false): void {
    for (const h of byType.tick) h(t, ctx, final);
    // Not on the final pass: nothing comes after it to forget for (and a partitioned
    // subscriber side would wait for a device batch that never comes).
    if (!final && t >= nextExpire) {
      subscribers.expire(t - retentionMs, t - Math.max(retentionMs, config.subscriberLinkRetentionMs));
      // No event older than the dedup window is let in (OrderedIntake: tooOld), so nothing
      // dropped below can be asked for again: a flag older than that plus its retention
      // cannot count for any payment to come, nor can a cell's old windows take an attach.
      const reach = t - config.dedupWindowMs;
      // A partitioned subscriber side first takes in every device-side flag raised before this
      // event, so that it forgets exactly what one engine would (device-side ticks raise none).
      if (part?.side === 'subscriber') absorb(part.flagsBefore(seq, true));
      flags.expire(reach - flagRetentionMs);
      cells.expire(reach - cellWindowMs, config.rules['subscriber-surge'].baselineAlpha);
      book.expire(t);
      nextExpire = t + EXPIRE_EVERY_MS;
    }
  }

  // Registry records changed at a known time (live detection's registry poll), not yet in
  // force: each takes effect just before the first event at or after its time, so events
  // still in the reorder horizon and older than the change are judged against the record they
  // were sent under (what a `registry.update` event gives `femtoguard detect`). Sorted by time,
  // then arrival; consumed from `changesHead`.
  const changes: ({ t: number; d: DeviceInput } | undefined)[] = [];
  let changesHead = 0;
  /** the time of the oldest held change (Infinity when none) */
  const nextChangeT = (): number => changes[changesHead]?.t ?? Infinity;

  /** Puts into force every held registry change with a time at or before `t`. */
  function applyChanges(t: number): void {
    while (nextChangeT() <= t) {
      const c = changes[changesHead] as { t: number; d: DeviceInput };
      changes[changesHead++] = undefined;
      const before = registry.get(c.d.serial);
      const after = registry.put(c.d);
      changed(before, after);
      // A relocation recorded by the operator starts the location rules over, as the same
      // change given as a `registry.update` event does (a status change does not: it is no move).
      if (relocates(before, after)) {
        const u: RegistryUpdateEvent = { type: 'registry.update', serial: after.serial, ts: c.t, t: c.t };
        for (const h of byType.update) h(u, before, after, ctx);
      }
    }
    if (changesHead === changes.length) {
      changes.length = 0;
      changesHead = 0;
    }
  }

  /** What every event does, whichever side's rules it runs: time moves, ticks, registry changes. */
  function advance(t: number): void {
    if (changesHead < changes.length && nextChangeT() <= t) applyChanges(t);
    if (Number.isNaN(startT)) startT = t;
    if (t > lastT) lastT = t;
    if (t >= nextTick) {
      tick(t);
      nextTick = t + TICK_MS;
    }
  }

  function process(e: FgEvent): void {
    advance(e.t);
    stats.events++;
    // Counted by a switch on the type, not `byType[e.type]++`: a keyed store with a freshly
    // parsed string key had to internalize the string on every event.
    let k: number;
    switch (e.type) {
      case 'femto.report':
        k = 0;
        break;
      case 'ue.attach':
        k = 1;
        break;
      case 'ims.register':
        k = 2;
        break;
      case 'femto.session':
        k = 3;
        break;
      case 'payment.auth':
        k = 4;
        break;
      default:
        k = 5;
    }
    typeCounts.add(k);
    // A partitioned engine (EngineOptions.partition) runs only its side's events past this point.
    if (k === 1 || k === 2 || k === 4 ? !subscriberSide : k === 5 ? false : !deviceSide) {
      opts.onProcessed?.(e);
      return;
    }
    switch (e.type) {
      case 'femto.session': {
        // The cells an event announces are set before the rules run, so that a finding raised
        // by this very event flags them (payment-exposure counts from the first alert).
        const rt = devices.of(e.serial, e.t);
        if (e.phase === 'up' && e.cellIds) announceCells(rt, e.cellIds);
        for (const h of byType.session) h(e, ctx, rt);
        const key = e.sessionId ?? e.sourceIp;
        pruneDevice(rt, e.t, sessionBounds);
        if (e.phase === 'up') {
          // One session per address: an earlier one from the same address that never came down
          // (a lost `down`, a new IKE SA) is replaced, so such sessions do not pile up (two
          // sessions from one address are never a clone).
          for (const [k, x] of rt.sessions) if (x.ip === e.sourceIp && k !== key) rt.sessions.delete(k);
          rt.sessions.set(key, { ip: e.sourceIp, upAt: e.t, gateway: e.sessionId !== undefined, retiredAt: -Infinity });
        } else if (!rt.sessions.delete(key)) {
          // A `down` naming no session held here (another id, or none): the sessions from its
          // address are over. A gateway session would otherwise stay live for gatewaySessionMaxMs
          // and make the unit's next address look like a clone.
          for (const [k, x] of rt.sessions) if (x.ip === e.sourceIp) rt.sessions.delete(k);
        }
        seeAddress(rt, e.sourceIp, e.t);
        break;
      }
      case 'femto.report': {
        // A replayed report (EventDecoder.decodeForEngine) comes with its device's record when
        // `deviceRecords` held it, and numbers its neighbours from the line's bytes, making
        // their strings only if a rule asks for `neighbors` (evidence).
        const scanned = e as typeof e & ScannedNeighbors;
        const found = scanned.device;
        const rt = found !== undefined ? devices.seen(found, e.t) : devices.of(e.serial, e.t, scanned.serialHash);
        // `!== undefined`, not a truth test, which would load the list (a shared, cold array) to learn it is one.
        if (e.cellIds !== undefined) announceCells(rt, e.cellIds);
        if (scanned.neighborNos !== undefined) {
          const text = scanned.neighborText;
          neighborCount = 0;
          if (text >= 0) {
            sweepCellNos();
            // at most one cell per three bytes of the list's text (`"",` each)
            const room = ((text / 3) | 0) + 1;
            if (room > neighborIds.length) neighborIds = new Int32Array(room);
            neighborCount = scanned.neighborNos(cellNos, neighborIds);
          }
        } else {
          const nb = e.neighbors;
          neighborCount = 0;
          if (nb) {
            sweepCellNos();
            if (nb.length > neighborIds.length) neighborIds = new Int32Array(nb.length);
            const cellNo = cellNos.no;
            for (let i = 0; i < nb.length; i++) neighborIds[i] = cellNo(nb[i] as string);
            neighborCount = nb.length;
          }
        }
        if (scanned.fixInto !== undefined) scanned.fixInto(gpsFix);
        else {
          const g = e.gps;
          gpsFix[0] = g === undefined ? 0 : 1;
          if (g !== undefined) {
            gpsFix[1] = g.lat;
            gpsFix[2] = g.lon;
            gpsFix[3] = g.accuracyM ?? 0;
          }
        }
        for (const h of byType.report) h(e, ctx, rt);
        if (e.sourceIp) {
          // A new address: the old ones may be forgotten (pruneDevice). The last one is known.
          if (e.sourceIp !== rt.ipLast && !rt.ipSeen.has(e.sourceIp)) pruneDevice(rt, e.t, sessionBounds);
          seeAddress(rt, e.sourceIp, e.t);
        }
        break;
      }
      case 'ue.attach': {
        // subscriber-surge keeps no IMSI string (DistinctImsis): the event's own is read while fresh.
        // The identifiers go by their keys (SubscriberIds): a decoder may have them from the bytes.
        subscribers.observeIds(e, e.t, e.cellId);
        const cell = cells.of(e.cellId, e.t);
        for (const h of byType.attach) h(e, ctx, cell);
        break;
      }
      case 'ims.register': {
        subscribers.observeIds(e, e.t, e.cellId);
        const cell = e.cellId ? cells.of(e.cellId, e.t) : undefined;
        for (const h of byType.ims) h(e, ctx, cell);
        break;
      }
      case 'payment.auth':
        if (part?.side === 'subscriber') absorb(part.flagsBefore(seq, true));
        for (const h of byType.payment) h(e, ctx);
        break;
      case 'registry.update': {
        // Only a relocation starts the location rules over, as for a change from the live
        // registry poll (applyChanges): the same engine must judge the same change the same way.
        const { before, after } = registry.applyUpdate(e);
        changed(before, after);
        if (relocates(before, after)) for (const h of byType.update) h(e, before, after, ctx);
        break;
      }
    }
    opts.onProcessed?.(e);
  }

  const intake = new OrderedIntake<FgEvent>(config.maxOutOfOrderMs, config.dedupWindowMs, (e) => {
    seq = ownSeq++;
    process(e);
  });
  const reorder = intake.reorder;

  return {
    /**
     * Registered devices' records by their serial's bytes, for a decoder of replayed reports
     * (EventDecoder's `devices`): such a report names its record, and the engine skips looking it up.
     */
    deviceRecords: devices,
    /** Feeds one validated event (any arrival order within the out-of-order limit); false when it was dropped (duplicate id, or older than the dedup window). */
    push(e: FgEvent): boolean {
      return intake.push(e);
    },
    /**
     * Processes one event now: for a reader that has already deduplicated and ordered its
     * events with its own OrderedIntake (`femtoguard detect`, which does so on another
     * thread). `order` is the event's position in the ordered stream (cell flags and alert
     * folding remember it, so that two partitioned engines' results merge exactly). Mixing it
     * with `push` on one engine would break the order.
     */
    processOrdered(e: FgEvent, order: number): void {
      seq = order;
      process(e);
    },
    /**
     * Subscriber side of a partitioned engine: takes in the device side's flags raised before
     * order number `seq` that have arrived, so that they do not wait for the next payment
     * (a stream with few payments would hold them all).
     */
    absorbFlags(before: number): void {
      if (part?.side === 'subscriber') absorb(part.flagsBefore(before, false));
    },
    /** An event of the other side of a partitioned engine, in its turn: only its time counts here. */
    advanceOrdered(t: number, order: number): void {
      // A tick it sets off runs as part of this event: what it raises carries its order number.
      seq = order;
      advance(t);
    },
    /** Folding data of the alerts, to merge two partitioned engines' alerts (AlertBook.merge). */
    alertBook: (): AlertBook => book,
    /**
     * A registry record changed at `t` (epoch ms, the registry's `updatedAt`): it takes effect
     * in event order, before the first event at or after `t`. A change older than the
     * watermark (every event before it processed already) takes effect at once, after any held
     * change older than it; so does one whose time is not a number. Either way it is the newest
     * read of the device's record: held changes of the same device are dropped (the newest
     * record wins).
     */
    registryChange(d: DeviceInput, t: number): void {
      // A device the engine has no record of (and none on the way) is in force at once: there
      // is no earlier record to judge its older events against, and events that reach detection
      // after a device was registered are a backfill of its history far more often than
      // traffic from before its registration (which admission refuses anyway).
      if (!registry.get(d.serial) && !changes.some((c) => c?.d.serial === d.serial)) {
        changed(undefined, registry.put(d));
        return;
      }
      const at = Number.isFinite(t) ? t : -Infinity;
      let i = changes.length;
      while (i > changesHead && (changes[i - 1] as { t: number }).t > at) i--; // usually none: polls come in time order
      changes.splice(i, 0, { t: at, d });
      if (!(at >= reorder.watermark)) {
        applyChanges(at);
        // In force now: a change of the same device still held (a later time than this one's,
        // or any time when this one has none) is an older read of the registry than this one,
        // and applied later it would put the older record back. The newest record wins.
        let k = changesHead;
        for (let j = changesHead; j < changes.length; j++) {
          const c = changes[j] as { t: number; d: DeviceInput };
          if (c.d.serial !== d.serial) changes[k++] = c;
        }
        changes.length = k;
        if (changesHead === k) changesHead = changes.length = 0;
      }
    },
    /** With `trackFlags`: the cells flagged since the last call, and the time before which a latest flag is forgotten (a store may forget it too). */
    takeFlagChanges(): { flags: CellFlagRecord[]; forgetBefore: number } {
      return { flags: flags.takeChanged(), forgetBefore: lastT - config.dedupWindowMs - flagRetentionMs };
    },
    /** Puts back flags kept from before a restart (CellFlags.restore), after the warm-up; skips those forgotten by now. Returns how many. */
    restoreFlags(records: readonly CellFlagRecord[]): number {
      const before = lastT - config.dedupWindowMs - flagRetentionMs;
      const kept = records.filter((r) => r.last >= before);
      for (const r of kept) flags.restore(r);
      return kept.length;
    },
    /** Processes everything the reorder buffer holds now (live mode, when the stream goes quiet). */
    drain(): void {
      reorder.flush();
    },
    /** End of input: processes what the reorder buffer still holds and runs the final tick. */
    finish(): void {
      reorder.flush();
      if (lastT > -Infinity) tick(lastT, true);
    },
    alerts: (): Alert[] => book.list(),
    stats: (): EngineStats => ({ ...stats, byType: typeCounts.byType(), duplicates: intake.duplicates, tooOld: intake.tooOld, late: intake.late }),
    /** Number of entities held (for the bounded-memory checks). */
    sizes: () => {
      let sessions = 0;
      let addresses = 0;
      for (const records of devices.all()) {
        for (const rt of records) {
          sessions += rt.sessions.size;
          addresses += rt.ipSeen.size;
        }
      }
      // devices: all records; unknownDevices: those of serials not in the registry (at most the cap)
      return { devices: devices.size, unknownDevices: devices.unknown, evictedDevices: devices.evicted, subscribers: subscribers.size, buffered: reorder.size, dedupIds: intake.dedupSize, sessions, addresses, cells: cells.size, cellFlags: flags.size, alerts: book.size, evictedAlerts: book.evicted, registryChanges: changes.length - changesHead, cellNos: cellNos.size, cellNoSlots: cellNos.slots, cellSweeps: cellNos.sweeps };
    },
  };
}

export type Engine = ReturnType<typeof createEngine>;
