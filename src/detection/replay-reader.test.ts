import { describe, expect, it } from 'vitest';
import { EventDecoder, OrderedIntake, validateEvent, type FgEvent } from '../events/index.js';
import { detectionConfigSchema } from './config.js';
import { ReplayReader, SCANNED, type OrderedBatch } from './replay-reader.js';

const config = detectionConfigSchema.parse({});
const T0 = Date.parse('2025-08-05T00:00:00Z');
const MIN = 60_000;

/** The ids of the events a reader hands on, in order. */
function idsOut(batches: OrderedBatch[]): string[] {
  const d = new EventDecoder();
  const out: string[] = [];
  for (const b of batches) {
    const buf = Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength);
    for (let i = 0; i < b.rows; i++) {
      const e = b.kinds[i] === SCANNED ? d.decode(buf, b.rec, i) : (validateEvent(JSON.parse(buf.toString('utf8', b.spans[2 * i], b.spans[2 * i + 1]))) as { event: FgEvent }).event;
      out.push(e.id as string);
    }
  }
  return out;
}

describe('ReplayReader', () => {
  it('ok/memory follows the events held, not the batches they came in: one waiting event per batch of late ones does not pin every batch', () => {
    // Per round: one event at the newest time (it waits for the ten-minute horizon, and no later
    // event ever comes), then 4,095 events 20 minutes older (late: they go out at once).
    const lines: string[] = [];
    const rounds = 120;
    for (let k = 0; k < rounds; k++) {
      lines.push(JSON.stringify({ type: 'ue.attach', cellId: '45008-1', imsi: '450080000000001', ts: T0 + k, id: `held-${k}` }));
      for (let j = 0; j < 4095; j++) lines.push(JSON.stringify({ type: 'ue.attach', cellId: '45008-1', imsi: '450080000000002', ts: T0 - 20 * MIN, id: `late-${k}-${j}` }));
    }
    const batches: OrderedBatch[] = [];
    const reader = new ReplayReader(config, (b) => batches.push(b));
    let most = 0;
    const text = Buffer.from(lines.join('\n') + '\n');
    for (let i = 0; i < text.length; i += 1 << 16) {
      reader.push(text.subarray(i, i + (1 << 16)));
      most = Math.max(most, reader.pinnedBatches);
    }
    reader.end();
    expect(reader.compactions).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(33);
    expect(reader.pinnedBatches).toBe(0);

    // The order is the engine's own (OrderedIntake over parsed events), moved events included.
    const expected: string[] = [];
    const intake = new OrderedIntake<FgEvent>(config.maxOutOfOrderMs, config.dedupWindowMs, (e) => expected.push(e.id as string));
    for (const l of lines) intake.push((validateEvent(JSON.parse(l)) as { event: FgEvent }).event);
    intake.reorder.flush();
    const got = idsOut(batches);
    expect(got.length).toBe(rounds * 4096);
    expect(got).toEqual(expected);
    expect(reader.summary()).toMatchObject({ accepted: rounds * 4096, late: rounds * 4095, duplicates: 0 });
  }, 60_000);

  it('ok/ties on time, repeated ids and lines the scanner leaves (ids then parsed) give the order and drops of the engine\'s own intake', () => {
    const lines: string[] = [];
    let seed = 3;
    const r = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let n = 0; n < 20_000; n++) {
      const id = r() < 0.9 ? `e${Math.floor(r() * 15_000)}${r() < 0.3 ? 'x' : ''}` : undefined;
      const ts = T0 + Math.floor(n / 4 + r() * 40) * 1000;
      // An escape sends the line to JSON.parse (its id is then a parsed string); so does a non-ASCII id.
      const cellId = r() < 0.2 ? '45008-\\u0031' : '45008-1';
      const idText = id !== undefined && r() < 0.05 ? `${id}\u00e9` : id;
      lines.push(`{"type":"ue.attach","cellId":"${cellId}","imsi":"450080000000001","ts":${ts}${idText !== undefined ? `,"id":"${idText}"` : ''}}`);
    }
    const batches: OrderedBatch[] = [];
    const reader = new ReplayReader(config, (b) => batches.push(b));
    const text = Buffer.from(lines.join('\n') + '\n');
    for (let i = 0; i < text.length; i += 7777) reader.push(text.subarray(i, i + 7777));
    reader.end();

    const expected: string[] = [];
    const intake = new OrderedIntake<FgEvent>(config.maxOutOfOrderMs, config.dedupWindowMs, (e) => expected.push(`${e.t}/${e.id ?? ''}`));
    for (const l of lines) intake.push((validateEvent(JSON.parse(l)) as { event: FgEvent }).event);
    intake.reorder.flush();
    const d = new EventDecoder();
    const got: string[] = [];
    for (const b of batches) {
      const buf = Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength);
      for (let i = 0; i < b.rows; i++) {
        const e = b.kinds[i] === SCANNED ? d.decode(buf, b.rec, i) : (validateEvent(JSON.parse(buf.toString('utf8', b.spans[2 * i], b.spans[2 * i + 1]))) as { event: FgEvent }).event;
        got.push(`${e.t}/${e.id ?? ''}`);
      }
    }
    expect(got).toEqual(expected);
    expect(intake.duplicates).toBeGreaterThan(1000);
    const sum = reader.summary();
    expect(sum.duplicates).toBe(intake.duplicates);
    expect(sum.scanned).toBeGreaterThan(10_000);
    expect(sum.scanned).toBeLessThan(lines.length);
  });

  it('ok/events read out of their batch\'s order (stragglers, events far ahead) go out in the engine\'s order, batches handed back at once or never, any horizon', () => {
    const lines: string[] = [];
    let seed = 11;
    const r = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let n = 0; n < 40_000; n++) {
      // Mostly in order; 2% up to five minutes behind, 0.1% an hour ahead (held past many batches).
      const jitter = r() < 0.02 ? -Math.floor(r() * 5 * MIN) : r() < 0.001 ? 60 * MIN : 0;
      const ts = T0 + n * 50 + jitter;
      const pad = 'x'.repeat(Math.floor(r() * 200));
      lines.push(JSON.stringify({ type: 'ue.attach', cellId: `45008-${n % 13}`, imsi: '450080000000001', imei: `35${pad}`, ts, id: `s${n}` }));
    }
    const text = Buffer.from(lines.join('\n') + '\n');
    for (const maxOutOfOrderMs of [config.maxOutOfOrderMs, 0]) {
      const cfg = { ...config, maxOutOfOrderMs };
      const expected: string[] = [];
      const intake = new OrderedIntake<FgEvent>(cfg.maxOutOfOrderMs, cfg.dedupWindowMs, (e) => expected.push(`${e.t}/${e.id ?? ''}/${(e as { imei?: string }).imei ?? ''}`));
      for (const l of lines) intake.push((validateEvent(JSON.parse(l)) as { event: FgEvent }).event);
      intake.reorder.flush();
      for (const reuse of [true, false]) {
        const d = new EventDecoder();
        const got: string[] = [];
        let base = 0;
        const reader: ReplayReader = new ReplayReader(cfg, (b) => {
          expect(b.base).toBe(base);
          base += b.rows;
          const buf = Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength);
          for (let i = 0; i < b.rows; i++) {
            const e = d.decode(buf, b.rec, i);
            got.push(`${e.t}/${e.id ?? ''}/${(e as { imei?: string }).imei ?? ''}`);
          }
          if (reuse) reader.reuse(b);
        });
        for (let i = 0; i < text.length; i += 10_007) reader.push(text.subarray(i, i + 10_007));
        reader.end();
        expect(got).toEqual(expected);
        expect(reader.pinnedBatches).toBe(0);
      }
    }
  }, 60_000);

  it('ok/a caller may reuse its chunk buffer between pushes: every line is read from the bytes of its own push', () => {
    const line = (k: number): string => JSON.stringify({ type: 'ue.attach', cellId: '45008-1', imsi: '450080000000001', ts: T0 + k * 1000, id: `r${k}` });
    const chunk = Buffer.alloc(line(0).length + 1);
    const batches: OrderedBatch[] = [];
    const reader = new ReplayReader(config, (b) => batches.push(b));
    for (let k = 0; k < 9; k++) {
      chunk.write(`${line(k)}\n`); // same length each time: same buffer, same offsets, new bytes
      reader.push(chunk);
    }
    reader.end();
    expect(idsOut(batches)).toEqual(Array.from({ length: 9 }, (_, k) => `r${k}`));
  });

  it('ok/batches handed back through reuse are written again and read as fresh ones do (records of other shapes were in their rows)', () => {
    // Types and optional fields vary line by line, so a reused row held a record of another shape.
    const lines: string[] = [];
    for (let k = 0; k < 30_000; k++) {
      const ts = T0 + k * 100;
      const id = `u${k}`;
      const shape = k % 5;
      if (shape === 0) lines.push(JSON.stringify({ type: 'femto.report', serial: `S${k % 7}`, ts, id, ...(k % 3 === 0 ? { gps: { lat: 37.5, lon: 127 + k / 1e5, accuracyM: 10 } } : {}), ...(k % 2 === 0 ? { cellIds: ['45008-1', `45008-${k % 9}`] } : {}) }));
      else if (shape === 1) lines.push(JSON.stringify({ type: 'ue.attach', cellId: `45008-${k % 11}`, imsi: `45008000000${k % 1000}`, ts, id, ...(k % 2 === 0 ? { imei: `35${k}` } : {}) }));
      else if (shape === 2) lines.push(JSON.stringify({ type: 'ims.register', imsi: `45008000000${k % 1000}`, ipsec: k % 3 === 0, ts, id, ...(k % 4 === 0 ? { msisdn: `8210${k}` } : {}) }));
      else if (shape === 3) lines.push(JSON.stringify({ type: 'payment.auth', txId: `tx${k}`, msisdn: `8210${k % 50}`, amountMinor: k, currency: 'KRW', ts, id, ...(k % 2 === 0 ? { merchant: `m${k % 13}` } : {}) }));
      else lines.push(JSON.stringify({ type: 'femto.session', serial: `S${k % 7}`, phase: k % 2 === 0 ? 'up' : 'down', sourceIp: '10.0.0.1', ts, id }));
    }
    const text = Buffer.from(lines.join('\n') + '\n');
    const read = (reuse: boolean): { events: string[]; distinct: number } => {
      const d = new EventDecoder();
      const events: string[] = [];
      const seen = new Set<OrderedBatch>();
      const reader: ReplayReader = new ReplayReader(config, (b) => {
        seen.add(b);
        const buf = Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength);
        for (let i = 0; i < b.rows; i++) events.push(JSON.stringify(b.kinds[i] === SCANNED ? d.decode(buf, b.rec, i) : JSON.parse(buf.toString('utf8', b.spans[2 * i], b.spans[2 * i + 1]))));
        if (reuse) reader.reuse(b);
      });
      for (let i = 0; i < text.length; i += 1 << 16) reader.push(text.subarray(i, i + (1 << 16)));
      reader.end();
      return { events, distinct: seen.size };
    };
    const fresh = read(false);
    const reused = read(true);
    expect(fresh.distinct).toBeGreaterThan(5);
    // Handed back at once, batches come round again: the few that hold the horizon's lines, not one per batch.
    expect(reused.distinct).toBeLessThanOrEqual(4);
    expect(reused.events).toEqual(fresh.events);
    expect(fresh.events.length).toBe(lines.length);
  });
});
