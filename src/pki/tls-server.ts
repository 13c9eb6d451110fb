import { createPublicKey } from 'node:crypto';
import { isIP } from 'node:net';
import type { UnlockedCa } from './ca.js';
import { implicitPrimitive, seq, tlv, toPem } from './der.js';
import { OID } from './oids.js';
import { encodeName } from './names.js';
import {
  buildCertificate,
  extAuthorityKeyId,
  extBasicConstraints,
  extExtKeyUsage,
  extKeyUsage,
  extSubjectKeyId,
  extension,
  keyIdentifier,
  randomCertSerial,
} from './profiles.js';
import { generateKeyPair } from './signer.js';


function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  // IPv6: expand '::' and write 8 groups.
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g || '0', 16), i * 2));
  return out;
}

/**
 * The TLS server certificate of femtoguard's HTTPS listener (EST, check-in), issued by the
 * issuing CA at every start with a fresh key, so no TLS private key is ever stored.
 * Devices trust it through the chain they get from EST `cacerts`.
 */
export async function issueTlsServerCertificate(ca: UnlockedCa, names: readonly string[], validityDays = 30): Promise<{ certPem: string; keyPem: string }> {
  const keys = generateKeyPair('P-256');
  const spki = createPublicKey(keys.privateKey).export({ format: 'der', type: 'spki' });
  const hosts = [...new Set(['localhost', '127.0.0.1', '::1', ...names])];
  // RFC 5280 §4.2.1.6: dNSName [2] IA5String, iPAddress [7] OCTET STRING.
  const san = seq(...hosts.map((h) => (isIP(h) ? implicitPrimitive(7, ipBytes(h)) : tlv(0x82, Buffer.from(h, 'latin1')))));
  const now = Date.now();
  const der = await buildCertificate({
    signer: ca.issuingSigner,
    issuerDer: ca.issuing.subjectDer,
    subjectDer: encodeName([{ type: OID.commonName, value: hosts.find((h) => !isIP(h) && h !== 'localhost') ?? 'femtoguard' }]),
    spki,
    serialNumber: randomCertSerial(),
    notBefore: new Date(now - 5 * 60_000),
    notAfter: new Date(Math.min(now + validityDays * 86_400_000, ca.issuing.notAfter.getTime())),
    extensions: [
      extBasicConstraints(false),
      extKeyUsage(['digitalSignature']),
      extExtKeyUsage([OID.kpServerAuth]),
      extSubjectKeyId(spki),
      extAuthorityKeyId(ca.issuing.extensions.subjectKeyIdentifier ?? keyIdentifier(ca.issuing.spki)),
      extension(OID.subjectAltName, false, san),
    ],
  });
  return {
    certPem: toPem('CERTIFICATE', der) + ca.chainPem.split(/(?=-----BEGIN)/)[0],
    keyPem: keys.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
  };
}
