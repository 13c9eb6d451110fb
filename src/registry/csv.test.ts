import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { csvField, readCsv, readCsvText, toCsvLine, type CsvRecord } from './csv.js';

const SAMPLE = '/work/shared/samples/kt-small/registry.csv';

/** Python's csv module as an independent reference reader (strict mode). */
function pythonCsv(text: string): string[][] {
  const script =
    'import csv,io,sys,json\n' +
    'data=sys.stdin.buffer.read().decode("utf-8-sig")\n' +
    'rows=[r for r in csv.reader(io.StringIO(data, newline=""), strict=True) if r]\n' +
    'print(json.dumps(rows))';
  const r = spawnSync('python3', ['-c', script], { input: text, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python3 csv failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as string[][];
}

async function collect(chunks: Iterable<Buffer | string>, maxRecordLength?: number): Promise<CsvRecord[]> {
  const out: CsvRecord[] = [];
  const opts = maxRecordLength === undefined ? undefined : { maxRecordLength };
  for await (const r of readCsv(chunks, opts)) out.push(r);
  return out;
}

const rows = (records: CsvRecord[]): string[][] => records.map((r) => ('fields' in r ? r.fields : ['<error>', r.error]));

describe('readCsv', () => {
  it('ok/plain, quoted, escaped quotes, commas and newlines in quotes', () => {
    const text = 'a,b,c\n1,"x, y","say ""hi"""\n2,"two\nlines",\n';
    const recs = readCsvText(text);
    expect(recs).toEqual([
      { line: 1, fields: ['a', 'b', 'c'] },
      { line: 2, fields: ['1', 'x, y', 'say "hi"'] },
      { line: 3, fields: ['2', 'two\nlines', ''] },
    ]);
    expect(rows(recs)).toEqual(pythonCsv(text));
  });

  it('ok/CRLF, BOM, blank lines skipped with line numbers kept, last line without newline', async () => {
    const text = '\ufeffserial,status\r\n\r\nA,active\r\n\n"B\r\nC",lost\r\nD,"x"';
    const expected = [
      { line: 1, fields: ['serial', 'status'] },
      { line: 3, fields: ['A', 'active'] },
      { line: 5, fields: ['B\r\nC', 'lost'] },
      { line: 7, fields: ['D', 'x'] },
    ];
    expect(readCsvText(text)).toEqual(expected);
    // As bytes, with the BOM's three bytes split over chunks.
    const bytes = Buffer.from(text, 'utf8');
    expect(await collect([bytes.subarray(0, 1), bytes.subarray(1, 2), bytes.subarray(2)])).toEqual(expected);
    expect(rows(expected)).toEqual(pythonCsv(text));
  });

  it('ok/the sample registry agrees with python csv', () => {
    const text = readFileSync(SAMPLE, 'utf8');
    const recs = readCsvText(text);
    expect(recs).toHaveLength(126);
    expect(rows(recs)).toEqual(pythonCsv(text));
    expect(recs.every((r) => 'fields' in r && r.fields.length === 11)).toBe(true);
  });

  it('ok/every chunk split gives the same records, multi-byte UTF-8 included', async () => {
    const text = 'k,v\r\n"é, ""q""",一\n\n"multi\nline",x\r\nlast,"∑"';
    const whole = readCsvText(text);
    const bytes = Buffer.from(text, 'utf8');
    for (let a = 0; a <= bytes.length; a++) {
      expect(await collect([bytes.subarray(0, a), bytes.subarray(a)])).toEqual(whole);
    }
    for (let a = 0; a <= text.length; a++) {
      expect(await collect([text.slice(0, a), text.slice(a)])).toEqual(whole);
    }
    // One character per chunk.
    expect(await collect([...text])).toEqual(whole);
    expect(rows(whole)).toEqual(pythonCsv(text));
  });

  it('ok/random fields survive toCsvLine and read back the same in both readers', async () => {
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const alphabet = ['a', 'b', ',', '"', '\n', '\r\n', ' ', 'é', ';', '1'];
    const records: string[][] = [];
    for (let r = 0; r < 300; r++) {
      const n = 1 + rnd(5);
      const fields: string[] = [];
      for (let k = 0; k < n; k++) {
        let s = '';
        for (let c = rnd(6); c > 0; c--) s += alphabet[rnd(alphabet.length)];
        fields.push(s);
      }
      records.push(fields);
    }
    const text = records.map(toCsvLine).join('');
    const ours = readCsvText(text);
    expect(ours.every((r) => 'fields' in r)).toBe(true);
    expect(rows(ours)).toEqual(records);
    expect(pythonCsv(text)).toEqual(records);
    // Streaming in odd-sized chunks gives the same.
    const chunks: string[] = [];
    for (let k = 0; k < text.length; k += 37) chunks.push(text.slice(k, k + 37));
    expect(await collect(chunks)).toEqual(ours);
  });

  it('fail/bare quote inside an unquoted field, rows around it still come through', () => {
    const recs = readCsvText('a,b\n1,2\n3,x"y\n4,5\n');
    expect(recs[0]).toEqual({ line: 1, fields: ['a', 'b'] });
    expect(recs[1]).toEqual({ line: 2, fields: ['1', '2'] });
    expect(recs[2]).toMatchObject({ line: 3 });
    expect((recs[2] as { error: string }).error).toMatch(/field 2: bare '"' inside an unquoted field/);
    expect(recs[3]).toEqual({ line: 4, fields: ['4', '5'] });
    expect(recs).toHaveLength(4);
  });

  it('fail/text after the closing quote', () => {
    const recs = readCsvText('1,"ab"c,3\n4,5\n');
    expect(recs[0]).toEqual({ line: 1, error: 'field 2: text after the closing quote' });
    expect(recs[1]).toEqual({ line: 2, fields: ['4', '5'] });
  });

  it('fail/text after a closing quote that closes on a later line names that line', () => {
    const recs = readCsvText('h\n"open\nmore"x\nok\n');
    expect(recs[1]).toEqual({ line: 2, error: 'field 1: text after the closing quote (line 3)' });
    // Resync restarts on the line after the record's first line.
    expect(recs[2]).toMatchObject({ line: 3 });
    expect('error' in (recs[2] as CsvRecord)).toBe(true);
    expect(recs[3]).toEqual({ line: 4, fields: ['ok'] });
  });

  it('fail/unterminated quote at end of input, later lines re-read', async () => {
    const text = 'a,b\n1,"never closed\n2,3\n4,5';
    const expected = [
      { line: 1, fields: ['a', 'b'] },
      { line: 2, error: 'field 2: quoted field is not closed before the end of the input' },
      { line: 3, fields: ['2', '3'] },
      { line: 4, fields: ['4', '5'] },
    ];
    expect(readCsvText(text)).toEqual(expected);
    expect(await collect([...text])).toEqual(expected);
  });

  it('fail/a stray quote in the middle of the sample costs one row', () => {
    const lines = readFileSync(SAMPLE, 'utf8').split('\n');
    // Row on line 50 gets an opening quote mid-row: its field then closes before "unused and
    // text follows the closing quote, on the same line.
    lines[49] = (lines[49] as string).replace(',active,', ',"active,');
    const recs = readCsvText(lines.join('\n'));
    expect(recs.filter((r) => 'error' in r).map((r) => r.line)).toEqual([50]);
    expect(recs.filter((r) => 'fields' in r)).toHaveLength(125);
    expect(recs.map((r) => r.line)).toEqual(Array.from({ length: 126 }, (_, k) => k + 1));
  });

  it('fail/an unclosed quote swallowing into the next row costs only its own row', () => {
    const lines = readFileSync(SAMPLE, 'utf8').split('\n');
    expect(lines[49]).toMatch(/"\r$/); // the sample has CRLF line ends
    // Line 50 loses its closing quote: the quoted field runs into line 51 and ends at line 51's
    // opening quote. The reader must re-read line 51 rather than lose it.
    lines[49] = (lines[49] as string).replace(/"(\r?)$/, '$1');
    const recs = readCsvText(lines.join('\n'));
    const errors = recs.filter((r) => 'error' in r);
    expect(errors).toEqual([{ line: 50, error: 'field 11: text after the closing quote (line 51)' }]);
    expect(recs.filter((r) => 'fields' in r)).toHaveLength(125);
    expect(recs.map((r) => r.line)).toEqual(Array.from({ length: 126 }, (_, k) => k + 1));
    expect(rows(recs.filter((r) => r.line !== 50))).toEqual(
      pythonCsv(readFileSync(SAMPLE, 'utf8')).filter((_, k) => k !== 49),
    );
  });

  it('fail/a record larger than the limit is an error, streamed or not', async () => {
    const big = 'x'.repeat(5000);
    const text = `a,b\n1,${big}\n2,"${big}\ntail"\n3,4\n`;
    const expected = [
      { line: 1, fields: ['a', 'b'] },
      { line: 2, error: 'record is larger than 1000 characters' },
      { line: 3, error: 'record is larger than 1000 characters' },
      // The resync restarts after the oversized record's first line, so its second line is read alone.
      { line: 4, error: "field 1: bare '\"' inside an unquoted field" },
      { line: 5, fields: ['3', '4'] },
    ];
    expect(readCsvText(text, { maxRecordLength: 1000 })).toEqual(expected);
    const chunks: string[] = [];
    for (let k = 0; k < text.length; k += 100) chunks.push(text.slice(k, k + 100));
    expect(await collect(chunks, 1000)).toEqual(expected);
  });

  it('fail/unbounded unterminated quote in a stream does not buffer past the limit', async () => {
    // 3 MiB inside an open quote, fed in 64 KiB chunks, then a good line.
    function* gen(): Generator<string> {
      yield 'h\n"';
      const chunk = 'y'.repeat(64 * 1024);
      for (let k = 0; k < 48; k++) yield chunk;
      yield '\nok\n';
    }
    const recs = await collect(gen());
    expect(recs[0]).toEqual({ line: 1, fields: ['h'] });
    expect(recs[1]).toEqual({ line: 2, error: 'record is larger than 1048576 characters' });
    expect(recs.at(-1)).toEqual({ line: 3, fields: ['ok'] });
    expect(recs).toHaveLength(3);
  });

  it('ok/200,000 rows of the sample shape (timing printed)', async () => {
    const sample = readFileSync(SAMPLE, 'utf8').split('\n');
    const header = sample[0] as string;
    const body = sample.slice(1).filter((l) => l.length > 0);
    const parts: string[] = [header + '\n'];
    for (let k = 0; k < 200_000; k++) parts.push((body[k % body.length] as string) + '\n');
    const text = parts.join('');
    const bytes = Buffer.from(text, 'utf8');
    const chunks: Buffer[] = [];
    for (let k = 0; k < bytes.length; k += 64 * 1024) chunks.push(bytes.subarray(k, k + 64 * 1024));
    const t0 = performance.now();
    let n = 0;
    for await (const r of readCsv(chunks)) if ('fields' in r) n++;
    const ms = performance.now() - t0;
    const t1 = performance.now();
    const sync = readCsvText(text).length;
    const msSync = performance.now() - t1;
    console.log(
      `readCsv: 200,001 records, ${(bytes.length / 1e6).toFixed(1)} MB in ${ms.toFixed(0)} ms streamed, ${msSync.toFixed(0)} ms sync`,
    );
    expect(n).toBe(200_001);
    expect(sync).toBe(200_001);
  });
});

describe('csvField / toCsvLine', () => {
  it('ok/quotes only when needed', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "x"')).toBe('"say ""x"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('cr\r')).toBe('"cr\r"');
    expect(toCsvLine(['a', 'b,c', ''])).toBe('a,"b,c",\r\n');
  });

  it('ok/a lone empty field is not written as a blank line', () => {
    expect(toCsvLine([''])).toBe('""\r\n');
    expect(readCsvText(toCsvLine(['']) + toCsvLine(['x']))).toEqual([
      { line: 1, fields: [''] },
      { line: 2, fields: ['x'] },
    ]);
    expect(pythonCsv(toCsvLine(['']))).toEqual([['']]);
  });
});
