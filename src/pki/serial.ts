/**
 * Certificate serial numbers as femtoguard stores them: lowercase hex of the unsigned
 * magnitude in whole bytes, without leading zero bytes (`06fe…` stays `06fe…`).
 * Accepts what operators paste: upper case, `0x`, `:` separators, an odd number of digits.
 * Returns null for text that is not a serial.
 */
export function normalizeSerialHex(text: string): string | null {
  let h = text.trim().toLowerCase().replace(/^0x/, '').replace(/:/g, '');
  if (!/^[0-9a-f]{1,40}$/.test(h)) return null;
  if (h.length % 2) h = `0${h}`;
  while (h.length > 2 && h.startsWith('00')) h = h.slice(2);
  return h;
}
