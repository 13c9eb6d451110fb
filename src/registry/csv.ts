/**
 * Streaming RFC 4180 CSV reader and writer helpers for the fleet registry (FORMATS.md §2).
 *
 * The reader is a chunk-local state machine: it never concatenates the whole input, keeps at
 * most one pending record (bounded by `maxRecordLength`) and finds separators with
 * `indexOf` on cached positions, so each character is looked at a constant number of times.
 *
 * Accepted beyond the RFC, because operators' exports do it: LF as well as CRLF line ends, a
 * UTF-8 byte-order mark at the start, blank lines (skipped), a last line without a line end.
 *
 * Syntax errors do not stop the reader: the broken record is reported as `{ line, error }`
 * and parsing restarts at the physical line after the line where the broken record began,
 * so a stray quote costs one record rather than the rest of the file.
 */

/** One parsed record, or a syntax error for the record that starts on `line` (1-based). */
export type CsvRecord = { line: number; fields: string[] } | { line: number; error: string };

export interface CsvReadOptions {
  /**
   * Largest record accepted, in UTF-16 code units of its raw text (never more than its UTF-8
   * byte count, so the default bounds a record to at most 1 MiB of input). Larger records are
   * reported as errors instead of being buffered without bound.
   */
  maxRecordLength?: number;
}

/** Default record size limit: 1 MiB. */
export const MAX_CSV_RECORD_LENGTH = 1024 * 1024;

const LF = '\n';
const COMMA = ',';
const QUOTE = '"';
const CR_CODE = 13;

// Parser states.
const S_FIELD = 0; // at the start of a field
const S_UNQUOTED = 1; // inside an unquoted field (continued from an earlier chunk)
const S_QUOTED = 2; // inside a quoted field
const S_QUOTE_SEEN = 3; // read a '"' inside a quoted field: either "" or the closing quote
const S_QUOTE_CR = 4; // read CR after a closing quote; only LF may follow
const S_SKIP = 5; // resyncing after an error: discard through the next LF

/** Incremental parser; feed it text in order, with `final` on the last call. */
class CsvParser {
  private readonly max: number;
  private state = S_FIELD;
  private started = false;
  /** Physical line number (1-based) of the scan position. */
  private line = 1;
  // The pending record.
  private inRecord = false;
  private recLine = 1;
  private fields: string[] = [];
  /** Text of the current field carried over from earlier chunks. */
  private field = '';
  /** Raw text of the pending record from earlier chunks, kept to resync after an error. */
  private raw: string[] = [];
  private rawLength = 0;

  constructor(options: CsvReadOptions | undefined) {
    const max = options?.maxRecordLength ?? MAX_CSV_RECORD_LENGTH;
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError('maxRecordLength must be a positive integer');
    this.max = max;
  }

  feed(input: string, final: boolean, out: CsvRecord[]): void {
    let text = input;
    if (!this.started && text.length > 0) {
      this.started = true;
      // A UTF-8 BOM is not data (spreadsheet exports add one); drop it before the first header.
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    let len = text.length;
    let i = 0;
    let recStart = 0; // index in `text` where the pending record starts (0 when it began in an earlier chunk)
    // Cached positions of the next separator of each kind at or after some index; `len` when none.
    let nextComma = -1;
    let nextLf = -1;
    let nextQuote = -1;

    // Reports an error for the pending record and restarts at the line after its first line.
    const resync = (message: string): void => {
      out.push({ line: this.recLine, error: message });
      let from = recStart;
      if (this.raw.length > 0) {
        text = this.raw.join('') + text;
        from = 0;
        len = text.length;
      }
      this.resetRecord();
      this.line = this.recLine;
      const lf = text.indexOf(LF, from);
      if (lf < 0) {
        this.state = S_SKIP;
        i = len;
      } else {
        this.line += 1;
        i = lf + 1;
      }
      nextComma = nextLf = nextQuote = -1;
    };

    // Emits the pending record whose last field is `last` and whose terminator ends before `end`.
    const endRecord = (last: string, end: number): void => {
      const size = this.rawLength + (end - recStart);
      if (size > this.max) {
        resync(`record is larger than ${this.max} characters`);
        return;
      }
      this.fields.push(last);
      out.push({ line: this.recLine, fields: this.fields });
      this.resetRecord();
    };

    for (;;) {
      while (i < len) {
        if (this.state === S_SKIP) {
          const lf = text.indexOf(LF, i);
          if (lf < 0) {
            i = len;
            break;
          }
          this.line += 1;
          i = lf + 1;
          this.state = S_FIELD;
          continue;
        }
        if (!this.inRecord) {
          this.inRecord = true;
          this.recLine = this.line;
          recStart = i;
        }
        const state = this.state;
        if (state === S_FIELD || state === S_UNQUOTED) {
          if (state === S_FIELD && text.charCodeAt(i) === 34 /* " */) {
            this.state = S_QUOTED;
            i += 1;
            continue;
          }
          if (nextComma < i) nextComma = indexOrLen(text, COMMA, i);
          if (nextLf < i) nextLf = indexOrLen(text, LF, i);
          if (nextQuote < i) nextQuote = indexOrLen(text, QUOTE, i);
          const end = nextComma < nextLf ? nextComma : nextLf;
          if (nextQuote < end) {
            // RFC 4180 §2 rule 5: a field containing '"' must be quoted.
            resync(`field ${this.fields.length + 1}: bare '"' inside an unquoted field${this.lineNote(text, recStart, nextQuote)}`);
            continue;
          }
          if (end === len) {
            this.field += text.slice(i);
            this.state = S_UNQUOTED;
            i = len;
            break;
          }
          let value = this.field.length > 0 ? this.field + text.slice(i, end) : text.slice(i, end);
          this.field = '';
          this.state = S_FIELD;
          i = end + 1;
          if (end === nextComma) {
            this.fields.push(value);
            continue;
          }
          // End of the physical line, and so of the record (RFC 4180 §2 rule 1; CR optional).
          this.line += 1;
          if (value.charCodeAt(value.length - 1) === CR_CODE) value = value.slice(0, -1);
          if (this.fields.length === 0 && value.length === 0) {
            this.resetRecord(); // blank line
            continue;
          }
          endRecord(value, i);
          continue;
        }
        if (state === S_QUOTED) {
          if (nextQuote < i) nextQuote = indexOrLen(text, QUOTE, i);
          const q = nextQuote;
          // Line breaks inside quotes are data (RFC 4180 §2 rule 6) but still count as lines.
          if (nextLf < i) nextLf = indexOrLen(text, LF, i);
          while (nextLf < q) {
            this.line += 1;
            nextLf = indexOrLen(text, LF, nextLf + 1);
          }
          this.field += text.slice(i, q);
          if (q === len) {
            i = len;
            break;
          }
          this.state = S_QUOTE_SEEN;
          i = q + 1;
          continue;
        }
        const c = text.charCodeAt(i);
        if (state === S_QUOTE_SEEN) {
          if (c === 34) {
            // RFC 4180 §2 rule 7: "" inside a quoted field is one quote.
            this.field += QUOTE;
            this.state = S_QUOTED;
            i += 1;
          } else if (c === 44 /* , */) {
            this.fields.push(this.field);
            this.field = '';
            this.state = S_FIELD;
            i += 1;
          } else if (c === 10) {
            const value = this.field;
            this.line += 1;
            i += 1;
            this.field = '';
            this.state = S_FIELD;
            endRecord(value, i);
          } else if (c === CR_CODE) {
            this.state = S_QUOTE_CR;
            i += 1;
          } else {
            resync(`field ${this.fields.length + 1}: text after the closing quote${this.lineNote(text, recStart, i)}`);
          }
          continue;
        }
        // S_QUOTE_CR
        if (c === 10) {
          const value = this.field;
          this.line += 1;
          i += 1;
          this.field = '';
          this.state = S_FIELD;
          endRecord(value, i);
        } else {
          resync(`field ${this.fields.length + 1}: text after the closing quote${this.lineNote(text, recStart, i)}`);
        }
      }

      // End of this chunk.
      if (!final) {
        if (this.inRecord) {
          const piece = text.slice(recStart);
          this.raw.push(piece);
          this.rawLength += piece.length;
          if (this.rawLength > this.max) {
            // Re-enter the loop over the carried text: resync() rebuilds it from `raw`.
            text = '';
            len = 0;
            i = 0;
            recStart = 0;
            resync(`record is larger than ${this.max} characters`);
            if (i < len) continue;
          }
        }
        return;
      }
      if (!this.inRecord) return;
      // End of input with a record pending.
      const state = this.state;
      if (state === S_QUOTED) {
        resync(`field ${this.fields.length + 1}: quoted field is not closed before the end of the input`);
        if (i < len) continue;
        return;
      }
      let value = this.field;
      if (state === S_UNQUOTED && value.charCodeAt(value.length - 1) === CR_CODE) value = value.slice(0, -1);
      this.field = '';
      this.state = S_FIELD;
      if (state === S_UNQUOTED && this.fields.length === 0 && value.length === 0) {
        this.resetRecord();
        return;
      }
      endRecord(value, len);
      if (i < len) continue; // endRecord resynced (record too large): parse what follows
      return;
    }
  }

  private resetRecord(): void {
    this.inRecord = false;
    this.fields = [];
    this.field = '';
    this.raw = [];
    this.rawLength = 0;
    this.state = S_FIELD;
  }

  /** " (line N)" when an error sits on a later physical line than the record's first. */
  private lineNote(text: string, recStart: number, at: number): string {
    let line = this.recLine;
    for (const piece of this.raw) line += countLf(piece, 0, piece.length);
    line += countLf(text, recStart, at);
    return line === this.recLine ? '' : ` (line ${line})`;
  }
}

function indexOrLen(text: string, needle: string, from: number): number {
  const k = text.indexOf(needle, from);
  return k < 0 ? text.length : k;
}

function countLf(text: string, from: number, to: number): number {
  let n = 0;
  for (let k = text.indexOf(LF, from); k >= 0 && k < to; k = text.indexOf(LF, k + 1)) n += 1;
  return n;
}

/**
 * Reads RFC 4180 CSV from a stream of chunks (bytes are decoded as UTF-8, split multi-byte
 * sequences included) and yields one record per row, header included, in input order.
 */
export async function* readCsv(
  input: AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | Uint8Array | string>,
  options?: CsvReadOptions,
): AsyncGenerator<CsvRecord> {
  for await (const records of readCsvRecords(input, options)) yield* records;
}

/**
 * {@link readCsv}'s records, the records each chunk completes at a time (never an empty
 * array): for a reader of many rows, one step of an async generator per chunk rather than
 * per row.
 */
export async function* readCsvRecords(
  input: AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | Uint8Array | string>,
  options?: CsvReadOptions,
): AsyncGenerator<CsvRecord[]> {
  const parser = new CsvParser(options);
  // ignoreBOM: the parser strips a leading BOM itself, the same way for string input.
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  for await (const chunk of input) {
    const text = typeof chunk === 'string' ? decoder.decode() + chunk : decoder.decode(chunk, { stream: true });
    const out: CsvRecord[] = [];
    parser.feed(text, false, out);
    if (out.length > 0) yield out;
  }
  const out: CsvRecord[] = [];
  parser.feed(decoder.decode(), true, out);
  if (out.length > 0) yield out;
}

/** Synchronous form of {@link readCsv} for text already in memory. */
export function readCsvText(text: string, options?: CsvReadOptions): CsvRecord[] {
  const out: CsvRecord[] = [];
  new CsvParser(options).feed(text, true, out);
  return out;
}

const NEEDS_QUOTES = /[",\r\n]/;

/** One field for a CSV writer: quoted (RFC 4180 §2 rules 6-7) only when it has to be. */
export function csvField(value: string): string {
  return NEEDS_QUOTES.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/**
 * One CSV record with its CRLF terminator (RFC 4180 §2 rule 1). A record of a single empty
 * field is written as `""` so that readers do not take it for a blank line.
 */
export function toCsvLine(fields: readonly string[]): string {
  if (fields.length === 1 && fields[0] === '') return '""\r\n';
  return fields.map(csvField).join(',') + '\r\n';
}
