import { execFileSync, spawnSync } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AppError } from '../core/errors.js';
import { readCsvText } from './csv.js';
import {
  applyDevicePatch,
  createCsvRowMapper,
  deviceCreateSchema,
  devicePatchSchema,
  formatZodError,
  MAX_LIST_ITEMS,
  readRegistryCsv,
  readRegistryCsvRows,
  type CsvRowResult,
  type DeviceInput,
} from './device-input.js';

const SAMPLE = '/work/shared/samples/kt-small/registry.csv';
const FP = 'a'.repeat(64);

// Compile-time: the create schema's output is exactly a DeviceInput.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const createOutputIsDeviceInput: Equal<ReturnType<typeof deviceCreateSchema.parse>, DeviceInput> = true;

const HEADER = ['serial', 'status', 'cell_ids', 'site_lat', 'site_lon', 'site_radius_m', 'ip_prefixes', 'expected_neighbors', 'cert_fingerprints', 'owner'];

/** Maps one data row given as an object over HEADER (missing cells empty). */
function mapRow(cells: Partial<Record<string, string>>, line = 17): CsvRowResult {
  const base: Record<string, string> = { serial: 'KTF1', status: 'active' };
  const row = HEADER.map((h) => cells[h] ?? base[h] ?? '');
  return createCsvRowMapper(HEADER).map(row, line);
}

function errorsOf(r: CsvRowResult): string[] {
  if (r.ok) throw new Error(`expected a failed row, got ${JSON.stringify(r.device)}`);
  return r.errors;
}

function thrown(f: () => unknown): AppError {
  try {
    f();
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error('did not throw');
}

describe('CSV rows', () => {
  it('ok/every row of the sample maps, and agrees with python csv column by column', async () => {
    expect(createOutputIsDeviceInput).toBe(true);
    const results: CsvRowResult[] = [];
    for await (const r of readRegistryCsv(createReadStream(SAMPLE, { highWaterMark: 1000 }))) results.push(r);
    expect(results).toHaveLength(125);
    const devices = results.map((r) => {
      if (!r.ok) throw new Error(r.errors.join('\n'));
      return r.device;
    });
    const py = spawnSync(
      'python3',
      ['-c', 'import csv,json,sys\nprint(json.dumps(list(csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8-sig")))))', SAMPLE],
      { encoding: 'utf8' },
    );
    expect(py.status).toBe(0);
    const rows = JSON.parse(py.stdout) as Record<string, string>[];
    expect(rows).toHaveLength(125);
    rows.forEach((row, k) => {
      const d = devices[k] as DeviceInput;
      const list = (s: string | undefined): string[] => (s ?? '').split(';').filter(Boolean);
      expect(d).toEqual({
        serial: row.serial,
        status: row.status,
        cellIds: list(row.cell_ids),
        siteLat: Number(row.site_lat),
        siteLon: Number(row.site_lon),
        siteRadiusM: Number(row.site_radius_m),
        ipPrefixes: list(row.ip_prefixes),
        expectedNeighbors: list(row.expected_neighbors),
        certFingerprints: list(row.cert_fingerprints),
        owner: row.owner,
      });
    });
    expect(new Set(devices.map((d) => d.status))).toEqual(new Set(['active', 'lost', 'suspended', 'decommissioned', 'provisioned']));
  });

  it('ok/header in any case with spaces and unknown columns; defaults for empty cells', () => {
    const mapper = createCsvRowMapper([' Notes ', 'STATUS', ' Serial', 'Site_Radius_M', 'owner']);
    const r = mapper.map(['x, y', 'Active', ' KTF-9 ', '', '  '], 3);
    expect(r).toEqual({
      ok: true,
      line: 3,
      device: {
        serial: 'KTF-9',
        status: 'active',
        cellIds: [],
        siteLat: null,
        siteLon: null,
        siteRadiusM: 300,
        ipPrefixes: [],
        expectedNeighbors: [],
        certFingerprints: [],
        owner: null,
      },
    });
  });

  it('ok/lists are trimmed, emptied of blanks, normalised and de-duplicated', () => {
    const r = mapRow({
      cell_ids: ' 45008-1 ; ;45008-2;45008-1;',
      ip_prefixes: '10.0.0.0/8; 2001:DB8::/32 ;10.0.0.0/8;192.0.2.7',
      cert_fingerprints: `${'AB:'.repeat(31)}AB;${'ab'.repeat(32)}`,
      site_lat: '37.5',
      site_lon: '-127',
      site_radius_m: '1.5e3',
      owner: ' acct, 1 ',
    });
    expect(r.ok && r.device).toMatchObject({
      cellIds: ['45008-1', '45008-2'],
      ipPrefixes: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7/32'],
      certFingerprints: ['ab'.repeat(32)],
      siteLat: 37.5,
      siteLon: -127,
      siteRadiusM: 1500,
      owner: 'acct, 1',
    });
  });

  it('ok/a fingerprint as openssl prints it normalises to the sha256 of the DER certificate', () => {
    const dir = mkdtempSync(join(tmpdir(), 'femtoguard-fp-'));
    try {
      const key = join(dir, 'k.pem');
      const cert = join(dir, 'c.pem');
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=KTF1', '-days', '1'], { stdio: 'ignore' });
      const printed = execFileSync('openssl', ['x509', '-in', cert, '-noout', '-fingerprint', '-sha256'], { encoding: 'utf8' });
      const colonHex = printed.trim().split('=')[1] as string; // AB:CD:...
      const der = execFileSync('openssl', ['x509', '-in', cert, '-outform', 'DER']);
      const sha = execFileSync('openssl', ['dgst', '-sha256', '-r'], { input: der, encoding: 'utf8' }).split(' ')[0];
      const r = mapRow({ cert_fingerprints: colonHex });
      expect(r.ok && r.device.certFingerprints).toEqual([sha]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fail/the message format from the brief', () => {
    expect(errorsOf(mapRow({ site_lat: '91.5', site_lon: '127' }))).toEqual(['line 17: site_lat "91.5" is out of range -90..90']);
  });

  it('fail/serial: bad characters, too long, empty', () => {
    expect(errorsOf(mapRow({ serial: 'KTF 1' }))[0]).toBe('line 17: serial "KTF 1" must be 1..64 characters of A-Z a-z 0-9 . _ : -');
    expect(errorsOf(mapRow({ serial: 'K/1' }))[0]).toMatch(/^line 17: serial "K\/1"/);
    expect(errorsOf(mapRow({ serial: 'x'.repeat(65) }))[0]).toMatch(/^line 17: serial "x{65}" must be 1\.\.64/);
    expect(errorsOf(mapRow({ serial: '  ' }))[0]).toMatch(/^line 17: serial "  " must be/);
    expect(errorsOf(mapRow({ serial: 'KTF\u00001' }))[0]).toContain('"KTF\\u00001"'); // escaped, not raw
  });

  it('fail/status not in the list', () => {
    expect(errorsOf(mapRow({ status: 'retired' }))).toEqual([
      'line 17: status "retired" is not one of provisioned, active, suspended, decommissioned, lost',
    ]);
    expect(errorsOf(mapRow({ status: '' }))[0]).toMatch(/^line 17: status "" is not one of/);
  });

  it('fail/site coordinates: range, not numbers, one without the other', () => {
    expect(errorsOf(mapRow({ site_lat: '-90.01', site_lon: '0' }))).toEqual(['line 17: site_lat "-90.01" is out of range -90..90']);
    expect(errorsOf(mapRow({ site_lat: '0', site_lon: '180.5' }))).toEqual(['line 17: site_lon "180.5" is out of range -180..180']);
    for (const bad of ['abc', '0x10', 'Infinity', 'NaN', '1,5', '37.5N', '--1']) {
      expect(errorsOf(mapRow({ site_lat: bad, site_lon: '0' })), bad).toEqual([`line 17: site_lat ${JSON.stringify(bad)} is not a number`]);
    }
    expect(errorsOf(mapRow({ site_lat: '37.5' }))).toEqual(['line 17: site_lat and site_lon must be given together, or both left empty']);
    expect(errorsOf(mapRow({ site_lon: '127' }))).toHaveLength(1);
  });

  it('fail/site radius: zero, negative, too large, not a number', () => {
    for (const bad of ['0', '-5', '100000.1', '1e6']) {
      expect(errorsOf(mapRow({ site_radius_m: bad })), bad).toEqual([
        `line 17: site_radius_m ${JSON.stringify(bad)} must be a positive number of metres up to 100000`,
      ]);
    }
    expect(errorsOf(mapRow({ site_radius_m: 'far' }))).toEqual(['line 17: site_radius_m "far" is not a number']);
    expect(mapRow({ site_radius_m: '100000' }).ok).toBe(true);
  });

  it('fail/ip prefixes: malformed and host bits', () => {
    expect(errorsOf(mapRow({ ip_prefixes: '10.0.0.0/8;175.198.195.7/24' }))).toEqual([
      'line 17: ip_prefixes 175.198.195.7/24 has host bits set; did you mean 175.198.195.0/24?',
    ]);
    expect(errorsOf(mapRow({ ip_prefixes: '10.0.0.0/33' }))[0]).toMatch(/^line 17: ip_prefixes "10\.0\.0\.0\/33" is not a CIDR prefix/);
  });

  it('fail/cell ids and neighbours: too long, control characters', () => {
    expect(errorsOf(mapRow({ cell_ids: `ok;${'9'.repeat(65)}` }))).toEqual([`line 17: cell_ids "${'9'.repeat(65)}" is longer than 64 characters`]);
    expect(errorsOf(mapRow({ expected_neighbors: 'a\tb' }))).toEqual([
      'line 17: expected_neighbors "a\\tb" must not contain \';\' or control characters',
    ]);
    expect(errorsOf(mapRow({ cell_ids: 'a\u0085b' }))[0]).toContain('control characters');
  });

  it('fail/fingerprints: wrong length or not hex', () => {
    expect(errorsOf(mapRow({ cert_fingerprints: 'ab'.repeat(31) + 'a' }))[0]).toMatch(/is not a SHA-256 fingerprint \(64 hex digits\)$/);
    expect(errorsOf(mapRow({ cert_fingerprints: 'zz'.repeat(32) }))[0]).toMatch(/^line 17: cert_fingerprints "z{64}" is not a SHA-256/);
    expect(errorsOf(mapRow({ cert_fingerprints: 'ab'.repeat(33) }))).toHaveLength(1);
  });

  it('fail/owner: too long or control characters', () => {
    expect(errorsOf(mapRow({ owner: 'o'.repeat(201) }))[0]).toMatch(/^line 17: owner "o{80}…" is longer than 200 characters$/);
    expect(errorsOf(mapRow({ owner: 'a\nb' }))[0]).toBe('line 17: owner "a\\nb" must not contain control characters');
    expect(mapRow({ owner: 'o'.repeat(200) }).ok).toBe(true);
  });

  it('fail/too many list items', () => {
    const many = Array.from({ length: MAX_LIST_ITEMS + 1 }, (_, k) => `c${k}`).join(';');
    expect(errorsOf(mapRow({ cell_ids: many }))).toEqual([`line 17: cell_ids has ${MAX_LIST_ITEMS + 1} items; at most ${MAX_LIST_ITEMS} allowed`]);
  });

  it('fail/every problem of a row is reported, in column order', () => {
    expect(errorsOf(mapRow({ serial: '', status: 'x', site_lat: '100', site_lon: '0', owner: '\u0007' }))).toHaveLength(4);
  });

  it('fail/a row with a different number of fields than the header', () => {
    const mapper = createCsvRowMapper(['serial', 'status']);
    expect(mapper.map(['KTF1'], 4)).toEqual({ ok: false, line: 4, errors: ['line 4: has 1 fields, the header has 2'] });
    expect(mapper.map(['KTF1', 'active', 'x'], 5)).toEqual({ ok: false, line: 5, errors: ['line 5: has 3 fields, the header has 2'] });
  });

  it('fail/missing required column, or a column named twice', () => {
    const noSerial = thrown(() => createCsvRowMapper(['status', 'owner']));
    expect(noSerial.code).toBe('registry.csv_header');
    expect(noSerial.kind).toBe('invalid');
    expect(noSerial.message).toBe('registry CSV header has no serial column');
    expect(thrown(() => createCsvRowMapper(['serial', 'state'])).message).toBe('registry CSV header has no status column');
    expect(thrown(() => createCsvRowMapper(['serial', 'status', 'Site Lat', 'site_lat'])).message).toBe(
      'registry CSV header names column site_lat twice',
    );
  });

  it('fail/a malformed quoted field mid-file: its row fails, the rows around it import', async () => {
    const lines = readFileSync(SAMPLE, 'utf8').split('\n');
    lines[40] = (lines[40] as string).replace(',300,', ',"300"x,'); // text after closing quote
    lines[80] = (lines[80] as string).replace(/"(\r?)$/, '$1'); // unclosed quote runs into the next line
    const results: CsvRowResult[] = [];
    for await (const r of readRegistryCsv([lines.join('\n')])) results.push(r);
    const failed = results.filter((r) => !r.ok);
    expect(failed.map((r) => r.line)).toEqual([41, 81]);
    expect(failed[0]).toMatchObject({ errors: ['line 41: field 6: text after the closing quote'] });
    expect(failed[1]).toMatchObject({ errors: ['line 81: field 11: text after the closing quote (line 82)'] });
    expect(results.filter((r) => r.ok)).toHaveLength(123);
    expect(results.find((r) => r.line === 82)?.ok).toBe(true);
  });

  it('ok/readRegistryCsvRows gives the same rows as readRegistryCsv, a chunk\'s rows at a time, never an empty group', async () => {
    const one: CsvRowResult[] = [];
    for await (const r of readRegistryCsv(createReadStream(SAMPLE, { highWaterMark: 1000 }))) one.push(r);
    const groups: CsvRowResult[][] = [];
    for await (const rows of readRegistryCsvRows(createReadStream(SAMPLE, { highWaterMark: 1000 }))) groups.push(rows);
    expect(groups.length).toBeGreaterThan(10); // 1,000-byte chunks: a few rows each
    expect(groups.every((g) => g.length > 0)).toBe(true);
    expect(groups.flat()).toEqual(one);
    await expect(async () => {
      for await (const _ of readRegistryCsvRows(['serial,owner\nK,x\n'])) void _;
    }).rejects.toThrow('registry CSV header has no status column');
  });

  it('fail/empty input or a broken header', async () => {
    const drain = async (text: string): Promise<AppError> => {
      try {
        for await (const _ of readRegistryCsv([text])) void _;
      } catch (e) {
        if (e instanceof AppError) return e;
      }
      throw new Error('did not throw');
    };
    expect((await drain('')).code).toBe('registry.csv_header');
    expect((await drain('\n\n')).message).toBe('registry CSV is empty: no header row');
    expect((await drain('serial,"status\n')).message).toMatch(/^registry CSV header, line 1: field 2: quoted field is not closed/);
    expect((await drain('serial,owner\nK,x\n')).message).toBe('registry CSV header has no status column');
  });
});

describe('JSON schemas', () => {
  it('ok/create fills defaults and normalises like the CSV path', () => {
    const d = deviceCreateSchema.parse({ serial: 'KTF1', ipPrefixes: ['192.0.2.0/24'], certFingerprints: [FP.toUpperCase()] });
    expect(d).toEqual({
      serial: 'KTF1',
      status: 'provisioned',
      cellIds: [],
      siteLat: null,
      siteLon: null,
      siteRadiusM: 300,
      ipPrefixes: ['192.0.2.0/24'],
      expectedNeighbors: [],
      certFingerprints: [FP],
      owner: null,
    });
    // The same row through CSV gives the same device.
    const [header, row] = readCsvText(`serial,status,ip_prefixes,cert_fingerprints\nKTF1,provisioned,192.0.2.0/24,${FP.toUpperCase()}\n`);
    const mapped = createCsvRowMapper((header as { fields: string[] }).fields).map((row as { fields: string[] }).fields, 2);
    expect(mapped.ok && mapped.device).toEqual(d);
  });

  it('fail/create refuses what the CSV path refuses, with the JSON path in the message', () => {
    const r = deviceCreateSchema.safeParse({
      serial: 'bad serial',
      status: 'gone',
      cellIds: ['ok', 'x;y'],
      siteLat: 91.5,
      siteLon: 0,
      siteRadiusM: 0,
      ipPrefixes: ['175.198.195.7/24'],
      certFingerprints: ['00'],
      owner: 'o'.repeat(201),
    });
    expect(r.success).toBe(false);
    const text = formatZodError(r.error as NonNullable<typeof r.error>);
    expect(text).toContain('serial: "bad serial" must be 1..64 characters');
    expect(text).toContain('status: "gone" is not one of');
    expect(text).toContain('cellIds: "x;y" must not contain \';\' or control characters');
    expect(text).toContain('siteLat: "91.5" is out of range -90..90');
    expect(text).toContain('siteRadiusM: "0" must be a positive number');
    expect(text).toContain('ipPrefixes: 175.198.195.7/24 has host bits set; did you mean 175.198.195.0/24?');
    expect(text).toContain('certFingerprints: "00" is not a SHA-256 fingerprint');
    expect(text).toContain('owner: "');
    expect(text.split('; ').length).toBeGreaterThanOrEqual(8);
  });

  it('fail/create: wrong types, missing serial, unknown keys, a lone coordinate, non-finite numbers', () => {
    const msg = (v: unknown): string => {
      const r = deviceCreateSchema.safeParse(v);
      if (r.success) throw new Error(`accepted ${JSON.stringify(v)}`);
      return formatZodError(r.error);
    };
    expect(msg({})).toMatch(/^serial: /);
    expect(msg({ serial: 'K', siteLat: '37.5', siteLon: 127 })).toMatch(/^siteLat: .*expected number/);
    expect(msg({ serial: 'K', cellIds: 'a;b' })).toMatch(/^cellIds: .*expected array/);
    expect(msg({ serial: 'K', cellIds: ['a', 5] })).toMatch(/^cellIds\[1\]: /);
    expect(msg({ serial: 'K', site_lat: 1 })).toMatch(/site_lat/);
    expect(msg({ serial: 'K', siteLat: 37.5 })).toBe('siteLat: site_lat and site_lon must be given together, or both left empty');
    expect(msg({ serial: 'K', siteRadiusM: Number.POSITIVE_INFINITY })).toMatch(/^siteRadiusM: /);
    expect(msg({ serial: 'K', siteRadiusM: Number.NaN })).toMatch(/^siteRadiusM: /);
    expect(msg(null)).toMatch(/^\(root\): /);
  });

  it('ok/patch keeps absent fields absent; applyDevicePatch merges', () => {
    const patch = devicePatchSchema.parse({ siteLat: 37.6, siteLon: 127.1, owner: null });
    expect(patch).toEqual({ siteLat: 37.6, siteLon: 127.1, owner: null });
    const base = deviceCreateSchema.parse({ serial: 'KTF1', status: 'active', siteLat: 37.5, siteLon: 127, owner: 'acct' });
    expect(applyDevicePatch(base, patch)).toEqual({ ...base, siteLat: 37.6, siteLon: 127.1, owner: null });
    expect(applyDevicePatch(base, { siteLat: 37.7 })).toEqual({ ...base, siteLat: 37.7 });
    expect(devicePatchSchema.parse({})).toEqual({});
  });

  it('fail/patch refuses serial, bad values; merging may not leave one coordinate', () => {
    expect(devicePatchSchema.safeParse({ serial: 'K2' }).success).toBe(false);
    expect(devicePatchSchema.safeParse({ status: 'gone' }).success).toBe(false);
    expect(devicePatchSchema.safeParse({ ipPrefixes: ['10.0.0.1/8'] }).success).toBe(false);
    expect(devicePatchSchema.safeParse({ siteLon: 200 }).success).toBe(false);
    const base = deviceCreateSchema.parse({ serial: 'KTF1', siteLat: 37.5, siteLon: 127 });
    const e = thrown(() => applyDevicePatch(base, { siteLat: null }));
    expect(e.code).toBe('registry.site');
    expect(e.message).toBe('KTF1: site_lat and site_lon must be given together, or both left empty');
  });
});
