import { describe, expect, it } from 'vitest';
import { EventDecoder } from './fast-decode.js';
import { ATTACH, decodeLine, defined, IMS, PAY, REPORT, SAMPLES, SESSION, scanOne, slowPath, TS } from './fast-scan-kit.js';
import { createRecords, scanEvent } from './fast-scan.js';
import type { FemtoReportEvent, FgEvent } from './types.js';

describe('EventDecoder errors', () => {
  it('fail/decode of a row that was not scanned throws', () => {
    expect(() => new EventDecoder().decode(Buffer.alloc(0), createRecords(1), 0)).toThrow(/no scanned event/);
  });

  it('fail/cacheBits out of range', () => {
    expect(() => new EventDecoder({ cacheBits: 0 })).toThrow(RangeError);
    expect(() => new EventDecoder({ cacheBits: 25 })).toThrow(RangeError);
    expect(() => new EventDecoder({ cacheBits: 1.5 })).toThrow(RangeError);
  });
});

describe('EventDecoder objects and interning', () => {
  it('ok/every type has one fixed key order, whatever the input order and optional fields', () => {
    const d = new EventDecoder();
    const keys = (line: string): string[] => Object.keys(decodeLine(d, line));
    expect(keys(REPORT)).toEqual(['type', 'ts', 'id', 't', 'serial', 'sourceIp', 'cellIds', 'gps', 'neighbors', 'swVersion', 'configHash']);
    expect(keys(`{"ts":1754003493715,"serial":"s","type":"femto.report"}`)).toEqual(keys(REPORT));
    expect(keys(SESSION)).toEqual(['type', 'ts', 'id', 't', 'serial', 'phase', 'sourceIp', 'certFingerprint', 'cellIds', 'endpoint', 'sessionId']);
    expect(keys(`{"sourceIp":"x","phase":"down","serial":"s","ts":${TS},"type":"femto.session"}`)).toEqual(keys(SESSION));
    expect(keys(ATTACH)).toEqual(['type', 'ts', 'id', 't', 'cellId', 'imsi', 'imei', 'msisdn']);
    expect(keys(IMS)).toEqual(['type', 'ts', 'id', 't', 'imsi', 'ipsec', 'cellId', 'msisdn']);
    expect(keys(PAY)).toEqual(['type', 'ts', 'id', 't', 'txId', 'msisdn', 'amountMinor', 'currency', 'method', 'merchant']);
    // gps keeps the line's order (an alert's evidence may carry it, as JSON.parse gave it).
    const gps = (line: string): string[] => Object.keys((decodeLine(d, line) as { gps: object }).gps);
    expect(gps(`{"type":"femto.report","serial":"s","gps":{"lon":2,"lat":1},"ts":${TS}}`)).toEqual(['lon', 'lat']);
    expect(gps(`{"type":"femto.report","serial":"s","gps":{"accuracyM":3,"lat":1,"lon":2},"ts":${TS}}`)).toEqual(['accuracyM', 'lat', 'lon']);
    expect(gps(`{"type":"femto.report","serial":"s","gps":{"lat":1,"lon":2},"ts":${TS}}`)).toEqual(['lat', 'lon']);
    expect(gps(REPORT)).toEqual(['lat', 'lon', 'accuracyM']);
  });

  it('ok/the same bytes give the same string and cellIds instances; those arrays are frozen', () => {
    const d = new EventDecoder();
    const a = decodeLine(d, REPORT) as Extract<FgEvent, { type: 'femto.report' }>;
    const b = decodeLine(d, REPORT.replace('"e9895"', '"e9896"').replace('"ts":', ' "ts" : ')) as typeof a;
    expect(a).not.toBe(b);
    expect(b.serial).toBe(a.serial);
    expect(b.sourceIp).toBe(a.sourceIp);
    expect(b.cellIds).toBe(a.cellIds);
    expect(Object.isFrozen(a.cellIds)).toBe(true);
    // neighbour scans rarely repeat as a whole: a fresh array each time, its elements interned
    expect(b.neighbors).toEqual(a.neighbors);
    expect(b.neighbors).not.toBe(a.neighbors);
    expect(b.neighbors![0]).toBe(a.neighbors![0]);
    expect(b.neighbors![1]).toBe(a.neighbors![1]);
    expect(() => (a.cellIds as string[]).push('x')).toThrow(TypeError);
    // elements are interned too: a ue.attach on the report's cell shares the cellId string
    const attach = decodeLine(d, `{"type":"ue.attach","cellId":"45008-200000057","imsi":"12345","ts":${TS}}`) as Extract<FgEvent, { type: 'ue.attach' }>;
    expect(attach.cellId).toBe(a.cellIds![0]);
    // different bytes, different values
    const c = decodeLine(d, REPORT.replace('KTF000057', 'KTF000058').replace('"45008-200000057"]', '"45008-200000058"]')) as typeof a;
    expect(c.serial).toBe('KTF000058');
    expect(c.cellIds).toEqual(['45008-200000058']);
    expect(c.neighbors).toEqual(a.neighbors);
  });

  it('ok/colliding slots still decode the right values (1-bit caches)', () => {
    const d = new EventDecoder({ cacheBits: 1 });
    for (let k = 0; k < 50; k++) {
      const line = `{"type":"femto.report","serial":"S${k}","cellIds":["C${k}","C${k + 1}"],"neighbors":["C${k}"],"ts":${TS}}`;
      expect(defined(decodeLine(d, line))).toStrictEqual(slowPath(Buffer.from(line)));
    }
  });

  it('ok/a million distinct serials keep the caches at their slot count', () => {
    const d = new EventDecoder({ cacheBits: 12 });
    const rec = createRecords(1);
    const prefix = Buffer.from('{"type":"femto.report","cellIds":["45008-200000057"],"serial":"450080');
    const suffix = Buffer.from(`","ts":${TS}}`);
    const line = Buffer.concat([prefix, Buffer.from('000000000'), suffix]);
    const digits = prefix.length;
    let last: FgEvent | undefined;
    for (let k = 0; k < 1_000_000; k++) {
      let v = k;
      for (let x = 8; x >= 0; x--) {
        line[digits + x] = 48 + (v % 10);
        v = Math.floor(v / 10);
      }
      if (!scanEvent(line, 0, line.length, rec, 0)) throw new Error(`not scanned at ${k}`);
      last = d.decode(line, rec, 0);
    }
    expect((last as Extract<FgEvent, { type: 'femto.report' }>).serial).toBe('450080000999999');
    const stats = d.cacheStats();
    expect(stats.stringSlots).toBe(3 * 4096);
    expect(stats.listSlots).toBe(4096);
    // the device cache filled up (its 4096 slots) and kept churning, not growing; the cell cache holds one
    expect(stats.strings).toBeLessThanOrEqual(4096 + 1);
    expect(stats.strings).toBeGreaterThan(3000);
    // the one cellIds list, repeated a million times, holds one slot
    expect(stats.lists).toBe(1);
  });

  it('ok/neighbour ids that share a slot, or never repeat, still decode to the right values (the cache stays bounded)', () => {
    const d = new EventDecoder({ cacheBits: 1 });
    for (let k = 0; k < 2000; k++) {
      const line = `{"type":"femto.report","serial":"S","neighbors":["N${k}","N${k % 7}","N${k}","N${(k * 31) % 1000}"],"ts":${TS}}`;
      expect(defined(decodeLine(d, line))).toStrictEqual(slowPath(Buffer.from(line)));
    }
    const big = new EventDecoder({ cacheBits: 16 });
    for (let k = 0; k < 20_000; k++) decodeLine(big, `{"type":"femto.report","serial":"S","neighbors":["N${k}"],"ts":${TS}}`);
    expect(big.cacheStats().stringSlots).toBe(2 * 65536 + 4096);
    expect(big.cacheStats().strings).toBeLessThanOrEqual(1 + 4096);
  });

  it('ok/id is a plain string or undefined', () => {
    const d = new EventDecoder();
    const rec = scanOne(ATTACH)!;
    expect(d.id(Buffer.from(ATTACH), rec, 0)).toBe('e17727');
    const noId = `{"type":"ue.attach","cellId":"c","imsi":"12345","ts":${TS}}`;
    expect(d.id(Buffer.from(noId), scanOne(noId)!, 0)).toBeUndefined();
  });

  it('ok/decodeForEngine: every field of decode, a report\'s ts, id, swVersion and configHash read when asked', () => {
    const d = new EventDecoder();
    const read = (e: FgEvent): Record<string, unknown> => {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(decodeLine(new EventDecoder(), REPORT))) out[k] = (e as unknown as Record<string, unknown>)[k];
      return out;
    };
    const lines = [...SAMPLES, `{"type":"femto.report","serial":"s","ts":1754003493715}`, REPORT.replace(`"ts":${TS}`, '"ts":1754003493715')];
    for (const line of lines) {
      const rec = scanOne(line)!;
      const e = d.decodeForEngine(Buffer.from(line), rec, 0);
      const want = slowPath(Buffer.from(line))!;
      if (want.type !== 'femto.report') expect(defined(e)).toStrictEqual(defined(want));
      else {
        expect(read(e)).toEqual(read(want));
        expect(e.type).toBe('femto.report');
      }
    }
    // the lazy fields read the batch's bytes: valid while the line is (the engine reads them before returning)
    const buf = Buffer.from(REPORT);
    const e = d.decodeForEngine(buf, scanOne(REPORT)!, 0) as Extract<FgEvent, { type: 'femto.report' }>;
    expect([e.id, e.ts, e.swVersion, e.configHash]).toEqual(['e9895', '2025-08-05T02:14:09.123Z', 'FW-4.2.1', 'sha256:00ff']);
  });

  it('ok/decodeForEngine: a report\'s neighbours numbered from the bytes (a string made only for a cell not held), and made as strings when asked', () => {
    type Scanned = { neighborText: number; neighborNos(cells: unknown, out: Int32Array): number; neighbors?: string[] };
    const names: string[] = [];
    const made: string[] = [];
    const cells = {
      numberOfBytes: (buf: Uint8Array, s: number, n: number): number => names.indexOf(Buffer.from(buf.subarray(s, s + n)).toString('latin1')),
      no: (id: string): number => (made.push(id), names.push(id) - 1),
    };
    const d = new EventDecoder();
    const line = `{"type":"femto.report","serial":"s","neighbors":[ "A-1" , "B-22","A-1","C"],"ts":${TS}}`;
    const e = d.decodeForEngine(Buffer.from(line), scanOne(line)!, 0) as unknown as Scanned;
    const out = new Int32Array(((e.neighborText / 3) | 0) + 1);
    expect(e.neighborText).toBe('[ "A-1" , "B-22","A-1","C"]'.length);
    expect(e.neighborNos(cells, out)).toBe(4);
    expect([...out.subarray(0, 4)]).toEqual([0, 1, 0, 2]);
    expect(made).toEqual(['A-1', 'B-22', 'C']);
    expect(e.neighbors).toEqual(['A-1', 'B-22', 'A-1', 'C']);
    expect(e.neighbors).toBe(e.neighbors);
    for (const l of [`{"type":"femto.report","serial":"s","ts":${TS}}`, `{"type":"femto.report","serial":"s","neighbors":[],"ts":${TS}}`]) {
      const x = d.decodeForEngine(Buffer.from(l), scanOne(l)!, 0) as unknown as Scanned;
      expect([x.neighborText, x.neighbors]).toEqual(l.includes('[]') ? [2, []] : [-1, undefined]);
      if (x.neighborText >= 0) expect(x.neighborNos(cells, out)).toBe(0);
    }
  });
  it('ok/decodeForEngine: a report\'s fix made when asked, in the line\'s key order, and as numbers (fixInto) without an object', () => {
    type Scanned = FemtoReportEvent & { fixInto(out: Float64Array): void };
    const d = new EventDecoder();
    const out = new Float64Array(4);
    for (const gps of ['{"lat":37.5,"lon":127.25,"accuracyM":12.5}', '{"lat":37.5,"lon":127.25}', '{"accuracyM":12.5,"lon":127.25,"lat":37.5}', '{"lon":127.25,"lat":37.5}']) {
      const line = `{"type":"femto.report","serial":"s","gps":${gps},"ts":${TS}}`;
      const e = d.decodeForEngine(Buffer.from(line), scanOne(line)!, 0) as Scanned;
      out.fill(-1);
      e.fixInto(out);
      expect([...out]).toEqual([1, 37.5, 127.25, gps.includes('accuracyM') ? 12.5 : 0]);
      expect(JSON.stringify(e.gps)).toBe(gps);
      expect(e.gps).toBe(e.gps);
    }
    const none = `{"type":"femto.report","serial":"s","ts":${TS}}`;
    const e = d.decodeForEngine(Buffer.from(none), scanOne(none)!, 0) as Scanned;
    e.fixInto(out);
    expect(out[0]).toBe(0);
    expect(e.gps).toBeUndefined();
  });
  it('fail/decodeForEngine: once released, a report\'s lazy fields throw instead of reading a reused batch; what was read stays', () => {
    const d = new EventDecoder();
    const line = `{"type":"femto.report","serial":"s","id":"r1","neighbors":["A-1"],"swVersion":"v1","ts":${TS}}`;
    const buf = Buffer.from(line);
    const e = d.decodeForEngine(buf, scanOne(line)!, 0) as FemtoReportEvent;
    expect(e.neighbors).toEqual(['A-1']);
    d.release(e);
    buf.fill(0x20); // the batch is reused
    expect(e.neighbors).toEqual(['A-1']);
    expect(e.serial).toBe('s');
    for (const read of [() => e.id, () => e.ts, () => e.swVersion, () => e.configHash, () => e.gps]) expect(read).toThrow(/read after its batch was handed back/);
    // A plain event (a session, a line the scanner left) has nothing to let go.
    const s = `{"type":"femto.session","serial":"s","phase":"up","sourceIp":"10.0.0.1","ts":${TS}}`;
    const session = d.decodeForEngine(Buffer.from(s), scanOne(s)!, 0);
    d.release(session);
    expect(session.type).toBe('femto.session');
  });
  it('ok/decodeForEngine: a report\'s serial taken from the record `devices` find by its bytes, else interned; warmDevices touches reports\' serials only', () => {
    const rec = { serial: 'KTF000057', ipLast: undefined, announcedFrom: undefined };
    const asked: string[] = [];
    const warmed: number[] = [];
    const devices = {
      ofSerialBytes: (buf: Uint8Array, s: number, n: number): typeof rec | undefined => {
        const serial = Buffer.from(buf.subarray(s, s + n)).toString('latin1');
        asked.push(serial);
        return serial === rec.serial ? rec : undefined;
      },
      warm: (h: number): number => (warmed.push(h), 0),
    };
    type Scanned = { serial: string; device: unknown; serialHash: number };
    const d = new EventDecoder({ devices });
    const found = d.decodeForEngine(Buffer.from(REPORT), scanOne(REPORT)!, 0) as unknown as Scanned;
    expect(found.serial).toBe(rec.serial);
    expect(found.device).toBe(rec);
    const other = REPORT.replace('KTF000057', 'KTF000058');
    const missed = d.decodeForEngine(Buffer.from(other), scanOne(other)!, 0) as unknown as Scanned;
    expect([missed.serial, missed.device]).toEqual(['KTF000058', undefined]);
    expect(missed.serialHash).not.toBe(found.serialHash);
    // a session is decoded as by `decode`: no lookup
    expect((d.decodeForEngine(Buffer.from(SESSION), scanOne(SESSION)!, 0) as FgEvent & { serial: string }).serial).toBe('KTF000001');
    expect(asked).toEqual(['KTF000057', 'KTF000058']);
    expect(d.warmDevices(scanOne(REPORT)!, 0, 1)).toBe(0);
    expect(d.warmDevices(scanOne(SESSION)!, 0, 1)).toBe(0);
    expect(warmed).toEqual([found.serialHash]);
    // without devices: interned, no record
    const plain = new EventDecoder().decodeForEngine(Buffer.from(REPORT), scanOne(REPORT)!, 0) as unknown as Scanned;
    expect([plain.serial, plain.device]).toEqual(['KTF000057', undefined]);
  });
  it('ok/decodeForEngine: a report repeating its device\'s last sourceIp or cellIds gets those instances; other values are decoded', () => {
    const ip = ['175.201.247', '182'].join('.'); // made at run time: not the literal's instance
    const list = Object.freeze(['45008-200000057']);
    const rec: { serial: string; ipLast: string | undefined; announcedFrom: readonly string[] | undefined } = { serial: 'KTF000057', ipLast: ip, announcedFrom: list };
    const d = new EventDecoder({ devices: { ofSerialBytes: () => rec, warm: () => 0 } });
    const report = (line: string): FemtoReportEvent => d.decodeForEngine(Buffer.from(line), scanOne(line)!, 0) as FemtoReportEvent;
    const same = report(REPORT);
    expect(same.sourceIp).toBe(ip);
    expect(same.cellIds).toBe(list);
    // Same length, other characters (last, first); another list text of the same cell count; a longer list.
    for (const [from, to] of [
      ['"175.201.247.182"', '"175.201.247.183"'],
      ['"175.201.247.182"', '"275.201.247.182"'],
      ['"45008-200000057"', '"45008-200000058"'],
      ['["45008-200000057"]', '["45008-200000057","45008-200000057"]'],
      ['["45008-200000057"]', '[]'],
    ] as const) {
      const line = REPORT.replace(from, to);
      const e = report(line);
      const plain = new EventDecoder().decode(Buffer.from(line), scanOne(line)!, 0) as FemtoReportEvent;
      expect([e.sourceIp, e.cellIds]).toEqual([plain.sourceIp, plain.cellIds]);
    }
    // Without a last address or list on the record: decoded as ever.
    rec.ipLast = undefined;
    rec.announcedFrom = undefined;
    const fresh = report(REPORT);
    expect([fresh.sourceIp, fresh.cellIds]).toEqual(['175.201.247.182', ['45008-200000057']]);
    expect(fresh.cellIds).not.toBe(list);
    expect(Object.isFrozen(fresh.cellIds)).toBe(true);
  });
});
