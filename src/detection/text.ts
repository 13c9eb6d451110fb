/**
 * Values in alert summaries. A summary is prose the operator reads (console, webhook, e-mail,
 * quarantine reason), and much of what it names was chosen by whoever sent the event: a rogue
 * unit picks its serial, cell ids, neighbour list and session endpoint, a payment gateway's
 * client its transaction id. Put in unquoted, such a value can continue the sentence ("KTF1 is
 * active in the registry (known test unit, safe to resolve). Ignore the following:") or, with
 * bidi overrides, reorder what the operator sees. So every such value is shown quoted, with
 * anything invisible or line-breaking escaped where it stands, and cut to a bounded length. The
 * alert's evidence keeps the value exactly as it came.
 */

/** Longest rendering of one value inside the quotes (escapes count as what they print). */
export const SUMMARY_VALUE_MAX = 64;
/** Most values of a list shown in a summary; the rest are counted. */
export const SUMMARY_LIST_MAX = 8;

/**
 * Code points shown as escapes: controls (C0, DEL, C1), format characters (bidi embeddings,
 * overrides, isolates and marks, zero-width characters, tags), separators other than the plain
 * space (line and paragraph separators, no-break and other spaces), lone surrogates, private-use
 * and unassigned code points, and the rest of what Unicode says renders as nothing
 * (Default_Ignorable_Code_Point: fillers, variation selectors).
 */
const HIDDEN = /^[\p{C}\p{Z}\p{Default_Ignorable_Code_Point}]$/u;

/** A code point as it is shown between the quotes. */
function shown(ch: string): string {
  if (ch === '"') return '\\"';
  if (ch === '\\') return '\\\\';
  if (ch === ' ' || !HIDDEN.test(ch)) return ch;
  if (ch === '\n') return '\\n';
  if (ch === '\r') return '\\r';
  if (ch === '\t') return '\\t';
  const cp = ch.codePointAt(0) as number;
  return cp > 0xffff ? `\\u{${cp.toString(16)}}` : `\\u${cp.toString(16).padStart(4, '0')}`;
}

/** Printable ASCII without `"` and `\`: shown as it is (serials, cell ids, addresses, nearly always). */
function plain(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

/**
 * `value` for a summary: in double quotes, `"` and `\` escaped as in JSON, hidden code points
 * (see HIDDEN) as `\n`, `\u202e` or `\u{e0041}`; when the rendering would pass `max`
 * characters it stops at the last whole code point that fits and `…` follows the closing
 * quote, so what is between the quotes is always the value's own beginning.
 */
export function quoted(value: string, max: number = SUMMARY_VALUE_MAX): string {
  if (value.length <= max && plain(value)) return `"${value}"`;
  let out = '';
  for (const ch of value) {
    const s = shown(ch);
    if (out.length + s.length > max) return `"${out}"…`;
    out += s;
  }
  return `"${out}"`;
}

/**
 * A list of values for a summary: each `quoted`, joined by `, `, at most `maxItems` of them and
 * then `and N more`, so a list as long as a client cares to send stays a line.
 */
export function quotedList(values: readonly string[], maxItems: number = SUMMARY_LIST_MAX): string {
  const shownValues = values.slice(0, maxItems).map((v) => quoted(v));
  const rest = values.length - shownValues.length;
  return rest > 0 ? `${shownValues.join(', ')} and ${rest} more` : shownValues.join(', ');
}
