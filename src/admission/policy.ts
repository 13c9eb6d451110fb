import type { AdmissionConfig, TunableCheck } from './config.js';
import type { CheckCode, Enforce } from './types.js';

/** The policy one decision runs under: the default policy with the device's fleet overrides. */
export interface EffectivePolicy {
  enforce: Readonly<Record<CheckCode, Enforce>>;
  gpsMarginM: number;
  minNeighborOverlap: number;
  /** a fix claiming a poorer accuracy than this (metres) counts as no fix */
  maxGpsAccuracyM: number;
  /** which fleet override applied (the device's owner), or null */
  fleet: string | null;
}

/** Identity checks always deny (see TUNABLE_CHECKS). */
const FIXED: Readonly<Record<Exclude<CheckCode, TunableCheck>, Enforce>> = {
  'cert-chain': 'deny',
  'cert-expiry': 'deny',
  'cert-revoked': 'deny',
  'cert-serial-binding': 'deny',
  'device-status': 'deny',
};

/**
 * Resolves policies once per owner and keeps them: a decision is on the hot path and the
 * config is frozen, so the merge happens at most once per fleet.
 */
export function createPolicyResolver(cfg: Pick<AdmissionConfig, 'policy' | 'fleets'>): (owner: string | null) => EffectivePolicy {
  const base: EffectivePolicy = {
    enforce: { ...FIXED, ...cfg.policy.enforce },
    gpsMarginM: cfg.policy.gpsMarginM,
    minNeighborOverlap: cfg.policy.minNeighborOverlap,
    maxGpsAccuracyM: cfg.policy.maxGpsAccuracyM,
    fleet: null,
  };
  const cache = new Map<string, EffectivePolicy>();
  return (owner) => {
    if (owner === null) return base;
    const o = Object.hasOwn(cfg.fleets, owner) ? cfg.fleets[owner] : undefined;
    if (!o) return base;
    let p = cache.get(owner);
    if (!p) {
      p = {
        enforce: { ...base.enforce, ...o.enforce, ...FIXED },
        gpsMarginM: o.gpsMarginM ?? base.gpsMarginM,
        minNeighborOverlap: o.minNeighborOverlap ?? base.minNeighborOverlap,
        maxGpsAccuracyM: o.maxGpsAccuracyM ?? base.maxGpsAccuracyM,
        fleet: owner,
      };
      cache.set(owner, p);
    }
    return p;
  };
}
