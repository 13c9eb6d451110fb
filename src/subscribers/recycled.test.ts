/**
 * A recycled number (FORMATS.md §1 events): the old owner's payments before the number moved
 * stay his, the new owner's after it are hers, offline and from the exposure index alike, in
 * whatever order the events come.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqlite, type SqliteDb } from '../adapters/sqlite/index.js';
import { sqliteExposureStore } from '../adapters/sqlite/exposure-store.js';
import { validateEvent, type FgEvent } from '../events/index.js';
import { ExposureAggregator } from './aggregate.js';
import { impactFromEvents } from './impact-offline.js';
import { impactFromStore } from './impact-store.js';
import type { ImpactResult } from './impact.js';
import { holderAt, type ExposureStore } from './types.js';

const D0 = Date.parse('2026-11-28T00:00:00Z');
const HOUR = 3_600_000;
const at = (h: number): number => D0 + Math.round(h * HOUR);
const policy = { highWithinMs: 2 * HOUR, mediumWithinMs: 24 * HOUR };
const OLD = '450080000001173';
const NEW = '450080000000000';
const NUMBER = '+821010001173';
const attach = (h: number, cellId: string, imsi: string, msisdn: string | null = NUMBER) => ({ type: 'ue.attach', ts: at(h), cellId, imsi, ...(msisdn ? { msisdn } : {}) });
const pay = (h: number, txId: string) => ({ type: 'payment.auth', ts: at(h), txId, msisdn: NUMBER, amountMinor: 5000, currency: 'KRW', method: 'sms-otp' });

/** The old owner on ROGUE, pays; the number moves to NEW at 11:00; NEW pays, later on ROGUE too, pays again. */
const STORY = [
  attach(10, 'ROGUE', OLD),
  pay(10.5, 'txOLD'),
  attach(11, 'HOME', NEW),
  pay(11.2, 'txNEW-unexposed'),
  attach(11.5, 'ROGUE', OLD, null),
  attach(12, 'ROGUE', NEW),
  pay(12.5, 'txNEW'),
];
const events = (raw: readonly Record<string, unknown>[]): FgEvent[] =>
  raw.map((o) => {
    const v = validateEvent(o);
    if (!v.ok) throw new Error(JSON.stringify(v));
    return v.event;
  });
const ndjson = (raw: readonly Record<string, unknown>[]): string[] => raw.map((o) => JSON.stringify({ ...o, ts: new Date(o.ts as number).toISOString() }) + '\n');
const offline = async (raw: readonly Record<string, unknown>[]): Promise<ImpactResult> =>
  (await impactFromEvents({ events: ndjson(raw), cells: ['ROGUE'], from: D0, to: D0 + 86_400_000, policy })).result;

/** Who pays what, and which number each subscriber row shows. */
function attribution(r: ImpactResult): { payments: string[]; subscribers: string[] } {
  return {
    payments: r.payments.map((p) => `${p.txId}:${p.imsi}:${p.atRisk}`).sort(),
    subscribers: r.subscribers.map((s) => `${s.imsi}:${s.msisdn ?? ''}:${s.paymentsAtRisk}`).sort(),
  };
}
const EXPECTED = {
  payments: [`txNEW:${NEW}:true`, `txOLD:${OLD}:true`],
  subscribers: [`${NEW}:${NUMBER}:1`, `${OLD}::1`],
};

describe('holderAt', () => {
  it('ok/the newest link at or before the time; before any, the first holder', () => {
    const links = [
      { msisdn: NUMBER, imsi: OLD, since: 10 },
      { msisdn: NUMBER, imsi: NEW, since: 20 },
    ];
    expect([holderAt(links, 5), holderAt(links, 10), holderAt(links, 19), holderAt(links, 20), holderAt(links, 99)]).toEqual([OLD, OLD, OLD, NEW, NEW]);
    expect(holderAt([], 1)).toBeUndefined();
  });
});

describe('impact analysis: a recycled number', () => {
  it('ok/offline: each payment belongs to whoever held the number at its time; the old owner shows no number', async () => {
    expect(attribution(await offline(STORY))).toEqual(EXPECTED);
  });

  it('ok/offline: the order of the file does not matter', async () => {
    expect(attribution(await offline([...STORY].reverse()))).toEqual(EXPECTED);
  });

  it('ok/offline: a number never recycled keeps all its payments (the first holder, even before its first link)', async () => {
    const r = await offline([pay(9.9, 'txEARLY'), attach(10, 'ROGUE', OLD), pay(10.5, 'txOLD')]);
    expect(attribution(r)).toEqual({ payments: [`txOLD:${OLD}:true`], subscribers: [`${OLD}:${NUMBER}:1`] });
  });

  describe('from the exposure index', () => {
    let db: SqliteDb;
    let store: ExposureStore;
    beforeEach(() => {
      db = openSqlite(':memory:');
      store = sqliteExposureStore(db);
    });
    afterEach(() => db.close());
    const write = async (raw: readonly Record<string, unknown>[]): Promise<void> => {
      const g = new ExposureAggregator();
      for (const e of events(raw)) g.add(e);
      await store.apply(g.take(null));
    };
    const fromStore = (): Promise<ImpactResult> => impactFromStore(store, { cells: ['ROGUE'], from: D0, to: D0 + 86_400_000 }, policy);

    it('ok/batches before and after the move: as offline', async () => {
      await write(STORY.slice(0, 2));
      await write(STORY.slice(2));
      expect(attribution(await fromStore())).toEqual(EXPECTED);
    });

    it('ok/one batch, or the batches in reverse order: as offline', async () => {
      await write(STORY);
      expect(attribution(await fromStore())).toEqual(EXPECTED);
      db.close();
      db = openSqlite(':memory:');
      store = sqliteExposureStore(db);
      await write(STORY.slice(2));
      await write(STORY.slice(0, 2));
      expect(attribution(await fromStore())).toEqual(EXPECTED);
    });
  });
});
