/**
 * Device certificate issuance from CSR on one core: parseCsr (with its signature check)
 * + createDeviceIssuer().issue with a P-256 issuing CA. Printed beside the ceiling measured
 * in the same run: node:crypto ECDSA P-256 verify (CSR-sized message) + sign (TBS-sized
 * message), i.e. the two public-key operations issuance cannot avoid.
 *
 *   npx tsx bench/pki-issue.ts        (target: ratio >= 0.5)
 */
import { createPublicKey, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { OID } from '../src/pki/oids.js';
import { generateKeyPair, keyObjectSigner } from '../src/pki/signer.js';
import { buildCsr } from '../src/pki/csr-build.js';
import { parseCsr } from '../src/pki/csr.js';
import { buildIssuingCa, buildRootCa, createDeviceIssuer, randomCertSerial } from '../src/pki/profiles.js';

const DURATION_MS = 3000;
const CSR_COUNT = 2000;

/** Runs `step` for ~300 ms of warm-up, then for DURATION_MS; awaits it when it returns a promise. */
async function timeLoop(step: (i: number) => void | Promise<void>): Promise<{ ops: number; perSec: number }> {
  const warm = performance.now() + 300;
  let i = 0;
  while (performance.now() < warm) await step(i++);
  const start = performance.now();
  const stop = start + DURATION_MS;
  let ops = 0;
  while (performance.now() < stop) {
    for (let k = 0; k < 50; k++) await step(ops++);
  }
  const secs = (performance.now() - start) / 1000;
  return { ops, perSec: ops / secs };
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
  const sampleCsr = parseCsr(csrs[0] as Buffer);
  const sample = await issuer.issue({ deviceSerial: 'KTF000000', spki: sampleCsr.spki, serialNumber: randomCertSerial(), notBefore: nb, notAfter: na });
  const criSize = (csrs[0] as Buffer).length - 75; // CSR minus signature algorithm + value, roughly
  const tbsSize = sample.length - 85;

  // Ceiling: one ECDSA P-256 verify (CSR-sized) + one sign (TBS-sized), keys prepared in advance.
  const dev = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const devPub = createPublicKey(dev.privateKey);
  const criMsg = randomBytes(criSize);
  const criSig = sign('sha256', criMsg, dev.privateKey);
  const tbsMsg = randomBytes(tbsSize);
  const ceiling = await timeLoop(() => {
    if (!verify('sha256', criMsg, devPub, criSig)) throw new Error('verify failed');
    sign('sha256', tbsMsg, issKeys.privateKey);
  });

  // Context: the same plus importing each device's key, which a CSR always brings fresh.
  // OpenSSL 3.0 builds a new EC_GROUP per imported key; this is the floor parseCsr can reach.
  const devJwks = csrs.slice(0, 500).map((d) => parseCsr(d).publicKey.export({ format: 'jwk' }));
  const withImport = await timeLoop((i) => {
    const k = createPublicKey({ key: devJwks[i % devJwks.length] as import('node:crypto').JsonWebKey, format: 'jwk' });
    verify('sha256', criMsg, k, criSig); // false (other key), same cost
    sign('sha256', tbsMsg, issKeys.privateKey);
  });

  // Issuance: the real path, over distinct CSRs, awaiting each certificate as a caller would.
  const issuance = await timeLoop(async (i) => {
    const csr = parseCsr(csrs[i % CSR_COUNT] as Buffer);
    await issuer.issue({ deviceSerial: csr.commonName ?? 'unknown', spki: csr.spki, serialNumber: randomCertSerial(), notBefore: nb, notAfter: na });
  });

  const ratio = issuance.perSec / ceiling.perSec;
  const row = (name: string, ops: number, perSec: number): string => `${name.padEnd(44)} ${String(ops).padStart(9)} ${perSec.toFixed(0).padStart(12)}`;
  console.log(`node ${process.version}, one core, ${DURATION_MS / 1000} s per measurement, CA key P-256, device keys P-256`);
  console.log(`${'measurement'.padEnd(44)} ${'ops'.padStart(9)} ${'per second'.padStart(12)}`);
  console.log(row(`ceiling: verify ${criSize} B + sign ${tbsSize} B`, ceiling.ops, ceiling.perSec));
  console.log(row('context: + device key import (JWK) per op', withImport.ops, withImport.perSec));
  console.log(row('issuance: parseCsr + issue', issuance.ops, issuance.perSec));
  console.log(`certificate ${sample.length} bytes; issuance reaches ${((100 * issuance.perSec) / withImport.perSec).toFixed(0)}% of the import-inclusive floor`);
  console.log(`issuance: ${issuance.perSec.toFixed(0)} certs/s, ceiling ${ceiling.perSec.toFixed(0)} ops/s, ratio ${ratio.toFixed(2)}${ratio >= 0.5 ? '' : '  (below the 0.5 target)'}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
