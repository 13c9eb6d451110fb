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
  /** Binds a factory credential (fingerprint) to a serial; returns the serial it is bound to (may be another one). */
  bindVendorCredential(credential: string, serial: string, at: string): Promise<string>;
}
