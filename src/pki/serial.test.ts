import { describe, expect, it } from 'vitest';
import { normalizeSerialHex } from './serial.js';

describe('normalizeSerialHex', () => {
  it('ok/keeps whole bytes: a leading 0 digit of a byte stays', () => {
    expect(normalizeSerialHex('06FE:12')).toBe('06fe12');
    expect(normalizeSerialHex('6fe12')).toBe('06fe12');
    expect(normalizeSerialHex('0x0006fe12')).toBe('06fe12');
    expect(normalizeSerialHex('00')).toBe('00');
  });
  it('fail/not hex, empty, or longer than 20 bytes', () => {
    expect(normalizeSerialHex('xyz')).toBeNull();
    expect(normalizeSerialHex('')).toBeNull();
    expect(normalizeSerialHex('a'.repeat(41))).toBeNull();
  });
});
