/**
 * Subscriber identifiers are personal data: shown in full only to roles allowed to see them
 * and in notification exports; masked everywhere else (API lists, UI, logs, webhooks).
 */
export function maskImsi(imsi: string): string {
  // Keep MCC+MNC (which network) and the last two digits (to tell rows apart).
  if (imsi.length <= 7) return '*'.repeat(imsi.length);
  return imsi.slice(0, 5) + '*'.repeat(imsi.length - 7) + imsi.slice(-2);
}

export function maskMsisdn(msisdn: string): string {
  const plus = msisdn.startsWith('+') ? '+' : '';
  const digits = msisdn.slice(plus.length);
  if (digits.length <= 4) return plus + '*'.repeat(digits.length);
  return plus + digits.slice(0, 2) + '*'.repeat(digits.length - 4) + digits.slice(-2);
}

/** Masks `imsi`, `msisdn` and `imei` fields of an object (shallow), leaving the rest. */
export function maskSubscriberFields<T extends { imsi?: string; msisdn?: string; imei?: string }>(o: T): T {
  const out = { ...o };
  if (out.imsi) out.imsi = maskImsi(out.imsi);
  if (out.msisdn) out.msisdn = maskMsisdn(out.msisdn);
  if (out.imei) out.imei = out.imei.slice(0, 8) + '*'.repeat(Math.max(0, out.imei.length - 8));
  return out;
}
