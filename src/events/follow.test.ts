import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { memoryEventBus } from '../adapters/memory/bus.js';
import { openSqlite, sqliteEventStore } from '../adapters/sqlite/index.js';
import { followEventLog, forEachNdjsonLine } from './follow.js';
import type { NdjsonLine } from './ndjson.js';
import type { FgEvent, StoredEvent } from './index.js';

const ev = (i: number): FgEvent => ({ type: 'femto.report', serial: `S${i}`, ts: 1_760_000_000_000 + i, t: 1_760_000_000_000 + i, id: `e${i}` }) as FgEvent;

describe('followEventLog', () => {
  it('ok/catches up from the log, then follows the bus, with nothing missed or repeated while batches arrive during the catch-up', async () => {
    const events = sqliteEventStore(openSqlite(':memory:'));
    const bus = memoryEventBus();
    await events.append(Array.from({ length: 25 }, (_, i) => ev(i)));
    const seen: number[] = [];
    let publishedDuring = false;
    const { seq, unsubscribe } = await followEventLog({
      events,
      bus,
      afterSeq: 5,
      pageSize: 7,
      handle: async (b: readonly StoredEvent[]) => {
        seen.push(...b.map((x) => x.seq));
        if (!publishedDuring) {
          publishedDuring = true;
          // Appended then published while the consumer is still reading the log.
          const { stored } = await events.append([ev(100), ev(101)]);
          void bus.publish(stored);
        }
      },
    });
    const { stored } = await events.append([ev(200)]);
    await bus.publish(stored);
    unsubscribe();
    expect(seq).toBe(27);
    expect(seen).toEqual(Array.from({ length: 23 }, (_, i) => i + 6));
  });
});

describe('forEachNdjsonLine', () => {
  it('ok/lines split across chunks come out whole, with byte progress; fail/a bad line is reported by number', async () => {
    const lines: NdjsonLine[] = [];
    const progress: number[] = [];
    await forEachNdjsonLine(Readable.from(['{"a":', '1}\n\n{bad\n', '{"b":2}']), (l) => lines.push(l), (b) => progress.push(b));
    expect(lines.map((l) => ('error' in l ? `E${l.line}` : JSON.stringify(l.value)))).toEqual(['{"a":1}', 'E3', '{"b":2}']);
    expect(progress).toEqual([5, 14, 21]);
  });
});
