/**
 * Streaming NDJSON reader (FORMATS.md §1): one JSON value per `\n`-separated line, UTF-8,
 * blank lines ignored, a `\r` before the `\n` tolerated. Each line comes with its 1-based
 * line number; a line that is not JSON is reported as an error and reading goes on.
 */
import { isUtf8 } from 'node:buffer';

export type NdjsonLine = { line: number; value: unknown; bytes: number } | { line: number; error: string; bytes: number };

/** Lines longer than this are reported and skipped (no unbounded buffering). */
export const MAX_LINE_BYTES = 1024 * 1024;

/** The UTF-8 byte order mark, U+FEFF. */
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * Push-style splitter: the hot path of `femtoguard detect` and ingestion calls `push` per
 * chunk with a callback, avoiding a promise per line.
 *
 * A UTF-8 byte order mark at the very start of the stream is dropped (editors and Windows
 * tools write one; RFC 8259 §8.1 lets a parser ignore it), however the chunks cut it. Only
 * there: U+FEFF anywhere else is part of a line, and JSON.parse refuses it before a value.
 */
export class NdjsonSplitter {
  private carry: Buffer | null = null;
  private line = 0;
  private skipping = false;
  /** bytes of a leading BOM matched so far; -1 once the stream is past its first bytes */
  private bom = 0;
  /** bytes of the dropped BOM, added to the first line's byte count (the bytes it took in the input) */
  private lead = 0;

  constructor(private readonly maxLine = MAX_LINE_BYTES) {}

  push(buf: Buffer, onLine: (l: NdjsonLine) => void): void {
    this.pushRaw(buf, (b, start, end, line, bytes) => onLine(parseLine(b, start, end, line, bytes)), onLine);
  }

  end(onLine: (l: NdjsonLine) => void): void {
    this.endRaw((b, start, end, line, bytes) => onLine(parseLine(b, start, end, line, bytes)), onLine);
  }

  /**
   * The same splitting without the parse: `onRaw` gets each non-blank line as bytes
   * `buf[start, end)` (one trailing `\r` removed), `onError` each line over the limit. What
   * `push` does, for a reader that parses lines its own way (`femtoguard detect`'s scanner).
   * `buf` is valid only during the call.
   */
  pushRaw(buf: Buffer, onRaw: RawLine, onError: (l: NdjsonLine) => void): void {
    if (this.bom >= 0) buf = this.dropBom(buf);
    let start = 0;
    let nl = buf.indexOf(10, start);
    while (nl !== -1) {
      this.line++;
      const length = (this.carry?.length ?? 0) + (nl - start);
      const lead = this.lead;
      this.lead = 0;
      // The limit holds for a line inside one chunk as for one that spans chunks: the result
      // must not depend on how the input was cut.
      if (this.skipping || length > this.maxLine) {
        this.skipping = false;
        onError({ line: this.line, error: `line longer than ${this.maxLine} bytes`, bytes: length + 1 + lead });
      } else if (this.carry) {
        const piece = Buffer.concat([this.carry, buf.subarray(start, nl)]);
        emitRaw(piece, 0, piece.length, this.line, onRaw, lead);
      } else emitRaw(buf, start, nl, this.line, onRaw, lead);
      this.carry = null;
      start = nl + 1;
      nl = buf.indexOf(10, start);
    }
    if (start < buf.length && !this.skipping) {
      const rest = buf.subarray(start);
      if ((this.carry?.length ?? 0) + rest.length > this.maxLine) {
        this.skipping = true;
        this.carry = null;
      } else {
        this.carry = this.carry ? Buffer.concat([this.carry, rest]) : Buffer.from(rest);
      }
    }
  }

  endRaw(onRaw: RawLine, onError: (l: NdjsonLine) => void): void {
    // A stream that ended inside what began like a BOM: those bytes were its whole content.
    if (this.bom > 0) this.carry = Buffer.from(BOM.subarray(0, this.bom));
    this.bom = -1;
    if (this.skipping) onError({ line: this.line + 1, error: `line longer than ${this.maxLine} bytes`, bytes: 0 });
    else if (this.carry && this.carry.length > 0) emitRaw(this.carry, 0, this.carry.length, this.line + 1, onRaw, this.lead);
    this.carry = null;
    this.skipping = false;
    this.lead = 0;
  }

  /**
   * The chunk without the part of a leading BOM it holds. Bytes that began like a BOM but
   * turn out not to be one are given back in front of the chunk: the stream is unchanged.
   */
  private dropBom(buf: Buffer): Buffer {
    let k = 0;
    while (this.bom < BOM.length && k < buf.length) {
      if (buf[k] !== BOM[this.bom]) {
        // Not a BOM: what matched so far (from earlier chunks and this one) is content.
        const held = this.bom - k;
        this.bom = -1;
        return held > 0 ? Buffer.concat([BOM.subarray(0, held), buf]) : buf;
      }
      this.bom++;
      k++;
    }
    if (this.bom === BOM.length) {
      this.bom = -1;
      this.lead = BOM.length;
    }
    return buf.subarray(k);
  }
}

/** A non-blank line as bytes: `buf[start, end)`, its 1-based number, and the bytes it took in the input (with its `\n`). */
export type RawLine = (buf: Buffer, start: number, end: number, line: number, bytes: number) => void;

/** Drops one trailing `\r` and skips blank (or whitespace-only) lines; `lead` bytes went before the line (a dropped BOM). */
function emitRaw(buf: Buffer, start: number, nl: number, line: number, onRaw: RawLine, lead: number): void {
  const bytes = nl - start + 1 + lead;
  let end = nl;
  if (end > start && buf[end - 1] === 13) end--;
  let i = start;
  while (i < end && (buf[i] === 32 || buf[i] === 9)) i++;
  if (i === end) return;
  onRaw(buf, start, end, line, bytes);
}

/** Async-iterator form, for callers that prefer `for await`. */
export async function* readNdjson(input: AsyncIterable<Buffer | string>, maxLine = MAX_LINE_BYTES): AsyncGenerator<NdjsonLine> {
  const s = new NdjsonSplitter(maxLine);
  let batch: NdjsonLine[] = [];
  const take = (l: NdjsonLine): void => {
    batch.push(l);
  };
  for await (const chunk of input) {
    s.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk, take);
    if (batch.length) {
      const b = batch;
      batch = [];
      yield* b;
    }
  }
  s.end(take);
  yield* batch;
}

/**
 * JSON.parse of one raw line (see `RawLine`), with the error text every reader reports. A line
 * that is not valid UTF-8 is refused, not decoded with replacement characters: a serial or
 * cell id with U+FFFD in it would be a different identity from the bytes the sender meant.
 */
export function parseLine(buf: Buffer, start: number, end: number, line: number, bytes: number): NdjsonLine {
  // The native check first (every ingested line passes here); the byte walk only to say where.
  if (!isUtf8(buf.subarray(start, end))) {
    const bad = firstInvalidUtf8(buf, start, end);
    return { line, error: `not valid UTF-8 (byte ${bad - start + 1} of the line)`, bytes };
  }
  const text = buf.toString('utf8', start, end);
  try {
    return { line, value: JSON.parse(text) as unknown, bytes };
  } catch (e) {
    return { line, error: `not valid JSON (${(e as Error).message.replace(/^Unexpected/, 'unexpected').slice(0, 80)})`, bytes };
  }
}

/** Offset of the first byte of `buf[start, end)` that is not part of well-formed UTF-8 (RFC 3629), or -1. */
export function firstInvalidUtf8(buf: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i < end) {
    const b = buf[i] as number;
    if (b < 0x80) {
      i++;
      continue;
    }
    // Sequence length and the allowed range of its second byte (no overlongs, no surrogates, <= U+10FFFF).
    let n: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) n = 2;
    else if (b >= 0xe0 && b <= 0xef) {
      n = 3;
      if (b === 0xe0) lo = 0xa0;
      else if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      n = 4;
      if (b === 0xf0) lo = 0x90;
      else if (b === 0xf4) hi = 0x8f;
    } else return i;
    if (i + n > end) return i;
    const b1 = buf[i + 1] as number;
    if (b1 < lo || b1 > hi) return i;
    for (let k = 2; k < n; k++) {
      const c = buf[i + k] as number;
      if (c < 0x80 || c > 0xbf) return i;
    }
    i += n;
  }
  return -1;
}
