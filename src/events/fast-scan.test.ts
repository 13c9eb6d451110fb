import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../../bench/gen-events.js';
import { copyRecord, createRecords, recordTime, scanEvent, type EventRecords } from './fast-scan.js';
import { EventDecoder } from './fast-decode.js';
import type { FgEvent } from './types.js';
import { absentVariants, ATTACH, defined, IMS, LONG_FRACTION_TS, PAY, REPORT, requiredWrittenEmpty, scanOne, SESSION, slowPath, TS } from './fast-scan-kit.js';

const SAMPLE = '/work/shared/samples/kt-small/events.ndjson';

/** mulberry32: a seeded PRNG so the fuzz corpus is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Lines of an NDJSON file as the splitter hands them over: no '\n', one trailing '\r' removed, blank lines skipped. */
function splitLines(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  while (start < bytes.length) {
    let nl = bytes.indexOf(10, start);
    if (nl === -1) nl = bytes.length;
    const line = callerView(bytes.subarray(start, nl));
    if (line) out.push(line);
    start = nl + 1;
  }
  return out;
}

/** What ndjson.ts parseLine does before parsing: strip one '\r', skip space/tab-only lines. */
function callerView(line: Buffer): Buffer | null {
  let end = line.length;
  if (end > 0 && line[end - 1] === 13) end--;
  let i = 0;
  while (i < end && (line[i] === 32 || line[i] === 9)) i++;
  return i === end ? null : line.subarray(0, end);
}

interface Tally {
  fast: number;
  slowOnly: number;
  rejected: number;
  failures: string[];
}

/**
 * The differential check: a line the scanner takes must be one the slow path accepts, decoded
 * to the same event (by a roomy decoder and by a tiny one, whose slots collide all the time);
 * a line the slow path refuses must be refused by the scanner. The scanner must never throw.
 */
function check(lines: Buffer[], rec: EventRecords, decoders: EventDecoder[]): Tally {
  const tally: Tally = { fast: 0, slowOnly: 0, rejected: 0, failures: [] };
  for (let k = 0; k < lines.length; k++) {
    const line = lines[k]!;
    const row = k % 7;
    let fast: boolean;
    try {
      fast = scanEvent(line, 0, line.length, rec, row);
    } catch (e) {
      tally.failures.push(`threw ${String(e)} on ${JSON.stringify(line.toString('latin1'))}`);
      continue;
    }
    const slow = slowPath(line);
    if (!fast) {
      if (slow) tally.slowOnly++;
      else tally.rejected++;
      continue;
    }
    tally.fast++;
    if (!slow) {
      tally.failures.push(`fast path took a line the slow path refuses: ${JSON.stringify(line.toString('latin1'))}`);
      continue;
    }
    for (const decoder of decoders) {
      const event = decoder.decode(line, rec, row);
      // Nested objects keep their key order too: a rule's evidence may carry one (gps) into an alert.
      const gpsText = (e: FgEvent): string | undefined => (e.type === 'femto.report' && e.gps ? JSON.stringify(e.gps) : undefined);
      if (!isDeepStrictEqual(defined(event), slow) || gpsText(event) !== gpsText(slow) || recordTime(rec, row) !== slow.t || decoder.id(line, rec, row) !== slow.id) {
        tally.failures.push(`decoded differently: ${JSON.stringify(line.toString('latin1'))}\n  fast ${JSON.stringify(event)}\n  slow ${JSON.stringify(slow)}`);
        break;
      }
    }
  }
  return tally;
}

let tmp = '';
let generated: Buffer[] = [];
let sample: Buffer[] = [];

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'fg-fast-scan-'));
  const r = generate({ dir: tmp, devices: 200, events: 20_000, seed: 3 });
  generated = splitLines(readFileSync(r.eventsPath));
  sample = splitLines(readFileSync(SAMPLE));
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('scanEvent + EventDecoder against JSON.parse + validateEvent', () => {
  it('ok/kt-small sample: every line agrees', () => {
    const t = check(sample, createRecords(7), [new EventDecoder(), new EventDecoder({ cacheBits: 2 })]);
    expect(t.failures).toEqual([]);
    expect(t.fast).toBeGreaterThan(0.99 * sample.length);
  });

  it('ok/generated stream: every line agrees, and at least 99% take the fast path', () => {
    const t = check(generated, createRecords(7), [new EventDecoder(), new EventDecoder({ cacheBits: 2 })]);
    expect(t.failures).toEqual([]);
    expect(generated.length).toBeGreaterThan(20_000);
    expect(t.fast / generated.length).toBeGreaterThanOrEqual(0.99);
    // The generator's malformed lines and registry.update events go the slow way.
    expect(t.slowOnly + t.rejected).toBeGreaterThan(0);
  });

  it('ok/fuzz: 60,000 mutants of real lines agree', () => {
    const rnd = prng(20250805);
    const seeds = [...sample.filter((_, k) => k % 7 === 0), ...generated.filter((_, k) => k % 11 === 0)].map((b) => b.toString('latin1'));
    const values = collectValues(seeds);
    const mutants: Buffer[] = [];
    while (mutants.length < 60_000) {
      let m: Buffer = Buffer.from(seeds[Math.floor(rnd() * seeds.length)]!, 'latin1');
      const rounds = 1 + Math.floor(rnd() * 3);
      for (let r = 0; r < rounds; r++) m = mutate(m, rnd, values);
      const line = callerView(m.includes(10) ? m.subarray(0, m.indexOf(10)) : m);
      if (line) mutants.push(line);
    }
    const t = check(mutants, createRecords(7), [new EventDecoder(), new EventDecoder({ cacheBits: 1 })]);
    expect(t.failures.slice(0, 5)).toEqual([]);
    // The corpus must exercise all three outcomes, or the check proves little.
    expect(t.fast).toBeGreaterThan(5_000);
    expect(t.slowOnly).toBeGreaterThan(2_000);
    expect(t.rejected).toBeGreaterThan(5_000);
  });
});

/** Values seen in the corpus (strings, numbers, arrays, objects, booleans), to swap between keys and types. */
function collectValues(lines: string[]): string[] {
  const out = new Set<string>(['null', 'true', 'false', '{}', '[]', '""', '0', '-0', '[null]', '{"lat":1}']);
  for (const l of lines) {
    try {
      for (const v of Object.values(JSON.parse(l) as Record<string, unknown>)) out.add(JSON.stringify(v));
    } catch {
      // malformed seed lines are mutated too, they just contribute no values
    }
  }
  return [...out];
}

const KEYS = ['type', 'ts', 'id', 'serial', 'sourceIp', 'cellIds', 'gps', 'neighbors', 'swVersion', 'configHash', 'phase', 'certFingerprint', 'endpoint', 'sessionId', 'cellId', 'imsi', 'imei', 'msisdn', 'ipsec', 'txId', 'amountMinor', 'currency', 'method', 'merchant', 'lat', 'lon', 'accuracyM', 'siteLat', 't', 'Type', 'serial ', '__proto__'];
const NUMBER_FORMS = ['1e3', '01', '-0', '1.50', '1.', '.5', '+1', '0x10', '1E+2', '1e-2', '-', '1e400', '-1e400', '9007199254740993', '9007199254740992', '1754276400011.0', '1754276400011e0', '17542764000110e-1', '1.754276400011e12', '0.0', '-0.0', '37.6005910', '37.60059100000000001', '90', '90.0000000000001', '-180', '180.5', '1e1', '00', '-01', '2e', '3.e1', '1.5', '100000', '-100000'];
const TS_FORMS = [...LONG_FRACTION_TS, '"2025-08-05T02:14:09Z"', '"2025-08-05T02:14:09.123456789Z"', '"2025-08-05 02:14:09Z"', '"2025-08-05t02:14:09z"', '"2025-02-29T02:14:09.000Z"', '"2024-02-29T02:14:09.000Z"', '"2025-08-05T02:14:60.000Z"', '"2025-08-05T02:14:09.123+24:00"', '"2025-08-05T02:14:09.123-00:00"', '"2025-08-05T02:14:09"', '"1754276400011"', '"2100-01-01T00:00:00.000Z"', '"1999-12-31T23:59:59.999Z"', '"2099-12-31T23:59:59.999-09:30"', '"2025-13-05T02:14:09.000Z"', '1754276400011', '1754276400', '946684800000', '4102444800000', '946684799999'];
const JUNK = ['\\"', '\\u0041', '\\n', '\\\\', 'é', '\u00e9', '\u0000', '\u007f', '\u00ff', '\ufeff', '"', ',', ':', '{', '}', '[', ']', 'null', ' ', '\t', '\r'];

/** One random mutation of a line: byte-level damage or a structural rewrite. */
function mutate(line: Buffer, rnd: () => number, values: string[]): Buffer {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const pos = (): number => Math.floor(rnd() * (line.length + 1));
  const text = line.toString('latin1');
  const at = (re: RegExp): RegExpExecArray | null => {
    const hits = [...text.matchAll(re)];
    return hits.length ? pick(hits) : null;
  };
  const splice = (from: number, to: number, insert: string): Buffer => Buffer.concat([line.subarray(0, from), Buffer.from(insert, 'utf8'), line.subarray(to)]);
  switch (Math.floor(rnd() * 16)) {
    case 0: {
      const b = Buffer.from(line);
      if (b.length) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      return b;
    }
    case 1: {
      const p = pos();
      return splice(p, Math.min(line.length, p + 1 + Math.floor(rnd() * 3)), '');
    }
    case 2: {
      const p = pos();
      const q = Math.min(line.length, p + Math.floor(rnd() * 12));
      return splice(q, q, text.slice(p, q));
    }
    case 3: {
      // whitespace between tokens (keeps the line valid) or anywhere
      const m = at(/[{}[\]:,]/g);
      const p = m && rnd() < 0.8 ? m.index + (rnd() < 0.5 ? 0 : 1) : pos();
      return splice(p, p, pick([' ', '\t', '\r', '  ', ' \t\r ']));
    }
    case 4: {
      // escapes: same value for JSON.parse, not for the fast path
      const m = at(/"[^"\\]*[A-Za-z][^"\\]*"/g);
      if (!m) return line;
      const inner = m[0].slice(1, -1);
      const k = inner.search(/[A-Za-z]/);
      const c = inner[k]!;
      const esc = rnd() < 0.5 ? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}` : `\\"`;
      return splice(m.index + 1 + k, m.index + 2 + k, rnd() < 0.7 ? esc : esc + c);
    }
    case 5: {
      const p = pos();
      return splice(p, p, pick(JUNK));
    }
    case 6: {
      const m = at(/(?<=:)-?\d+(\.\d+)?([eE][+-]?\d+)?/g);
      return m ? splice(m.index, m.index + m[0].length, pick(NUMBER_FORMS)) : line;
    }
    case 7: {
      const m = at(/"ts":("[^"]*"|\d+)/g);
      return m ? splice(m.index + 5, m.index + m[0].length, pick(TS_FORMS)) : line;
    }
    case 8: {
      // duplicate a key/value pair
      const m = at(/"[A-Za-z]+":("[^"]*"|-?[\d.eE+-]+|true|false|\[[^\]]*\]|\{[^}]*\})/g);
      const close = text.lastIndexOf('}');
      return m && close > 0 ? splice(close, close, ',' + m[0]) : line;
    }
    case 9: {
      const m = at(/"[A-Za-z_ ]+"(?=\s*:)/g);
      return m ? splice(m.index, m.index + m[0].length, `"${pick(KEYS)}"`) : line;
    }
    case 10: {
      // swap in a value from another key or type
      const m = at(/(?<=":)("[^"]*"|-?[\d.eE+-]+|true|false|\[[^\]]*\]|\{[^}]*\})/g);
      return m ? splice(m.index, m.index + m[0].length, pick(values)) : line;
    }
    case 11:
      return line.subarray(0, Math.floor(rnd() * line.length));
    case 12:
      return Buffer.concat([line, Buffer.from(pick([' ', '\t', '\r ', 'x', '}', ',', '{}', ' 1', '\u0000', '//']), 'utf8')]);
    case 13: {
      const m = at(/"(femto\.report|femto\.session|ue\.attach|ims\.register|payment\.auth|registry\.update)"/g);
      const types = ['"femto.report"', '"femto.session"', '"ue.attach"', '"ims.register"', '"payment.auth"', '"registry.update"', '"radio.weird"', '""', 'null', '1'];
      return m ? splice(m.index, m.index + m[0].length, pick(types)) : line;
    }
    case 14: {
      // drop a key/value pair
      const m = at(/,"[A-Za-z]+":("[^"]*"|-?[\d.eE+-]+|true|false|\[[^\]]*\]|\{[^}]*\})/g);
      return m ? splice(m.index, m.index + m[0].length, '') : line;
    }
    default: {
      const m = at(/(?<=":)"[^"]*"/g);
      const long = pick(['"' + 'x'.repeat(256) + '"', '"' + 'x'.repeat(257) + '"', '""', '"a"', '"12345"', '"1234"', '"KRW"', '"krw"', '"up"', '"down"', '"UP"']);
      return m ? splice(m.index, m.index + m[0].length, long) : Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), line]);
    }
  }
}

type Outcome = 'fast' | 'slow-only' | 'reject';
/** [name, line, expected outcome]: fast = both paths take it, slow-only = only JSON.parse + validateEvent, reject = neither. */
const EDGES: [string, string, Outcome][] = [
  ['ok/femto.report, all fields', REPORT, 'fast'],
  ['ok/femto.session, all fields', SESSION, 'fast'],
  ['ok/ue.attach, all fields', ATTACH, 'fast'],
  ['ok/ims.register, numeric ts', IMS, 'fast'],
  ['ok/payment.auth, all fields', PAY, 'fast'],
  ['ok/required fields only', `{"type":"payment.auth","txId":"t","msisdn":"m","amountMinor":0,"currency":"USD","ts":${TS}}`, 'fast'],
  ['ok/phase down, ipsec false', `{"type":"femto.session","serial":"s","phase":"down","sourceIp":"2001:db8::7","ts":${TS}}`, 'fast'],
  ['ok/ipsec false', `{"type":"ims.register","imsi":"12345","ipsec":false,"ts":${TS}}`, 'fast'],
  ['ok/whitespace between every token', ` {\t"type" :\r"ue.attach" , "cellId":"c",\t"imsi" : "123456789012345" ,"ts"\t:\t${TS} }\r\t `, 'fast'],
  ['ok/keys in any order', `{"ts":${TS},"imsi":"450080000000626","id":"x","cellId":"c","type":"ue.attach"}`, 'fast'],
  ['ok/gps without accuracyM, keys reordered', `{"type":"femto.report","serial":"s","gps":{ "lon":-180, "lat":90 },"ts":${TS}}`, 'fast'],
  ['ok/empty arrays', `{"type":"femto.report","serial":"s","cellIds":[],"neighbors":[ ],"ts":${TS}}`, 'fast'],
  ['ok/ts with offset', `{"type":"femto.report","serial":"s","ts":"2025-08-05T11:14:09.123+09:00"}`, 'fast'],
  ['ok/ts without fraction (general path)', `{"type":"femto.report","serial":"s","ts":"2025-08-05T02:14:09Z"}`, 'fast'],
  ['ok/ts with nanoseconds and space', `{"type":"femto.report","serial":"s","ts":"2025-08-05 02:14:09.123456789-03:30"}`, 'fast'],
  ['ok/ts leap day', `{"type":"femto.report","serial":"s","ts":"2024-02-29T00:00:00.000Z"}`, 'fast'],
  ['ok/numeric ts with exponent', `{"type":"femto.report","serial":"s","ts":1.754276400011e12}`, 'fast'],
  ['ok/numeric ts with fraction .0', `{"type":"femto.report","serial":"s","ts":1754276400011.0}`, 'fast'],
  ['ok/amountMinor 1e3', `{"type":"payment.auth","txId":"t","msisdn":"m","amountMinor":1e3,"currency":"KRW","ts":${TS}}`, 'fast'],
  ['ok/amountMinor -0', `{"type":"payment.auth","txId":"t","msisdn":"m","amountMinor":-0,"currency":"KRW","ts":${TS}}`, 'fast'],
  ['ok/amountMinor max safe integer', `{"type":"payment.auth","txId":"t","msisdn":"m","amountMinor":9007199254740991,"currency":"KRW","ts":${TS}}`, 'fast'],
  ['ok/lat 1.50, lon with 17 digits, accuracyM 0', `{"type":"femto.report","serial":"s","gps":{"lat":1.50,"lon":126.78855100000000001,"accuracyM":0},"ts":${TS}}`, 'fast'],
  ['ok/gps -0.0 and exponents', `{"type":"femto.report","serial":"s","gps":{"lat":-0.0,"lon":1.2E+2,"accuracyM":5e-1},"ts":${TS}}`, 'fast'],
  ['ok/256-character string', `{"type":"femto.report","serial":"${'x'.repeat(256)}","ts":${TS}}`, 'fast'],
  ['ok/1024-element array', `{"type":"femto.report","serial":"s","neighbors":[${Array(1024).fill('"n"').join(',')}],"ts":${TS}}`, 'fast'],
  ['ok/IMSI of 5 and 15 digits', `{"type":"ue.attach","cellId":"c","imsi":"12345","ts":${TS}}`, 'fast'],
  ['ok/printable ASCII punctuation in strings', `{"type":"femto.report","serial":"a~ !#$%&'()*+,-./:;<=>?@[]^_\`{|}","ts":${TS}}`, 'fast'],

  ['slow-only/registry.update', `{"type":"registry.update","serial":"s","siteLat":null,"siteLon":null,"ts":${TS}}`, 'slow-only'],
  ['slow-only/null optional field (absent)', `{"type":"femto.report","serial":"s","sourceIp":null,"ts":${TS}}`, 'slow-only'],
  ['slow-only/null id (absent)', `{"type":"femto.report","serial":"s","id":null,"ts":${TS}}`, 'slow-only'],
  ['slow-only/empty id (absent)', `{"type":"femto.report","serial":"s","id":"","ts":${TS}}`, 'slow-only'],
  ['slow-only/null gps (absent)', `{"type":"femto.report","serial":"s","gps":null,"ts":${TS}}`, 'slow-only'],
  ['slow-only/null accuracyM (absent)', `{"type":"femto.report","serial":"s","gps":{"lat":1,"lon":2,"accuracyM":null},"ts":${TS}}`, 'slow-only'],
  ['slow-only/null list (absent)', `{"type":"femto.session","serial":"s","phase":"up","sourceIp":"x","cellIds":null,"ts":${TS}}`, 'slow-only'],
  ['slow-only/empty optional string (absent)', `{"type":"ue.attach","cellId":"c","imsi":"12345","imei":"","msisdn":"","ts":${TS}}`, 'slow-only'],
  ['slow-only/empty endpoint and certFingerprint (absent)', `{"type":"femto.session","serial":"s","phase":"up","sourceIp":"x","endpoint":"","certFingerprint":"","ts":${TS}}`, 'slow-only'],
  ['ok/ts with ten fraction digits', `{"type":"femto.report","serial":"s","ts":"2025-08-05T02:14:09.1234567891Z"}`, 'fast'],
  ['ok/ts with 200 fraction digits and an offset', `{"type":"femto.report","serial":"s","ts":"2025-08-05T02:14:09.${'7'.repeat(200)}+09:00"}`, 'fast'],
  ['slow-only/unknown key', `{"type":"femto.report","serial":"s","vendor":"x","ts":${TS}}`, 'slow-only'],
  ['slow-only/unknown key inside gps', `{"type":"femto.report","serial":"s","gps":{"lat":1,"lon":2,"alt":3},"ts":${TS}}`, 'slow-only'],
  ['slow-only/duplicate key', `{"type":"femto.report","serial":"a","serial":"b","ts":${TS}}`, 'slow-only'],
  ['slow-only/duplicate key inside gps', `{"type":"femto.report","serial":"a","gps":{"lat":1,"lat":2,"lon":3},"ts":${TS}}`, 'slow-only'],
  ['slow-only/escaped quote', `{"type":"femto.report","serial":"a\\"b","ts":${TS}}`, 'slow-only'],
  ['slow-only/unicode escape', `{"type":"femto.report","serial":"\\u0041BC","ts":${TS}}`, 'slow-only'],
  ['slow-only/escaped key', `{"type":"femto.report","ser\\u0069al":"s","ts":${TS}}`, 'slow-only'],
  ['slow-only/non-ASCII string', `{"type":"femto.report","serial":"café","ts":${TS}}`, 'slow-only'],
  ['slow-only/escaped tab in id', `{"type":"femto.report","serial":"s","id":"a\\tb","ts":${TS}}`, 'slow-only'],
  ['ok/newline between tokens (JSON whitespace)', `{"type":"femto.report",\n"serial":"s","ts":${TS}}`, 'fast'],

  ['fail/null required field', `{"type":"femto.report","serial":null,"ts":${TS}}`, 'reject'],
  ['fail/null required field in a type with nulls elsewhere', `{"type":"femto.session","serial":"s","phase":null,"sourceIp":"x","endpoint":null,"ts":${TS}}`, 'reject'],
  ['fail/empty required string', `{"type":"payment.auth","txId":"t","msisdn":"","amountMinor":1,"currency":"KRW","method":null,"ts":${TS}}`, 'reject'],
  ['fail/empty string for a list', `{"type":"femto.report","serial":"s","cellIds":"","ts":${TS}}`, 'reject'],
  ['fail/null lat inside gps', `{"type":"femto.report","serial":"s","gps":{"lat":null,"lon":2},"ts":${TS}}`, 'reject'],
  ['fail/null ts', `{"type":"femto.report","serial":"s","ts":null}`, 'reject'],
  ['fail/null in list', `{"type":"femto.report","serial":"s","cellIds":[null],"ts":${TS}}`, 'reject'],
  ['fail/empty string', `{"type":"femto.report","serial":"","ts":${TS}}`, 'reject'],
  ['fail/empty string in list', `{"type":"femto.report","serial":"s","cellIds":[""],"ts":${TS}}`, 'reject'],
  ['fail/257-character string', `{"type":"femto.report","serial":"${'x'.repeat(257)}","ts":${TS}}`, 'reject'],
  ['fail/257-character list element', `{"type":"femto.report","serial":"s","cellIds":["${'x'.repeat(257)}"],"ts":${TS}}`, 'reject'],
  ['fail/1025-element array', `{"type":"femto.report","serial":"s","neighbors":[${Array(1025).fill('"n"').join(',')}],"ts":${TS}}`, 'reject'],
  ['fail/unknown type', `{"type":"radio.weird","ts":${TS}}`, 'reject'],
  ['fail/missing type', `{"serial":"s","ts":${TS}}`, 'reject'],
  ['fail/missing ts', `{"type":"femto.report","serial":"s"}`, 'reject'],
  ['fail/missing required field', `{"type":"ue.attach","imsi":"12345","ts":${TS}}`, 'reject'],
  ['fail/empty object', '{}', 'reject'],
  ['fail/array, not object', `[{"type":"femto.report","serial":"s","ts":${TS}}]`, 'reject'],
  ['fail/BOM', `\ufeff{"type":"femto.report","serial":"s","ts":${TS}}`, 'reject'],
  ['fail/trailing garbage', `{"type":"femto.report","serial":"s","ts":${TS}}x`, 'reject'],
  ['fail/two objects', `{"type":"femto.report","serial":"s","ts":${TS}}{}`, 'reject'],
  ['fail/trailing comma', `{"type":"femto.report","serial":"s","ts":${TS},}`, 'reject'],
  ['fail/truncated', `{"type":"femto.report","serial":"s","ts":${TS}`, 'reject'],
  ['fail/truncated inside a string', `{"type":"femto.report","serial":"s`, 'reject'],
  ['fail/NUL byte in string', `{"type":"femto.report","serial":"a\u0000b","ts":${TS}}`, 'reject'],
  ['fail/raw tab in string', `{"type":"femto.report","serial":"a\tb","ts":${TS}}`, 'reject'],
  ['fail/IMSI of 4 digits', `{"type":"ue.attach","cellId":"c","imsi":"1234","ts":${TS}}`, 'reject'],
  ['fail/IMSI of 16 digits', `{"type":"ue.attach","cellId":"c","imsi":"1234567890123456","ts":${TS}}`, 'reject'],
  ['fail/IMSI with a letter', `{"type":"ims.register","imsi":"4500800000A0626","ipsec":true,"ts":${TS}}`, 'reject'],
  ['fail/IMSI as number', `{"type":"ims.register","imsi":450080000002060,"ipsec":true,"ts":${TS}}`, 'reject'],
  ['fail/currency lowercase', `{"type":"payment.auth","txId":"t","msisdn":"m","amountMinor":1,"currency":"krw","ts":${TS}}`, 'reject'],
  ['fail/currency of 4 letters', `{"type":"payment.auth","txId":"t","msisdn":"m","amountMinor":1,"currency":"KRWW","ts":${TS}}`, 'reject'],
  ['fail/amountMinor 1.5', `{"type":"payment.auth","txId":"t","msisdn":"m","amountMinor":1.5,"currency":"KRW","ts":${TS}}`, 'reject'],
  ['fail/amountMinor not safe', `{"type":"payment.auth","txId":"t","msisdn":"m","amountMinor":9007199254740992,"currency":"KRW","ts":${TS}}`, 'reject'],
  ['fail/amountMinor as string', `{"type":"payment.auth","txId":"t","msisdn":"m","amountMinor":"100","currency":"KRW","ts":${TS}}`, 'reject'],
  ['fail/lat out of range', `{"type":"femto.report","serial":"s","gps":{"lat":90.0000001,"lon":0},"ts":${TS}}`, 'reject'],
  ['fail/lon out of range', `{"type":"femto.report","serial":"s","gps":{"lat":0,"lon":-180.5},"ts":${TS}}`, 'reject'],
  ['fail/accuracyM negative', `{"type":"femto.report","serial":"s","gps":{"lat":0,"lon":0,"accuracyM":-1},"ts":${TS}}`, 'reject'],
  ['fail/gps missing lon', `{"type":"femto.report","serial":"s","gps":{"lat":0},"ts":${TS}}`, 'reject'],
  ['fail/gps lat as string', `{"type":"femto.report","serial":"s","gps":{"lat":"1","lon":0},"ts":${TS}}`, 'reject'],
  ['fail/gps overflow to Infinity', `{"type":"femto.report","serial":"s","gps":{"lat":0,"lon":0,"accuracyM":1e400},"ts":${TS}}`, 'reject'],
  ['fail/phase UP', `{"type":"femto.session","serial":"s","phase":"UP","sourceIp":"x","ts":${TS}}`, 'reject'],
  ['fail/ipsec as string', `{"type":"ims.register","imsi":"12345","ipsec":"true","ts":${TS}}`, 'reject'],
  ['fail/ipsec as number', `{"type":"ims.register","imsi":"12345","ipsec":1,"ts":${TS}}`, 'reject'],
  ['fail/object where a string goes', `{"type":"femto.report","serial":{"a":"b"},"ts":${TS}}`, 'reject'],
  ['fail/array where a string goes', `{"type":"femto.report","serial":["s"],"ts":${TS}}`, 'reject'],
  ['fail/string where an array goes', `{"type":"femto.report","serial":"s","cellIds":"c","ts":${TS}}`, 'reject'],
  ['fail/number in a string list', `{"type":"femto.report","serial":"s","cellIds":[1],"ts":${TS}}`, 'reject'],
  ['fail/nested array in a list', `{"type":"femto.report","serial":"s","cellIds":[["c"]],"ts":${TS}}`, 'reject'],
  ['fail/leading zero', `{"type":"payment.auth","txId":"t","msisdn":"m","amountMinor":01,"currency":"KRW","ts":${TS}}`, 'reject'],
  ['fail/plus sign', `{"type":"payment.auth","txId":"t","msisdn":"m","amountMinor":+1,"currency":"KRW","ts":${TS}}`, 'reject'],
  ['fail/.5', `{"type":"femto.report","serial":"s","gps":{"lat":.5,"lon":0},"ts":${TS}}`, 'reject'],
  ['fail/1.', `{"type":"femto.report","serial":"s","gps":{"lat":1.,"lon":0},"ts":${TS}}`, 'reject'],
  ['fail/hex', `{"type":"payment.auth","txId":"t","msisdn":"m","amountMinor":0x10,"currency":"KRW","ts":${TS}}`, 'reject'],
  ['fail/exponent without digits', `{"type":"femto.report","serial":"s","gps":{"lat":1e,"lon":0},"ts":${TS}}`, 'reject'],
  ['fail/NaN', `{"type":"femto.report","serial":"s","gps":{"lat":NaN,"lon":0},"ts":${TS}}`, 'reject'],
  ['fail/bad timestamp: no offset', `{"type":"femto.report","serial":"s","ts":"2025-08-05T02:14:09"}`, 'reject'],
  ['fail/bad timestamp: 30 February', `{"type":"femto.report","serial":"s","ts":"2025-02-30T02:14:09.000Z"}`, 'reject'],
  ['fail/bad timestamp: 29 February 2025', `{"type":"femto.report","serial":"s","ts":"2025-02-29T02:14:09.000Z"}`, 'reject'],
  ['fail/bad timestamp: offset +24:00', `{"type":"femto.report","serial":"s","ts":"2025-08-05T02:14:09.000+24:00"}`, 'reject'],
  ['fail/bad timestamp: epoch seconds', `{"type":"femto.report","serial":"s","ts":1754276400}`, 'reject'],
  ['fail/bad timestamp: fractional ms', `{"type":"femto.report","serial":"s","ts":1754276400011.5}`, 'reject'],
  ['fail/bad timestamp: year 2100', `{"type":"femto.report","serial":"s","ts":"2100-01-01T00:00:00.000Z"}`, 'reject'],
  ['fail/bad timestamp: epoch as string', `{"type":"femto.report","serial":"s","ts":"1754276400011"}`, 'reject'],
  ['fail/bad timestamp: boolean', `{"type":"femto.report","serial":"s","ts":true}`, 'reject'],
  ['fail/type as number', `{"type":1,"serial":"s","ts":${TS}}`, 'reject'],
  ['fail/whitespace only inside braces', '{ }', 'reject'],
  ['fail/not JSON', 'not json at all', 'reject'],
];

describe('FORMATS.md §1: an optional field written as null (or "" for a string) is absent', () => {
  const variants = absentVariants();

  it('ok/the kit covers every optional field of every fast-path type, gps.accuracyM included', () => {
    expect(variants.length).toBeGreaterThanOrEqual(39);
    expect(variants.map((v) => v.name)).toEqual(expect.arrayContaining(['ue.attach imei: null', 'ue.attach msisdn: ""', 'femto.report gps: null', 'femto.report gps.accuracyM: null', 'femto.session certFingerprint: null', 'femto.session endpoint: ""', 'payment.auth id: ""']));
  });

  it('ok/the slow path reads each like the line without the field; the scanner declines it (no extra pass on its common path) and never disagrees', () => {
    const lines = variants.map((v) => Buffer.from(v.line));
    const t = check(lines, createRecords(7), [new EventDecoder(), new EventDecoder({ cacheBits: 1 })]);
    expect(t.failures).toEqual([]);
    expect(t.slowOnly).toBe(variants.length);
    for (const v of variants) {
      const slow = slowPath(Buffer.from(v.line));
      expect(slow, v.name).not.toBeNull();
      expect(slow, v.name).toStrictEqual(slowPath(Buffer.from(v.without)));
      // And the scanner's event for the line without the field is that same event.
      const rec = createRecords(1);
      const bare = Buffer.from(v.without);
      expect(scanEvent(bare, 0, bare.length, rec, 0), v.name).toBe(true);
      expect(defined(new EventDecoder().decode(bare, rec, 0)), v.name).toStrictEqual(slow);
    }
  });

  it('fail/a required field written as null or "" is refused by both paths', () => {
    const cases = requiredWrittenEmpty();
    expect(cases.length).toBeGreaterThanOrEqual(20);
    const t = check(cases.map((c) => Buffer.from(c.line)), createRecords(7), [new EventDecoder()]);
    expect(t.failures).toEqual([]);
    expect(t.rejected).toBe(cases.length);
  });
});

describe('RFC 3339 §5.6: any number of fraction digits', () => {
  it('ok/both paths take times with more than nine fraction digits, to the same millisecond', () => {
    const lines = LONG_FRACTION_TS.map((ts) => Buffer.from(`{"type":"femto.report","serial":"s","ts":${ts}}`));
    const t = check(lines, createRecords(7), [new EventDecoder()]);
    expect(t.failures).toEqual([]);
    expect(t.fast).toBe(lines.length);
    expect(slowPath(lines[0]!)!.t).toBe(Date.UTC(2025, 7, 5, 2, 14, 9, 123));
    expect(slowPath(lines[3]!)!.t).toBe(Date.UTC(2025, 7, 5, 2, 14, 9, 999));
  });
});

describe('scanEvent edge cases', () => {
  for (const [name, line, want] of EDGES) {
    it(name, () => {
      const buf = Buffer.from(line, 'utf8');
      const rec = createRecords(1);
      const fast = scanEvent(buf, 0, buf.length, rec, 0);
      const slow = slowPath(buf);
      expect(fast ? 'fast' : slow ? 'slow-only' : 'reject').toBe(want);
      if (fast) {
        expect(defined(new EventDecoder().decode(buf, rec, 0))).toStrictEqual(slow);
        expect(recordTime(rec, 0)).toBe(slow!.t);
      }
    });
  }

  it('ok/times that share their date with the one before (its Date.UTC remembered) read as parseEventTime reads them', () => {
    const times = [
      '2025-08-05T02:14:09.123Z', '2025-08-05T23:59:59.999Z', '2025-08-05T24:00:00.000Z', '2025-08-05T02:60:09.123Z',
      '2025-08-05T11:14:09.123+09:00', '2025-08-05T00:00:00.000-23:59', '2025-08-06T00:00:00.000Z', '2025-08-05T00:00:00.000Z',
      '2025-02-29T00:00:00.000Z', '2025-02-28T00:00:00.000Z', '2025-02-2xT00:00:00.000Z', '2024-02-29T12:00:00.000Z',
      '2099-12-31T23:59:59.999Z', '2099-12-31T23:59:59.999-00:01', '2000-01-01T00:00:00.000+00:01', '2000-01-01T00:00:00.000Z',
    ];
    for (const ts of [...times, ...times.reverse()]) {
      const rec = scanOne(`{"type":"femto.report","serial":"s","ts":"${ts}"}`);
      const slow = slowPath(Buffer.from(`{"type":"femto.report","serial":"s","ts":"${ts}"}`));
      expect(rec === null ? null : recordTime(rec, 0), ts).toBe(slow === null ? null : slow.t);
    }
  });

  it('ok/scans a line inside a larger buffer at its own offsets and row', () => {
    const buf = Buffer.from(`xx${ATTACH}yy${IMS}`);
    const rec = createRecords(3);
    expect(scanEvent(buf, 2, 2 + ATTACH.length, rec, 2)).toBe(true);
    expect(scanEvent(buf, 4 + ATTACH.length, buf.length, rec, 0)).toBe(true);
    const d = new EventDecoder();
    expect(defined(d.decode(buf, rec, 2))).toStrictEqual(slowPath(Buffer.from(ATTACH)));
    expect(defined(d.decode(buf, rec, 0))).toStrictEqual(slowPath(Buffer.from(IMS)));
  });

  it('ok/copyRecord moves a record with its bytes to another buffer and row', () => {
    const d = new EventDecoder();
    for (const line of [REPORT, SESSION, ATTACH, IMS, PAY]) {
      const src = Buffer.from(`...${line}`);
      const a = createRecords(2);
      expect(scanEvent(src, 3, src.length, a, 1)).toBe(true);
      const dst = Buffer.alloc(src.length + 20, 0x20);
      src.copy(dst, 11, 3);
      const b = createRecords(4);
      copyRecord(a, 1, b, 3, 11 - 3);
      src.fill(0); // the old bytes are gone: the copy must not point at them
      expect(defined(d.decode(dst, b, 3))).toStrictEqual(slowPath(Buffer.from(line)));
      expect(recordTime(b, 3)).toBe(slowPath(Buffer.from(line))!.t);
      expect(d.id(dst, b, 3)).toBe(slowPath(Buffer.from(line))!.id);
    }
  });

  it('fail/never throws on bad arguments: out-of-range offsets or rows return false', () => {
    const buf = Buffer.from(ATTACH);
    const rec = createRecords(1);
    expect(scanEvent(buf, 0, buf.length + 1, rec, 0)).toBe(false);
    expect(scanEvent(buf, -1, buf.length, rec, 0)).toBe(false);
    expect(scanEvent(buf, 5, 4, rec, 0)).toBe(false);
    expect(scanEvent(buf, 0, buf.length, rec, 1)).toBe(false);
    expect(scanEvent(buf, 0, buf.length, rec, -1)).toBe(false);
    expect(scanEvent(buf, Number.NaN, buf.length, rec, 0)).toBe(false);
  });
});
