/**
 * Degenerate "certs-only" CMS SignedData (RFC 5652 §5, RFC 7030 §4.1.3): how EST hands
 * out CA certificates (/cacerts) and issued certificates (/simpleenroll).
 */
import { OID } from './oids.js';
import { TAG, explicit, int, oid, seq, set, tlv } from './der.js';

/**
 * ContentInfo { signedData, [0] SignedData { version 1, digestAlgorithms {}, encapContentInfo
 * { id-data } without eContent, certificates [0] IMPLICIT, signerInfos {} } }.
 * Certificates are a SET OF, so DER (X.690 §11.6) orders them by their encodings; EST
 * clients locate the chain by names, not by position.
 */
export function certsOnlyPkcs7(certs: readonly Buffer[]): Buffer {
  const sorted = [...certs].sort(Buffer.compare);
  const signedData = seq(
    int(1),
    set(),
    seq(oid(OID.pkcs7Data)),
    ...(sorted.length > 0 ? [tlv(0xa0, ...sorted)] : []), // certificates OPTIONAL
    tlv(TAG.SET),
  );
  return seq(oid(OID.pkcs7SignedData), explicit(0, signedData));
}
