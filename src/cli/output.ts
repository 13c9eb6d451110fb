import { AppError, isAppError } from '../core/errors.js';

/**
 * Characters that must not reach a terminal as they are: C0 and C1 controls and DEL (`\p{Cc}`:
 * ESC starts the sequences that clear the screen, recolour text or retitle the window), format
 * characters (`\p{Cf}`: the bidi embeddings, overrides and isolates U+202A-202E and U+2066-2069,
 * the marks U+200E, U+200F and U+061C, zero-width characters, tags), the line and paragraph
 * separators, lone surrogates, and whatever else Unicode says shows as nothing (Hangul fillers,
 * variation selectors). Data from outside (a rogue femtocell's serial, a payment's txId) can carry
 * any of them; the operator console escapes the same set (src/dashboard/public/app.js).
 */
const HIDDEN = String.raw`\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Default_Ignorable_Code_Point}`;
/** HIDDEN and the backslash, so that data spelling out `\x1b` cannot pass for an escape. */
const HIDDEN_OR_BACKSLASH = new RegExp(`[${HIDDEN}\\\\]`, 'gu');
/** Free text keeps its own line breaks and tabs; everything else in HIDDEN is escaped. */
const HIDDEN_IN_TEXT = new RegExp(`(?![\\n\\t])[${HIDDEN}]`, 'gu');
/** What JSON.stringify leaves as it is (it escapes C0 and lone surrogates) but a terminal may act on or hide. */
const HIDDEN_IN_JSON = /[\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/gu;

/** `\x1b` below U+0100, `\u202e` in the BMP, `\u{e0041}` above it: what the character is, visibly. */
function escapeOf(c: string): string {
  const n = c.codePointAt(0) ?? 0;
  const hex = n.toString(16);
  return n < 0x100 ? `\\x${hex.padStart(2, '0')}` : n <= 0xffff ? `\\u${hex.padStart(4, '0')}` : `\\u{${hex}}`;
}

/**
 * One value as the terminal should show it: every control, bidi and invisible character as a
 * visible escape, and a backslash doubled (so the escapes are unambiguous). For table cells and
 * any other single value printed as text.
 */
export function visible(value: string): string {
  return value.replace(HIDDEN_OR_BACKSLASH, (c) => (c === '\\' ? '\\\\' : escapeOf(c)));
}

/**
 * A whole text output made safe for the terminal: line breaks and tabs stay, the rest of HIDDEN is
 * escaped. Backslashes are left alone so the escapes `table()` and `visible()` made are not
 * escaped twice; this pass catches data that a command put into free text.
 */
export function terminalSafe(text: string): string {
  return text.replace(HIDDEN_IN_TEXT, escapeOf);
}

/**
 * JSON with the characters JSON.stringify leaves raw (DEL, C1, bidi and invisible characters)
 * written as `\uXXXX` escapes: the same JSON value, but nothing a terminal acts on or hides. They
 * can only occur inside strings (JSON's own syntax is ASCII), where `\u` escapes are valid.
 */
function jsonSafe(value: unknown): string {
  return jsonTextSafe(JSON.stringify(value, null, 2));
}

/** JSON text (from JSON.stringify) with what `jsonSafe` escapes escaped: for JSON a command renders itself. */
export function jsonTextSafe(json: string): string {
  return json.replace(HIDDEN_IN_JSON, (c) =>
    Array.from({ length: c.length }, (_, i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`).join(''),
  );
}

/** Results go to stdout; with --json as one JSON document. Neither lets data drive the terminal. */
export function printResult(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(json ? jsonSafe(value) + '\n' : terminalSafe(text()).replace(/\n?$/, '\n'));
}

/** A plain text table with aligned columns; every cell shown with `visible()`. */
export function table(headers: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '' : String(c))))].map((r) => r.map(visible));
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (c ?? '').padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

/** Errors go to stderr as `error [code]: message`; the exit code says usage (2) or failure (1). */
export function reportError(e: unknown): number {
  if (isAppError(e)) {
    process.stderr.write(`error [${e.code}]: ${terminalSafe(e.message)}\n`);
    return e.kind === 'invalid' ? 2 : 1;
  }
  const err = e as { code?: string; message?: string; exitCode?: number };
  // commander has printed its message already. It exits 1 for usage errors (unknown option,
  // missing required option or argument); the documented code for bad input is 2. Help and
  // --version exit 0.
  if (err.code?.startsWith('commander.')) return err.exitCode === 0 ? 0 : 2;
  process.stderr.write(`error: ${terminalSafe(err.message ?? String(e))}\n`);
  return 1;
}

export function usage(message: string): AppError {
  return new AppError('invalid', 'cli.usage', message);
}

export const list = (s: string | undefined): string[] | undefined =>
  s === undefined ? undefined : s.split(/[;,]/).map((x) => x.trim()).filter(Boolean);
