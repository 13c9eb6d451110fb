import { AppError } from '../core/errors.js';
import type { DeviceStatus } from './device-input.js';

/**
 * The allowed lifecycle transitions. `lost` and `decommissioned` units come back only as
 * `provisioned` (a refurbished or recovered unit enrolls again, with a new key and a new
 * certificate; its old certificates stay revoked).
 */
export const TRANSITIONS: Readonly<Record<DeviceStatus, readonly DeviceStatus[]>> = Object.freeze({
  provisioned: ['active', 'suspended', 'decommissioned', 'lost'],
  active: ['suspended', 'decommissioned', 'lost'],
  suspended: ['active', 'decommissioned', 'lost'],
  lost: ['provisioned', 'decommissioned'],
  decommissioned: ['provisioned'],
});

export function canTransition(from: DeviceStatus, to: DeviceStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

export function assertTransition(serial: string, from: DeviceStatus, to: DeviceStatus): void {
  if (from === to) throw new AppError('conflict', 'device.status_unchanged', `device ${serial} is already ${to}`, { serial, status: to });
  if (!canTransition(from, to)) {
    throw new AppError('conflict', 'device.transition_not_allowed', `device ${serial} cannot go from ${from} to ${to}; allowed: ${TRANSITIONS[from].join(', ')}`, {
      serial,
      from,
      to,
      allowed: TRANSITIONS[from],
    });
  }
}

/** Statuses whose certificates are revoked for good when entered, with the CRL reason. */
export const REVOKING_STATUSES: Readonly<Partial<Record<DeviceStatus, 'keyCompromise' | 'cessationOfOperation' | 'certificateHold'>>> = Object.freeze({
  lost: 'keyCompromise',
  decommissioned: 'cessationOfOperation',
  suspended: 'certificateHold',
});

/** Only these may enroll or check in. */
export const ENROLLABLE_STATUSES: readonly DeviceStatus[] = ['provisioned', 'active'];
