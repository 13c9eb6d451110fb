/**
 * The PKI: femtoguard's per-device CA, issuance, revocation, OCSP and CRL. Only this module
 * touches CA private keys.
 */
export { initCa, unlockCa, caExists, publicCaCertificates, renewalDue, renewOcspResponder } from './ca.js';
export type { CaSettings, UnlockedCa } from './ca.js';
export { createIssuance, MAX_DEVICE_VALIDITY_DAYS } from './issuance.js';
export type { Issuance, IssuanceSettings, IssuedCertificate } from './issuance.js';
export { createRevocation } from './revocation.js';
export type { Revocation, ChangeListener } from './revocation.js';
export { createOcspResponder } from './ocsp-responder.js';
export type { OcspResponder, OcspResponderSettings, DeviceStatusLookup } from './ocsp-responder.js';
export { createCrlPublisher } from './crl-publisher.js';
export type { CrlPublisher } from './crl-publisher.js';
export type { CertStore, CertRecord, CertFilter, CaMaterial, CertKind, CertStatus } from './store.js';
export { parseCsr, parseCsrAsync, MAX_CSR_BYTES } from './csr.js';
export type { ParsedCsr } from './csr.js';
export { buildCsr } from './csr-build.js';
export { parseCertificate, verifySignedBy, pemOrDerToDerList } from './certificate.js';
export type { ParsedCertificate } from './certificate.js';
export { certsOnlyPkcs7 } from './pkcs7.js';
export { CRL_REASONS, parseCrlReason, crlReasonName, parseCrl } from './crl.js';
export { OCSP_CONTENT_TYPES, decodeOcspGetPath, ocspErrorResponse } from './ocsp.js';
export { toPem, fromPemAll } from './der.js';
export { nameToString } from './names.js';
export { KEY_ALGORITHMS } from './signer.js';
export type { KeyAlgorithm, Signer } from './signer.js';
export { DEVICE_URN_PREFIX } from './profiles.js';
export { OID } from './oids.js';
export { issueTlsServerCertificate } from './tls-server.js';
export type { TlsServerCertificate } from './tls-server.js';
export { reconcileRevocations, RECONCILED_STATUSES, RECONCILE_ACTOR } from './reconcile.js';
export type { ReconcileDeps, ReconcileResult, DevicesInStatus, RevokingStatus } from './reconcile.js';
export { csrAttributes } from './csr-attrs.js';
export { normalizeSerialHex } from './serial.js';
