/**
 * Test kit for admission's unit tests (not used by the product): a throwaway CA built with the
 * production profiles, device certificates with chosen validity, and in-memory registry,
 * certificate store and rotation views for `decide`.
 */
import { createHash, createPublicKey } from 'node:crypto';
import { parseCertificate, type CertRecord, type ParsedCertificate } from '../pki/index.js';
import { OID } from '../pki/oids.js';
import { buildIssuingCa, buildRootCa, createDeviceIssuer, randomCertSerial } from '../pki/profiles.js';
import { generateKeyPair, keyObjectSigner } from '../pki/signer.js';
import type { Device } from '../registry/index.js';
import { admissionConfigSchema } from './config.js';
import type { DecisionDeps } from './decision.js';
import { createPolicyResolver } from './policy.js';
import type { EndpointStatus } from './rotation.js';
import { LiveSessions } from './sessions.js';
import type { DecisionInput } from './types.js';

const DAY = 86_400_000;
export const NOW = new Date('2025-08-05T00:00:00.000Z');

export interface TestCa {
  issuing: ParsedCertificate;
  /** a device certificate for `serial` valid from `fromDays` to `toDays` (relative to NOW) */
  issue(serial: string, opts?: { fromDays?: number; toDays?: number }): Promise<{ der: Buffer; record: CertRecord }>;
}

export async function makeCa(name: string): Promise<TestCa> {
  const rootSigner = keyObjectSigner(generateKeyPair('P-256').privateKey);
  const nb = new Date(NOW.getTime() - 365 * DAY);
  const na = new Date(NOW.getTime() + 365 * DAY);
  const rootDer = await buildRootCa({ signer: rootSigner, subject: [{ type: OID.commonName, value: `${name} Root` }], notBefore: nb, notAfter: na });
  const issuingKeys = generateKeyPair('P-256');
  const issuingDer = await buildIssuingCa({
    signer: rootSigner,
    issuerCertDer: rootDer,
    spki: createPublicKey(issuingKeys.privateKey).export({ format: 'der', type: 'spki' }),
    subject: [{ type: OID.commonName, value: `${name} Issuing` }],
    notBefore: nb,
    notAfter: na,
  });
  const issuer = createDeviceIssuer({ signer: keyObjectSigner(issuingKeys.privateKey), issuerCertDer: issuingDer, ocspUrl: 'http://127.0.0.1/ocsp', crlUrl: 'http://127.0.0.1/crl' });
  return {
    issuing: parseCertificate(issuingDer),
    async issue(serial, o = {}) {
      const spki = createPublicKey(generateKeyPair('P-256').privateKey).export({ format: 'der', type: 'spki' });
      const serialNumber = randomCertSerial();
      const notBefore = new Date(NOW.getTime() + (o.fromDays ?? -1) * DAY);
      const notAfter = new Date(NOW.getTime() + (o.toDays ?? 30) * DAY);
      const der = await issuer.issue({ deviceSerial: serial, spki, serialNumber, notBefore, notAfter });
      const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
      const record: CertRecord = {
        serialHex: serialNumber.toString('hex'),
        kind: 'device',
        deviceSerial: serial,
        fingerprint: sha(der),
        spkiSha256: sha(spki),
        notBefore: notBefore.toISOString(),
        notAfter: notAfter.toISOString(),
        issuedAt: notBefore.toISOString(),
        status: 'valid',
        revokedAt: null,
        reason: null,
      };
      return { der, record };
    },
  };
}

/** An active device at a site in Seoul with one prefix, two cells and three expected neighbours. */
export function device(serial: string, fields: Partial<Omit<Device, 'serial'>> = {}): Device {
  return {
    serial,
    status: 'active',
    cellIds: ['45008-200000001', '45008-200000002'],
    siteLat: 37.5665,
    siteLon: 126.978,
    siteRadiusM: 300,
    ipPrefixes: ['175.198.195.0/24'],
    expectedNeighbors: ['45008-100', '45008-101', '45008-102'],
    certFingerprints: [],
    owner: null,
    createdAt: NOW.toISOString(),
    updatedAt: NOW.toISOString(),
    ...fields,
  };
}

export interface World {
  devices: Map<string, Device>;
  certs: Map<string, CertRecord>;
  sessions: LiveSessions;
  /** what the rotation says about every endpoint (default: no rotation) */
  endpoint: EndpointStatus;
  deps: DecisionDeps;
}

/** In-memory deps for `decide`; `admission` overrides the config (policy, fleets). */
export function world(ca: TestCa, admission: Record<string, unknown> = {}): World {
  const w: Omit<World, 'deps'> = {
    devices: new Map(),
    certs: new Map(),
    sessions: new LiveSessions({ checkinTtlMs: 900_000, gatewayTtlMs: DAY }),
    endpoint: { state: 'no-rotation' },
  };
  const cfg = admissionConfigSchema.parse(admission);
  const deps: DecisionDeps = {
    devices: { get: (s) => Promise.resolve(w.devices.get(s) ?? null) },
    certs: { byFingerprint: (f) => Promise.resolve(w.certs.get(f) ?? null) },
    issuing: () => ca.issuing,
    sessions: w.sessions,
    endpoints: { status: () => (w as World).endpoint },
    policy: createPolicyResolver(cfg),
  };
  return Object.assign(w, { deps });
}

/** A check-in from inside the device's prefix, at NOW. */
export function checkin(serial: string, der: Buffer | undefined, fields: Partial<DecisionInput> = {}): DecisionInput {
  return { kind: 'checkin', serial, clientChain: der ? [der] : undefined, sourceIp: '175.198.195.7', now: NOW, ...fields };
}

