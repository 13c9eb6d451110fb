/**
 * Device certificate issuance from CSR on one core, on the path EST takes:
 * parseCsrAsync (with its signature check) + createDeviceIssuer().issue with a P-256 issuing
 * CA. Printed beside the ceiling measured in the same run: node:crypto ECDSA P-256 verify
 * (CRI-sized message) + sign (TBS-sized message) with keys prepared in advance, i.e. the two
 * public-key operations issuance cannot avoid.
 *
 *   npm run bench:pki        (target: ratio >= 0.5)
 */
import { generateKeyPairSync, KeyObject, randomBytes, sign, verify, webcrypto } from 'node:crypto';
import { OID } from '../src/pki/oids.js';
import { generateKeyPair, keyObjectSigner } from '../src/pki/signer.js';
import { buildCsr } from '../src/pki/csr-build.js';
import { parseCsr, parseCsrAsync } from '../src/pki/csr.js';
import { parseRoot, readNode } from '../src/pki/der.js';
import { buildIssuingCa, buildRootCa, createDeviceIssuer, randomCertSerial } from '../src/pki/profiles.js';

const ROUNDS = 30;
const SLICE_MS = 100;
const DURATION_MS = ROUNDS * SLICE_MS;
const CSR_COUNT = 2000;

type Step = (i: number) => void | Promise<void>;
interface Rate {
  ops: number;
  perSec: number;
  /** rate in each slice, in round order */
  slices: number[];
}

/**
 * Times every step for DURATION_MS in total, in ROUNDS slices taken in turn (ceiling, floor,
 * issuance, ceiling, ...), so load from anything else on the machine falls on all of them
 * alike and the ratios stay fair. Each step is awaited, one at a time: one core.
 */
async function timeInterleaved<K extends string>(steps: Record<K, Step>): Promise<Record<K, Rate>> {
  const names = Object.keys(steps) as K[];
  const acc = new Map<K, { ops: number; ms: number; slices: number[] }>(names.map((n) => [n, { ops: 0, ms: 0, slices: [] }]));
  for (const n of names) {
    const warm = performance.now() + 300;
    for (let i = 0; performance.now() < warm; i++) await steps[n](i);
  }
  for (let r = 0; r < ROUNDS; r++) {
    for (const n of names) {
      const a = acc.get(n) as { ops: number; ms: number; slices: number[] };
      const step = steps[n];
      const ops0 = a.ops;
      const start = performance.now();
      const stop = start + SLICE_MS;
      while (performance.now() < stop) {
        for (let k = 0; k < 25; k++) await step(a.ops++);
      }
      const ms = performance.now() - start;
      a.ms += ms;
      a.slices.push(((a.ops - ops0) * 1000) / ms);
    }
  }
  const out = {} as Record<K, Rate>;
  for (const [n, a] of acc) out[n] = { ops: a.ops, perSec: (a.ops * 1000) / a.ms, slices: a.slices };
  return out;
}

/** Length of the first element of a signed SEQUENCE: the CRI of a CSR, the TBS of a certificate. */
function signedPartSize(der: Buffer): number {
  const root = parseRoot(der);
  const first = readNode(der, root.contentStart, root.end);
  return first.end - first.start;
}

async function main(): Promise<void> {
  const nb = new Date(Date.now() - 60_000);
  const na = new Date(Date.now() + 365 * 86_400_000);
  const rootSigner = keyObjectSigner(generateKeyPair('P-256').privateKey);
  const issKeys = generateKeyPair('P-256');
  const issSigner = keyObjectSigner(issKeys.privateKey);
  const root = await buildRootCa({ signer: rootSigner, subject: [{ type: OID.commonName, value: 'Bench Root' }], notBefore: nb, notAfter: na });
  const issuing = await buildIssuingCa({ signer: rootSigner, issuerCertDer: root, subject: [{ type: OID.commonName, value: 'Bench Issuing' }], spki: issSigner.publicKeySpki, notBefore: nb, notAfter: na });
  const issuer = createDeviceIssuer({ signer: issSigner, issuerCertDer: issuing, ocspUrl: 'http://ocsp.femtoguard.example/', crlUrl: 'http://pki.femtoguard.example/issuing.crl' });

  const t0 = performance.now();
  const csrs: Buffer[] = [];
  for (let i = 0; i < CSR_COUNT; i++) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const serial = `KTF${String(i).padStart(6, '0')}`;
    csrs.push(buildCsr({ privateKey, subject: [{ type: OID.commonName, value: serial }, { type: OID.serialNumber, value: serial }] }));
  }
  console.log(`prepared ${CSR_COUNT} distinct P-256 CSRs in ${(performance.now() - t0).toFixed(0)} ms`);

  // A sample certificate gives the real TBS size for the ceiling's sign.
  const sampleCsr = await parseCsrAsync(csrs[0] as Buffer);
  const sample = await issuer.issue({ deviceSerial: 'KTF000000', spki: sampleCsr.spki, serialNumber: randomCertSerial(), notBefore: nb, notAfter: na });
  const criSize = signedPartSize(csrs[0] as Buffer);
  const tbsSize = signedPartSize(sample);

  // Ceiling: one ECDSA P-256 verify (CRI-sized) + one sign (TBS-sized), keys prepared in advance.
  const dev = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const criMsg = randomBytes(criSize);
  const criSig = sign('sha256', criMsg, dev.privateKey);
  const tbsMsg = randomBytes(tbsSize);
  const devPoints = csrs.slice(0, 500).map((d) => parseCsr(d).spki.subarray(-65));

  const { ceiling, withImport, issuance, syncIssuance } = await timeInterleaved({
    // Ceiling: one ECDSA P-256 verify (CRI-sized) + one sign (TBS-sized), keys prepared in advance.
    ceiling: () => {
      if (!verify('sha256', criMsg, dev.publicKey, criSig)) throw new Error('verify failed');
      sign('sha256', tbsMsg, issKeys.privateKey);
    },
    // Context: the same plus importing each device's key the way parseCsrAsync does (a CSR always
    // brings a fresh key; OpenSSL 3.0 builds a new EC_GROUP per imported key). The floor of the EST path.
    withImport: async (i) => {
      const ck = await webcrypto.subtle.importKey('raw', devPoints[i % devPoints.length] as Buffer, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
      verify('sha256', criMsg, KeyObject.from(ck), criSig); // false (other key), same cost
      sign('sha256', tbsMsg, issKeys.privateKey);
    },
    // Issuance: the EST path, over distinct CSRs, awaiting each certificate as a caller would.
    issuance: async (i) => {
      const csr = await parseCsrAsync(csrs[i % CSR_COUNT] as Buffer);
      await issuer.issue({ deviceSerial: csr.commonName ?? 'unknown', spki: csr.spki, serialNumber: randomCertSerial(), notBefore: nb, notAfter: na });
    },
    // Context: the synchronous parseCsr (JWK import) that other callers use.
    syncIssuance: async (i) => {
      const csr = parseCsr(csrs[i % CSR_COUNT] as Buffer);
      await issuer.issue({ deviceSerial: csr.commonName ?? 'unknown', spki: csr.spki, serialNumber: randomCertSerial(), notBefore: nb, notAfter: na });
    },
  });

  const ratio = issuance.perSec / ceiling.perSec;
  // Each issuance slice against the ceiling slice of the same round (200 ms apart): robust to load bursts.
  const paired = issuance.slices.map((v, r) => v / (ceiling.slices[r] as number)).sort((a, b) => a - b);
  const median = ((paired[(paired.length - 1) >> 1] as number) + (paired[paired.length >> 1] as number)) / 2;
  const row = (name: string, r: Rate): string =>
    `${name.padEnd(48)} ${String(r.ops).padStart(9)} ${r.perSec.toFixed(0).padStart(11)} ${(r.perSec / ceiling.perSec).toFixed(2).padStart(9)}`;
  console.log(`node ${process.version}, ${process.versions.openssl ? `OpenSSL ${process.versions.openssl}, ` : ''}one core, ${DURATION_MS / 1000} s per measurement in ${ROUNDS} interleaved slices, CA key P-256, device keys P-256`);
  console.log(`${'measurement'.padEnd(48)} ${'ops'.padStart(9)} ${'per second'.padStart(11)} ${'/ ceiling'.padStart(9)}`);
  console.log(row(`ceiling: verify ${criSize} B + sign ${tbsSize} B`, ceiling));
  console.log(row('context: + raw device key import per op', withImport));
  console.log(row('issuance: parseCsrAsync + issue (EST path)', issuance));
  console.log(row('context: parseCsr (sync, JWK import) + issue', syncIssuance));
  console.log(`certificate ${sample.length} bytes; issuance reaches ${((100 * issuance.perSec) / withImport.perSec).toFixed(0)}% of the import-inclusive floor`);
  console.log(`issuance: ${issuance.perSec.toFixed(0)} certs/s, ceiling ${ceiling.perSec.toFixed(0)} ops/s, ratio ${ratio.toFixed(2)} (median of ${paired.length} paired slices ${median.toFixed(2)})${ratio >= 0.5 ? '' : '  (below the 0.5 target)'}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
