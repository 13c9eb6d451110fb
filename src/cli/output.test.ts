import { afterEach, describe, expect, it, vi } from 'vitest';
import { printResult, table, visible } from './output.js';

const ESC = '\u001b';
const HOSTILE_TX = `tx${ESC}[2J${ESC}[31mFAKE${ESC}]0;owned\u0007`;

/** What printResult wrote to stdout. */
function printed(json: boolean, value: unknown, text: () => string): string {
  const out: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
  try {
    printResult(json, value, text);
  } finally {
    spy.mockRestore();
  }
  return out.join('');
}

afterEach(() => vi.restoreAllMocks());

describe('table', () => {
  it('ok/plain values are aligned as before', () => {
    expect(table(['id', 'subject'], [[1, 'DB1'], [22, null]])).toBe('id  subject\n1   DB1\n22');
  });

  it('fail/terminal escape sequences in a cell are shown as escapes, never sent raw', () => {
    const out = table(['id', 'subject'], [[7, HOSTILE_TX]]);
    expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(out.split('\n')[1]).toBe('7   tx\\x1b[2J\\x1b[31mFAKE\\x1b]0;owned\\x07');
  });

  it('fail/bidi overrides, isolates, marks and invisible characters are shown as escapes', () => {
    const serial = 'KTF\u202Egnp.exe\u202C-REAL\u2066\u2069\u200E\u200F\u061C\u200B\u3164\uFEFF';
    expect(table(['serial'], [[serial]]).split('\n')[1]).toBe('KTF\\u202egnp.exe\\u202c-REAL\\u2066\\u2069\\u200e\\u200f\\u061c\\u200b\\u3164\\ufeff');
  });

  it('fail/DEL, C1 controls, line breaks and tabs inside a cell cannot break the row or drive the terminal', () => {
    expect(table(['v'], [['a\u007fb\u009bc\nd\te\u2028']]).split('\n')).toEqual(['v', 'a\\x7fb\\x9bc\\x0ad\\x09e\\u2028']);
  });

  it('fail/a backslash in data is doubled, so a value cannot pass for an escaped one', () => {
    expect(visible('\\u202e')).toBe('\\\\u202e');
    expect(visible('\u202e')).toBe('\\u202e');
  });

  it('ok/columns are aligned on the escaped text', () => {
    const [head, row] = table(['a', 'b'], [[`${ESC}x`, 'y']]).split('\n');
    expect(head?.indexOf('b')).toBe(row?.indexOf('y'));
  });
});

describe('printResult', () => {
  it('fail/free text carrying control or bidi characters is escaped; its own line breaks and tabs stay', () => {
    expect(printed(false, null, () => `serial ${HOSTILE_TX}\u202E\n\tdone`)).toBe('serial tx\\x1b[2J\\x1b[31mFAKE\\x1b]0;owned\\x07\\u202e\n\tdone\n');
  });

  it('ok/a table is not escaped twice', () => {
    expect(printed(false, null, () => table(['s'], [[HOSTILE_TX]]))).toBe(`s\n${visible(HOSTILE_TX)}\n`);
  });

  it('fail/--json writes DEL, C1, bidi and invisible characters as \\u escapes; the value is unchanged', () => {
    const value = { txId: `${HOSTILE_TX}\u007f\u009b\u202E\u{E0041}` };
    const out = printed(true, value, () => '');
    expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]|[\u{E0000}-\u{E007F}]/u);
    expect(out).toContain('\\u007f\\u009b\\u202e\\udb40\\udc41');
    expect(JSON.parse(out)).toEqual(value);
  });
});
