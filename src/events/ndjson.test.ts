import { isUtf8 } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { firstInvalidUtf8, NdjsonSplitter, readNdjson, type NdjsonLine } from './ndjson.js';

/** Feeds `chunks` to a splitter and returns what it reported, without the byte counts. */
function split(chunks: (string | Buffer)[], maxLine?: number): ({ line: number; value: unknown } | { line: number; error: string })[] {
  const s = new NdjsonSplitter(maxLine);
  const out: NdjsonLine[] = [];
  for (const c of chunks) s.push(typeof c === 'string' ? Buffer.from(c) : c, (l) => out.push(l));
  s.end((l) => out.push(l));
  return out.map((l) => ('error' in l ? { line: l.line, error: l.error } : { line: l.line, value: l.value }));
}

/** Every way of cutting `text` into two chunks gives `expected`; so does one byte at a time. */
function expectAllSplits(text: string, expected: ReturnType<typeof split>, maxLine?: number): void {
  const b = Buffer.from(text);
  for (let k = 0; k <= b.length; k++) expect(split([b.subarray(0, k), b.subarray(k)], maxLine), `cut at byte ${k}`).toEqual(expected);
  expect(split([...b].map((x) => Buffer.from([x])), maxLine), 'byte by byte').toEqual(expected);
}

describe('NdjsonSplitter (FORMATS.md §1: one JSON object per \\n-separated line)', () => {
  it('ok/lines with their 1-based numbers; blank and whitespace-only lines are skipped but counted', () => {
    expect(split(['{"a":1}\n\n   \n\t\n{"a":2}\n'])).toEqual([
      { line: 1, value: { a: 1 } },
      { line: 5, value: { a: 2 } },
    ]);
  });

  it('ok/CRLF line ends, and a blank CRLF line', () => {
    expect(split(['{"a":1}\r\n\r\n{"a":2}\r\n'])).toEqual([
      { line: 1, value: { a: 1 } },
      { line: 3, value: { a: 2 } },
    ]);
  });

  it('ok/the last line without a newline (with or without \\r)', () => {
    expect(split(['{"a":1}\n{"a":2}'])).toEqual([
      { line: 1, value: { a: 1 } },
      { line: 2, value: { a: 2 } },
    ]);
    expect(split(['{"a":1}\r\n{"a":2}\r'])).toEqual([
      { line: 1, value: { a: 1 } },
      { line: 2, value: { a: 2 } },
    ]);
    expect(split(['{"a":1}\n   '])).toEqual([{ line: 1, value: { a: 1 } }]);
  });

  it('ok/a line split across chunks, at every byte', () => {
    expectAllSplits('{"type":"ue.attach","imsi":"450081234567890"}\r\n\n{"b":[1,2,3]}\nnot json\n{"c":true}', [
      { line: 1, value: { type: 'ue.attach', imsi: '450081234567890' } },
      { line: 3, value: { b: [1, 2, 3] } },
      { line: 4, error: expect.stringMatching(/^not valid JSON/) as unknown as string },
      { line: 5, value: { c: true } },
    ]);
  });

  it('ok/a UTF-8 character split across chunks', () => {
    const text = '{"merchant":"카페 ☕ 😀"}\n{"owner":"Ünïcode"}\n';
    expectAllSplits(text, [
      { line: 1, value: { merchant: '카페 ☕ 😀' } },
      { line: 2, value: { owner: 'Ünïcode' } },
    ]);
  });

  it('fail/a line that is not valid UTF-8 is refused with its number and where, not decoded with replacement characters; the lines around it are read', () => {
    const bad = Buffer.concat([Buffer.from('{"a":1}\n{"serial":"KTF'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}\n{"b":"é€😀"}\n')]);
    expect(split([bad])).toEqual([
      { line: 1, value: { a: 1 } },
      { line: 2, error: 'not valid UTF-8 (byte 15 of the line)' },
      { line: 3, value: { b: 'é€😀' } },
    ]);
  });

  it('fail/firstInvalidUtf8: overlong forms, surrogates, code points past U+10FFFF, stray continuation bytes and cut sequences; ok/well-formed text', () => {
    const at = (bytes: number[]): number => firstInvalidUtf8(Uint8Array.from(bytes), 0, bytes.length);
    for (const b of [[0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80], [0xe2, 0x82], [0xf5, 0x80, 0x80, 0x80]]) {
      expect(at([0x41, ...b]), b.map((x) => x.toString(16)).join(' ')).toBe(1);
      // parseLine asks node's isUtf8 first and this walk only for the position: they must agree.
      expect(isUtf8(Uint8Array.from([0x41, ...b]))).toBe(false);
    }
    expect(at([...Buffer.from('aé€😀\u{10FFFF}\u{D7FF}\u{E000}')])).toBe(-1);
  });

  it('fail/a line that is not JSON is reported with its number and reading goes on', () => {
    const out = split(['{"a":1}\n{"a":\n[1,2\n{"a":2}\n']);
    expect(out.map((l) => l.line)).toEqual([1, 2, 3, 4]);
    expect(out[1]).toMatchObject({ error: expect.stringMatching(/^not valid JSON \(/) as unknown });
    expect(out[3]).toEqual({ line: 4, value: { a: 2 } });
  });

  it('fail/an over-long line is reported and skipped, however the input is chunked', () => {
    const long = `{"pad":"${'x'.repeat(100)}"}`;
    const text = `{"a":1}\n${long}\n{"a":2}\n${long}`;
    const expected = [
      { line: 1, value: { a: 1 } },
      { line: 2, error: 'line longer than 64 bytes' },
      { line: 3, value: { a: 2 } },
      { line: 4, error: 'line longer than 64 bytes' },
    ];
    expect(split([text], 64)).toEqual(expected);
    expectAllSplits(text, expected, 64);
  });

  it('ok/a line of exactly the limit is read', () => {
    const line = `{"p":"${'y'.repeat(64 - 8)}"}`;
    expect(Buffer.byteLength(line)).toBe(64);
    expectAllSplits(`${line}\n${line}`, [
      { line: 1, value: { p: 'y'.repeat(56) } },
      { line: 2, value: { p: 'y'.repeat(56) } },
    ], 64);
  });

  it('ok/the byte count of each line includes its newline (for progress)', () => {
    const s = new NdjsonSplitter();
    const out: NdjsonLine[] = [];
    s.push(Buffer.from('{"a":1}\n{"a":22}\n'), (l) => out.push(l));
    expect(out.map((l) => l.bytes)).toEqual([8, 9]);
  });
});

describe('NdjsonSplitter: a UTF-8 BOM at the start of the stream', () => {
  const BOM = '\ufeff';
  const expected = [
    { line: 1, value: { a: 1 } },
    { line: 2, value: { b: 2 } },
  ];

  it('ok/is dropped, however the chunks cut it (BOM split across chunks included)', () => {
    expectAllSplits(`${BOM}{"a":1}\n{"b":2}\n`, expected);
    expectAllSplits(`${BOM}{"a":1}\r\n{"b":2}`, expected);
  });

  it('ok/the raw path (femtoguard detect\'s scanner) gets line 1 without it, and its byte count keeps it', () => {
    const s = new NdjsonSplitter();
    const got: [string, number, number][] = [];
    const onRaw = (b: Buffer, start: number, end: number, line: number, bytes: number): void => void got.push([b.toString('latin1', start, end), line, bytes]);
    s.pushRaw(Buffer.from([0xef]), onRaw, () => undefined);
    s.pushRaw(Buffer.from([0xbb, 0xbf, 0x7b, 0x7d, 0x0a, 0x7b]), onRaw, () => undefined);
    s.pushRaw(Buffer.from('}\n'), onRaw, () => undefined);
    s.endRaw(onRaw, () => undefined);
    expect(got).toEqual([
      ['{}', 1, 6],
      ['{}', 2, 3],
    ]);
  });

  it('ok/a BOM-only first line is a blank line; a stream that is only a BOM has no lines', () => {
    expect(split([`${BOM}\n{"a":1}\n`])).toEqual([{ line: 2, value: { a: 1 } }]);
    expect(split([BOM])).toEqual([]);
  });

  it('fail/only at offset 0: a BOM starting a later line, or a second one, is part of the line', () => {
    const out = split([`{"a":1}\n${BOM}{"b":2}\n`]);
    expect(out[0]).toEqual({ line: 1, value: { a: 1 } });
    expect(out[1]).toMatchObject({ line: 2, error: expect.stringMatching(/^not valid JSON/) as unknown });
    expect(split([`${BOM}${BOM}{"a":1}\n`])[0]).toMatchObject({ line: 1, error: expect.stringMatching(/^not valid JSON/) as unknown });
  });

  it('fail/bytes that only begin like a BOM are kept, wherever the stream is cut', () => {
    const text = Buffer.concat([Buffer.from([0xef, 0xbb]), Buffer.from('{"a":1}\n')]);
    for (let k = 0; k <= text.length; k++) {
      const out = split([text.subarray(0, k), text.subarray(k)]);
      expect(out, `cut at ${k}`).toEqual([{ line: 1, error: 'not valid UTF-8 (byte 1 of the line)' }]);
    }
    // A stream of only part of a BOM: those bytes are its one line.
    expect(split([Buffer.from([0xef, 0xbb])])).toEqual([{ line: 1, error: 'not valid UTF-8 (byte 1 of the line)' }]);
  });
});

describe('readNdjson', () => {
  it('ok/the async-iterator form gives the same lines from string and Buffer chunks', async () => {
    async function* chunks(): AsyncGenerator<string | Buffer> {
      yield '{"a":';
      yield Buffer.from('1}\n\n{"b"');
      yield ':2}';
    }
    const out: NdjsonLine[] = [];
    for await (const l of readNdjson(chunks())) out.push(l);
    expect(out.map((l) => ('value' in l ? [l.line, l.value] : [l.line, l.error]))).toEqual([
      [1, { a: 1 }],
      [3, { b: 2 }],
    ]);
  });
});
