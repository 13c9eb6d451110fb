import { describe, expect, it } from 'vitest';
import { decode, DigitTable, encode } from './digit-table.js';

describe('DigitTable', () => {
  it('ok/digits, a leading +, leading zeros: distinct keys that decode back', () => {
    for (const id of ['450080000000001', '001010000000001', '1010000000001', '+821012345678', '821012345678', '0', '999999999999999', '+1']) {
      const k = encode(id);
      expect(k, id).not.toBeNull();
      expect(decode(k?.value ?? 0, k?.tag ?? 0)).toBe(id);
    }
    const t = new DigitTable();
    t.set('001010000000001', 1);
    t.set('1010000000001', 2);
    t.set('+821012345678', 3);
    t.set('821012345678', 4);
    expect([t.get('001010000000001'), t.get('1010000000001'), t.get('+821012345678'), t.get('821012345678')]).toEqual([1, 2, 3, 4]);
  });

  it('ok/anything else (letters, 16 digits, empty) is kept beside', () => {
    const t = new DigitTable();
    for (const [i, id] of ['alice@example.com', '1234567890123456', '', '+', '12a4'].entries()) {
      expect(encode(id)).toBeNull();
      t.set(id, i);
      expect(t.get(id)).toBe(i);
    }
    expect(t.delete('12a4')).toBe(true);
    expect(t.get('12a4')).toBeUndefined();
  });

  it('ok/a hundred thousand keys through growth, overwrite, and deletion by backward shift', () => {
    const t = new DigitTable(16);
    const id = (i: number): string => String(450080000000000 + i * 7919);
    for (let i = 0; i < 100_000; i++) t.set(id(i), i);
    expect(t.size).toBe(100_000);
    t.set(id(5), 99);
    expect(t.get(id(5))).toBe(99);
    for (let i = 0; i < 100_000; i += 2) expect(t.delete(id(i))).toBe(true);
    expect(t.size).toBe(50_000);
    for (let i = 0; i < 100_000; i++) if (t.get(id(i)) !== (i === 5 ? 99 : i % 2 ? i : undefined)) throw new Error(`key ${i}`);
    expect(t.delete(id(0))).toBe(false);
  });

  it('fail/unknown keys are not found', () => {
    const t = new DigitTable();
    t.set('450080000000001', 1);
    expect(t.get('450080000000002')).toBeUndefined();
    expect(t.get('45008000000001')).toBeUndefined();
  });
});
