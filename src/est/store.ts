/** Ports owned by EST: one-time enrollment tokens, vendor (factory) roots and bindings. */

export interface EnrollTokenRecord {
  id: string;
  serial: string;
  createdAt: string;
  expiresAt: string;
  usedAt: string | null;
  createdBy: string;
}

export type ConsumeResult = 'ok' | 'unknown' | 'used' | 'expired' | 'wrong_serial';

export interface VendorRoot {
  fingerprint: string;
  subject: string;
  der: Buffer;
  addedAt: string;
}

export interface EnrollmentStore {
  insertToken(rec: EnrollTokenRecord, tokenHash: string): Promise<void>;
  /** Looks the token up by hash and, only if it is valid for this serial now, marks it used (atomically). */
  consumeToken(tokenHash: string, serial: string, now: string): Promise<ConsumeResult>;
  /** Undo a consumption when the enrollment then failed for another reason (the device may retry). */
  unconsumeToken(tokenHash: string): Promise<void>;
  listTokens(serial?: string): Promise<EnrollTokenRecord[]>;
  addVendorRoot(root: VendorRoot): Promise<boolean>;
  vendorRoots(): Promise<VendorRoot[]>;
  /**
   * Binds factory credentials (certificate and key fingerprints) to a serial, all or none,
   * in one transaction. Returns the credentials newly bound, or the first one already bound
   * to another serial (and binds nothing).
   */
  bindVendorCredentials(credentials: readonly string[], serial: string, at: string): Promise<{ ok: true; created: string[] } | { ok: false; credential: string; boundTo: string }>;
  /** Undoes bindings this serial just created (the enrollment failed later). */
  unbindVendorCredentials(credentials: readonly string[], serial: string): Promise<void>;
}
