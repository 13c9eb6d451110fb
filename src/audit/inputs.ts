/**
 * The audit's inputs: the inventory (registry CSV, FORMATS.md §2) and a certificate dump
 * (PEM or DER files; directories walked; bundles and chains split). Nothing here stops on
 * bad input: a rejected row or an unreadable file becomes an {@link InputProblem} naming
 * the file (and line), and the rest is read.
 */
import { createReadStream, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { AppError, isAppError } from '../core/errors.js';
import { fromPemAll, parseCertificate } from '../pki/index.js';
import { createCsvRowMapper, readCsv, type DeviceInput } from '../registry/index.js';
import { certFactsOf } from './cert-facts.js';
import type { CertFacts, InputProblem } from './types.js';

export interface Inventory {
  devices: Map<string, DeviceInput>;
  rejectedRows: number;
  problems: InputProblem[];
}

function unreadable(what: string, file: string, e: unknown): AppError {
  const code = (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : 'error');
  return new AppError('invalid', 'audit.input_unreadable', `cannot read ${what} ${file}: ${code}`, { file });
}

/**
 * Reads the inventory. Rows that fail the registry's validation are reported by line and
 * left out; a serial that repeats keeps its first row.
 * @throws AppError invalid `audit.input_unreadable` (no such file) or `registry.csv_header`
 */
export async function readInventory(file: string, onBytes?: (bytes: number) => void): Promise<Inventory> {
  try {
    if (!statSync(file).isFile()) throw Object.assign(new Error('not a file'), { code: 'not a regular file' });
  } catch (e) {
    throw unreadable('inventory', file, e);
  }
  const devices = new Map<string, DeviceInput>();
  const problems: InputProblem[] = [];
  const firstLine = new Map<string, number>();
  let rejectedRows = 0;
  let mapper: ReturnType<typeof createCsvRowMapper> | undefined;
  // Counted as the reader pulls, so the stream is not also switched to flowing mode.
  async function* counted(): AsyncGenerator<Buffer> {
    let bytes = 0;
    for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      onBytes?.(bytes);
      yield chunk;
    }
  }
  const reject = (line: number, message: string): void => {
    rejectedRows += 1;
    problems.push({ source: 'inventory', file, line, message });
  };
  for await (const record of readCsv(counted())) {
    if (mapper === undefined) {
      if ('error' in record) throw new AppError('invalid', 'registry.csv_header', `${file}: header, line ${record.line}: ${record.error}`);
      mapper = createCsvRowMapper(record.fields);
      continue;
    }
    if ('error' in record) {
      reject(record.line, record.error);
      continue;
    }
    const row = mapper.map(record.fields, record.line);
    if (!row.ok) {
      reject(row.line, row.errors.map((m: string) => m.replace(/^line \d+: /, '')).join('; '));
      continue;
    }
    const seen = firstLine.get(row.device.serial);
    if (seen !== undefined) {
      reject(row.line, `serial ${row.device.serial} repeats line ${seen}; this row is ignored`);
      continue;
    }
    firstLine.set(row.device.serial, row.line);
    devices.set(row.device.serial, row.device);
  }
  if (mapper === undefined) throw new AppError('invalid', 'registry.csv_header', `${file}: inventory is empty, no header row`);
  return { devices, rejectedRows, problems };
}

// ---------------------------------------------------------------------------------------
// Certificate dumps

export interface CertificateDump {
  /** Distinct certificates, by fingerprint, in the order first read. */
  certs: Map<string, CertFacts>;
  filesRead: number;
  /** Certificates read again (the same DER in another file or twice in one bundle). */
  duplicates: number;
  malformed: number;
  /** Files in walked directories holding only other PEM blocks (keys, CSRs). */
  skippedFiles: number;
  problems: InputProblem[];
}

/**
 * The files named by `paths`: files as given, directories walked recursively in name order.
 * Dot-files are skipped inside directories; symbolic links to directories are not
 * followed (a loop would never end). A missing path is a problem, not a stop.
 */
export function listCertificateFiles(paths: readonly string[], problems: InputProblem[]): { file: string; walked: boolean }[] {
  const out: { file: string; walked: boolean }[] = [];
  const walk = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (e) {
      problems.push({ source: 'certificates', file: dir, message: `cannot read directory: ${(e as NodeJS.ErrnoException).code ?? 'error'}` });
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push({ file: p, walked: true });
      else if (e.isSymbolicLink()) {
        try {
          if (statSync(p).isFile()) out.push({ file: p, walked: true });
        } catch {
          problems.push({ source: 'certificates', file: p, message: 'dangling symbolic link' });
        }
      }
    }
  };
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch (e) {
      problems.push({ source: 'certificates', file: p, message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? 'error'}` });
      continue;
    }
    if (st.isDirectory()) walk(p);
    else out.push({ file: p, walked: false });
  }
  return out;
}

function reason(e: unknown): string {
  return isAppError(e) || e instanceof Error ? e.message : String(e);
}

/**
 * Adds the certificates of one file to `dump`: raw DER, or any number of PEM CERTIFICATE
 * blocks (a bundle or a chain). A block that does not parse is reported as `file#n`, a BEGIN
 * without its END by its line, and the file's other blocks are still read (a truncated block
 * never swallows the complete one after it).
 */
export function addCertificateFile(dump: CertificateDump, file: string, data: Buffer, walked: boolean): void {
  const problem = (message: string): void => {
    dump.malformed += 1;
    dump.problems.push({ source: 'certificates', file, message });
  };
  const add = (der: Buffer, source: string): boolean => {
    let facts: CertFacts;
    try {
      facts = certFactsOf(parseCertificate(der), source);
    } catch (e) {
      problem(`${source === file ? '' : `certificate ${source.slice(file.length + 1)}: `}${reason(e)}`);
      return false;
    }
    if (dump.certs.has(facts.fingerprint)) dump.duplicates += 1;
    else dump.certs.set(facts.fingerprint, facts);
    return true;
  };
  if (data.length === 0) return problem('empty file');
  // DER: a certificate is a SEQUENCE (X.690 tag 0x30); PEM text never starts with that byte.
  if (data[0] === 0x30) {
    add(data, file);
    return;
  }
  const text = data.toString('latin1');
  if (!text.includes('-----BEGIN ')) return problem('neither a PEM file nor a DER certificate');
  // A CERTIFICATE block without its END is reported by its line; the blocks after it are read.
  const truncated: number[] = [];
  const blocks = fromPemAll(text, undefined, (t) => {
    if (t.label === 'CERTIFICATE') truncated.push(t.line);
  });
  const certs = blocks.filter((b) => b.label === 'CERTIFICATE');
  const reportTruncated = (): void => {
    for (const line of truncated) problem(`CERTIFICATE block at line ${line} has no END line`);
  };
  if (certs.length === 0) {
    if (truncated.length > 0) return reportTruncated();
    if (walked && blocks.length > 0) {
      dump.skippedFiles += 1; // a key or CSR beside the certificates: not a certificate file
      return;
    }
    return problem(blocks.length > 0 ? `no CERTIFICATE block (holds ${[...new Set(blocks.map((b) => b.label))].join(', ')})` : 'no complete PEM block');
  }
  // Numbered among the complete blocks (`file#n`) as soon as the file holds more than one block.
  certs.forEach((b, k) => add(b.der, certs.length === 1 && truncated.length === 0 ? file : `${file}#${k + 1}`));
  reportTruncated();
}

/**
 * Reads every certificate under `paths`. Files are read synchronously (small files, one
 * `read` each, is the fastest way) in batches, yielding to the event loop between batches
 * so a progress bar can draw.
 */
export async function readCertificates(paths: readonly string[], onProgress?: (done: number, total: number) => void): Promise<CertificateDump> {
  const dump: CertificateDump = { certs: new Map(), filesRead: 0, duplicates: 0, malformed: 0, skippedFiles: 0, problems: [] };
  const files = listCertificateFiles(paths, dump.problems);
  dump.malformed += dump.problems.length;
  for (let k = 0; k < files.length; k++) {
    const { file, walked } = files[k] as { file: string; walked: boolean };
    let data: Buffer;
    try {
      data = readFileSync(file);
    } catch (e) {
      dump.malformed += 1;
      dump.problems.push({ source: 'certificates', file, message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? 'error'}` });
      continue;
    }
    dump.filesRead += 1;
    addCertificateFile(dump, file, data, walked);
    if ((k & 1023) === 1023) {
      onProgress?.(k + 1, files.length);
      await yieldToLoop();
    }
  }
  onProgress?.(files.length, files.length);
  return dump;
}
