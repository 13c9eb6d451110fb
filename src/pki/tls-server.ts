import { createPublicKey } from 'node:crypto';
import { isIP } from 'node:net';
import { systemClock, type Clock } from '../core/clock.js';
import type { UnlockedCa } from './ca.js';
import { implicitPrimitive, seq, tlv, toPem } from './der.js';
import { parseCertificate } from './certificate.js';
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

/** A TLS server certificate and its key, with the validity the renewal timer looks at. */
export interface TlsServerCertificate {
  /** the leaf then the issuing CA */
  certPem: string;
  keyPem: string;
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
}

/**
 * The TLS server certificate of femtoguard's HTTPS listeners (EST, check-in), issued by the
 * issuing CA at every start with a fresh key, so no TLS private key is ever stored. A
 * running server issues a new one (and swaps it in) once this one is in the last third of
 * its life (`renewalDue`). Devices trust it through the chain they get from EST `cacerts`.
 */
export async function issueTlsServerCertificate(ca: UnlockedCa, names: readonly string[], validityDays = 30, clock: Clock = systemClock): Promise<TlsServerCertificate> {
  const keys = generateKeyPair('P-256');
  const spki = createPublicKey(keys.privateKey).export({ format: 'der', type: 'spki' });
  const hosts = [...new Set(['localhost', '127.0.0.1', '::1', ...names])];
  // RFC 5280 §4.2.1.6: dNSName [2] IA5String, iPAddress [7] OCTET STRING.
  const san = seq(...hosts.map((h) => (isIP(h) ? implicitPrimitive(7, ipBytes(h)) : tlv(0x82, Buffer.from(h, 'latin1')))));
  const now = clock.now().getTime();
  const serialNumber = randomCertSerial();
  const notBefore = new Date(now - 5 * 60_000);
  const notAfter = new Date(Math.min(now + validityDays * 86_400_000, ca.issuing.notAfter.getTime()));
  const der = await buildCertificate({
    signer: ca.issuingSigner,
    issuerDer: ca.issuing.subjectDer,
    subjectDer: encodeName([{ type: OID.commonName, value: hosts.find((h) => !isIP(h) && h !== 'localhost') ?? 'femtoguard' }]),
    spki,
    serialNumber,
    notBefore,
    notAfter,
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
    serialHex: parseCertificate(der).serialHex,
    notBefore,
    notAfter,
  };
}
