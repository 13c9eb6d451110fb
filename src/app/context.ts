import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sqliteStores, type SqliteStores } from '../adapters/sqlite/index.js';
import { createTokenService, type TokenService } from '../api/index.js';
import { publicBaseUrl, type Config } from '../config/index.js';
import { systemClock, type Clock } from '../core/clock.js';
import { createEnrollmentAdmin, createEst, type EnrollmentAdmin, type Est } from '../est/index.js';
import {
  createCrlPublisher,
  createIssuance,
  createOcspResponder,
  createRevocation,
  unlockCa,
  type CaSettings,
  type CrlPublisher,
  type Issuance,
  type OcspResponder,
  type Revocation,
  type UnlockedCa,
} from '../pki/index.js';
import { createRegistry, type Registry } from '../registry/index.js';
import { memoryEventBus } from '../adapters/memory/bus.js';
import type { EventBus } from '../events/index.js';

/** Everything that works without the CA key. */
export interface BaseContext {
  config: Config;
  clock: Clock;
  stores: SqliteStores;
  registry: Registry;
  revocation: Revocation;
  tokens: TokenService;
  enrollment: EnrollmentAdmin;
  bus: EventBus;
  close(): void;
}

/** Plus what needs the unlocked CA: issuance, EST, OCSP, CRL. */
export interface CaContext {
  ca: UnlockedCa;
  issuance: Issuance;
  est: Est;
  ocsp: OcspResponder;
  crl: CrlPublisher;
}

export const databasePath = (config: Config): string => join(config.dataDir, 'femtoguard.db');

export function caSettings(config: Config): CaSettings {
  return {
    keyAlgorithm: config.ca.keyAlgorithm,
    name: config.ca.name,
    rootValidityDays: config.ca.rootValidityDays,
    issuingValidityDays: config.ca.issuingValidityDays,
    responderValidityDays: config.ca.responderValidityDays,
  };
}

/** Composition root for the stores and the domains that need no CA key. */
export function openBase(config: Config, clock: Clock = systemClock): BaseContext {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  // The folder holds the sealed CA keys, token hashes and subscriber data: owner only, also
  // when it existed already (mkdir's mode applies only to a folder it creates). A folder this
  // process may not change (not its own) is left as it is.
  try {
    if ((statSync(config.dataDir).mode & 0o077) !== 0) chmodSync(config.dataDir, 0o700);
  } catch {
    // left as it is
  }
  const stores = sqliteStores(databasePath(config));
  const revocation = createRevocation({ store: stores.certs, audit: stores.audit, clock });
  const registry = createRegistry({ store: stores.devices, revoker: revocation, audit: stores.audit, clock });
  const tokens = createTokenService({ store: stores.tokens, audit: stores.audit, clock });
  const enrollment = createEnrollmentAdmin({ registry, store: stores.enrollment, audit: stores.audit, clock });
  const bus = memoryEventBus();
  return { config, clock, stores, registry, revocation, tokens, enrollment, bus, close: () => stores.close() };
}

/** Unlocks the CA and wires issuance, EST, OCSP and CRL to it. */
/** `publicUrl` overrides the configured base URL (the server passes the address it actually bound). */
export async function openCa(base: BaseContext, passphrase: string, publicUrl?: string): Promise<CaContext> {
  const { config, clock, stores, registry } = base;
  const ca = await unlockCa({ store: stores.certs, audit: stores.audit, clock }, caSettings(config), passphrase);
  const url = publicUrl ?? publicBaseUrl(config);
  const issuance = createIssuance(
    { ca, store: stores.certs, audit: stores.audit, clock },
    { deviceValidityDays: config.ca.deviceValidityDays, ocspUrl: `${url}/ocsp`, crlUrl: `${url}/crl`, caIssuersUrl: `${url}/ca/issuing.crt` },
  );
  // EST revokes through the same core as the registry (superseded, withdrawn): OCSP and the CRL hear of it at once.
  const est = createEst({ ca, issuance, certs: stores.certs, registry, revocation: base.revocation, store: stores.enrollment, audit: stores.audit, clock, settings: config.est });
  const ocsp = ocspResponderFor(base, ca);
  const crl = createCrlPublisher({ ca, store: stores.certs, clock }, { nextUpdateHours: config.crl.nextUpdateHours });
  return { ca, issuance, est, ocsp, crl };
}

/**
 * The OCSP responder signing with `ca`'s delegated responder key. A renewed responder
 * certificate gets a new responder (its ResponderID and cache belong to the old key).
 */
export function ocspResponderFor(base: BaseContext, ca: UnlockedCa): OcspResponder {
  const { config, clock, stores } = base;
  return createOcspResponder(
    { ca, store: stores.certs, clock, deviceStatus: async (serial) => (await stores.devices.get(serial))?.status ?? null },
    { nextUpdateSeconds: config.ocsp.nextUpdateSeconds, echoNonce: true },
  );
}
