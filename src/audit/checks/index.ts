/** Every check of the fleet audit, in report order of families. */
import type { CheckInfo } from '../finding.js';
import type { Fleet } from '../fleet.js';
import type { Finding } from '../types.js';
import { CA_CHECKS } from './ca.js';
import type { Check } from './check.js';
import { CRYPTO_CHECKS } from './crypto.js';
import { LIFECYCLE_CHECKS } from './lifecycle.js';
import { LIFETIME_CHECKS } from './lifetime.js';
import { SHARED_CHECKS } from './shared.js';
import { USAGE_CHECKS } from './usage.js';

export type { Check } from './check.js';

export const ALL_CHECKS: readonly Check[] = [...SHARED_CHECKS, ...LIFETIME_CHECKS, ...CRYPTO_CHECKS, ...LIFECYCLE_CHECKS, ...CA_CHECKS, ...USAGE_CHECKS];

/** The catalogue: stable ids with why and how to fix, for docs and reports. */
export const CHECK_CATALOG: readonly CheckInfo[] = ALL_CHECKS.map((c) => c.info);

/** Runs every check that applies (session checks need a history); returns the ids run and the findings. */
export function runChecks(fleet: Fleet): { checks: string[]; findings: Finding[] } {
  const checks: string[] = [];
  const findings: Finding[] = [];
  for (const c of ALL_CHECKS) {
    if (c.info.needsSessions && fleet.history === null) continue;
    checks.push(c.info.id);
    for (const f of c.run(fleet)) findings.push(f);
  }
  return { checks, findings };
}
