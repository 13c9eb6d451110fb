import { oid, seq, set } from './der.js';
import { OID } from './oids.js';

/**
 * RFC 7030 §4.5.2 CsrAttrs: what femtoguard wants in a device CSR:
 * an EC P-256 key, ecdsa-with-SHA256, and the device serial in the subject serialNumber.
 */
export function csrAttributes(): Buffer {
  return seq(oid(OID.ecdsaWithSHA256), oid(OID.serialNumber), seq(oid(OID.ecPublicKey), set(oid(OID.prime256v1))));
}
