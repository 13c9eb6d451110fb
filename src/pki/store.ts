/** Ports owned by the PKI: issued certificates, key bindings, the change feed, CA material. */

export type CertKind = 'device' | 'ocsp-responder';
export type CertStatus = 'valid' | 'revoked';

export interface CertRecord {
  serialHex: string;
  kind: CertKind;
  deviceSerial: string | null;
  /** lowercase hex SHA-256 of the DER certificate */
  fingerprint: string;
  /** lowercase hex SHA-256 of the DER SubjectPublicKeyInfo */
  spkiSha256: string;
  notBefore: string;
  notAfter: string;
  issuedAt: string;
  status: CertStatus;
  revokedAt: string | null;
  /** RFC 5280 §5.3.1 CRLReason code */
  reason: number | null;
}

export interface CertFilter {
  deviceSerial?: string | undefined;
  status?: CertStatus | undefined;
  after?: string | undefined;
  limit?: number | undefined;
}

export interface RevokedCert {
  serialHex: string;
  revokedAt: string;
  reason: number | null;
}

export type CaMaterialName = 'root' | 'issuing' | 'ocsp';

export interface CaMaterial {
  name: CaMaterialName;
  keyAlgorithm: string;
  certDer: Buffer;
  /** key-protection envelope (scrypt + AES-256-GCM); never a plain key */
  encryptedKey: Buffer;
  createdAt: string;
}

export interface CertStore {
  /**
   * Records an issued certificate and binds its public key to the device, atomically.
   * Returns the serial of the device the key is already bound to when that is another
   * device (and records nothing), or null on success.
   */
  recordIssued(rec: CertRecord, der: Buffer): Promise<string | null>;
  keyOwner(spkiSha256: string): Promise<string | null>;
  get(serialHex: string): Promise<CertRecord | null>;
  getDer(serialHex: string): Promise<Buffer | null>;
  byFingerprint(fingerprint: string): Promise<CertRecord | null>;
  list(filter: CertFilter): Promise<CertRecord[]>;
  /** Revokes the device's valid certificates; returns their serials. */
  revokeDevice(deviceSerial: string, reason: number, at: string): Promise<string[]>;
  revoke(serialHex: string, reason: number, at: string): Promise<boolean>;
  /** Lifts `certificateHold` revocations of the device (RFC 5280 removeFromCRL); returns their serials. */
  releaseHolds(deviceSerial: string, at: string): Promise<string[]>;
  /** Revoked certificates not yet expired at `now`, for the CRL. */
  revokedUnexpired(now: string): Promise<RevokedCert[]>;
  /** The change feed: certificate status changes with seq > `afterSeq`. */
  changesSince(afterSeq: number, limit?: number): Promise<{ seq: number; serialHex: string }[]>;
  lastChangeSeq(): Promise<number>;
  /** RFC 5280 §5.2.3: monotonically increasing CRL number. */
  nextCrlNumber(): Promise<bigint>;
  loadCaMaterial(): Promise<CaMaterial[]>;
  /** Saves CA material; with `replace` false it refuses (returns false) when any name exists. */
  saveCaMaterial(items: CaMaterial[], replace: boolean): Promise<boolean>;
}
