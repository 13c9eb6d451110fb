/** Object identifiers femtoguard writes or reads, with the document that defines each. */
export const OID = {
  // RFC 5480 / RFC 5758 / RFC 8017
  ecPublicKey: '1.2.840.10045.2.1',
  prime256v1: '1.2.840.10045.3.1.7',
  secp384r1: '1.3.132.0.34',
  secp521r1: '1.3.132.0.35',
  rsaEncryption: '1.2.840.113549.1.1.1',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  ecdsaWithSHA384: '1.2.840.10045.4.3.3',
  ecdsaWithSHA512: '1.2.840.10045.4.3.4',
  ecdsaWithSHA1: '1.2.840.10045.4.1',
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  sha384WithRSAEncryption: '1.2.840.113549.1.1.12',
  sha512WithRSAEncryption: '1.2.840.113549.1.1.13',
  sha1WithRSAEncryption: '1.2.840.113549.1.1.5',
  md5WithRSAEncryption: '1.2.840.113549.1.1.4',
  rsassaPss: '1.2.840.113549.1.1.10',
  ed25519: '1.3.101.112',
  // hashes (RFC 3279, RFC 5754)
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  // X.520 attribute types
  commonName: '2.5.4.3',
  serialNumber: '2.5.4.5',
  countryName: '2.5.4.6',
  organizationName: '2.5.4.10',
  organizationalUnitName: '2.5.4.11',
  // RFC 5280 extensions
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  cRLNumber: '2.5.29.20',
  cRLReason: '2.5.29.21',
  cRLDistributionPoints: '2.5.29.31',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  // access methods and key purposes
  adOcsp: '1.3.6.1.5.5.7.48.1',
  adCaIssuers: '1.3.6.1.5.5.7.48.2',
  kpServerAuth: '1.3.6.1.5.5.7.3.1',
  kpClientAuth: '1.3.6.1.5.5.7.3.2',
  kpOcspSigning: '1.3.6.1.5.5.7.3.9',
  // RFC 6960 OCSP
  ocspBasic: '1.3.6.1.5.5.7.48.1.1',
  ocspNonce: '1.3.6.1.5.5.7.48.1.2',
  ocspNoCheck: '1.3.6.1.5.5.7.48.1.5',
  // PKCS#9 / PKCS#7 (RFC 2985, RFC 5652)
  extensionRequest: '1.2.840.113549.1.9.14',
  challengePassword: '1.2.840.113549.1.9.7',
  pkcs7Data: '1.2.840.113549.1.7.1',
  pkcs7SignedData: '1.2.840.113549.1.7.2',
  // RFC 4108 hardware module name (otherName in SAN) – used for the device serial
  hardwareModuleName: '1.3.6.1.5.5.7.8.4',
} as const;
