/**
 * Streaming NDJSON reader (FORMATS.md §1): one JSON value per `\n`-separated line, UTF-8,
 * blank lines ignored, a `\r` before the `\n` tolerated. Each line comes with its 1-based
 * line number; a line that is not JSON is reported as an error and reading goes on.
 */
export type NdjsonLine = { line: number; value: unknown; bytes: number } | { line: number; error: string; bytes: number };

/** Lines longer than this are reported and skipped (no unbounded buffering). */
export const MAX_LINE_BYTES = 1024 * 1024;

/**
 * Push-style splitter: the hot path of `femtoguard detect` and ingestion calls `push` per
 * chunk with a callback, avoiding a promise per line.
 */
export class NdjsonSplitter {
  private carry: Buffer | null = null;
  private line = 0;
  private skipping = false;

  constructor(private readonly maxLine = MAX_LINE_BYTES) {}

  push(buf: Buffer, onLine: (l: NdjsonLine) => void): void {
    let start = 0;
    let nl = buf.indexOf(10, start);
    while (nl !== -1) {
      this.line++;
      const length = (this.carry?.length ?? 0) + (nl - start);
      // The limit holds for a line inside one chunk as for one that spans chunks: the result
      // must not depend on how the input was cut.
      if (this.skipping || length > this.maxLine) {
        this.skipping = false;
        onLine({ line: this.line, error: `line longer than ${this.maxLine} bytes`, bytes: length + 1 });
      } else {
        const piece: Buffer = this.carry ? Buffer.concat([this.carry, buf.subarray(start, nl)]) : buf.subarray(start, nl);
        const out = parseLine(piece, this.line);
        if (out) onLine(out);
      }
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

  end(onLine: (l: NdjsonLine) => void): void {
    if (this.skipping) onLine({ line: this.line + 1, error: `line longer than ${this.maxLine} bytes`, bytes: 0 });
    else if (this.carry && this.carry.length > 0) {
      const out = parseLine(this.carry, this.line + 1);
      if (out) onLine(out);
    }
    this.carry = null;
    this.skipping = false;
  }
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

function parseLine(piece: Buffer, line: number): NdjsonLine | null {
  let end = piece.length;
  if (end > 0 && piece[end - 1] === 13) end--;
  // Blank (or whitespace-only) lines are ignored.
  let i = 0;
  while (i < end && (piece[i] === 32 || piece[i] === 9)) i++;
  if (i === end) return null;
  const text = piece.toString('utf8', 0, end);
  try {
    return { line, value: JSON.parse(text) as unknown, bytes: piece.length + 1 };
  } catch (e) {
    return { line, error: `not valid JSON (${(e as Error).message.replace(/^Unexpected/, 'unexpected').slice(0, 80)})`, bytes: piece.length + 1 };
  }
}
