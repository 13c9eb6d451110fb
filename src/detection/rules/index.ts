import type { Rule } from '../rule.js';
import { credentialShared } from './credential-shared.js';
import { deviceMoving } from './device-moving.js';
import { idleDevice } from './idle-device.js';
import { imsDowngrade } from './ims-downgrade.js';
import { inactiveDevice } from './inactive-device.js';
import { locationMismatch } from './location-mismatch.js';
import { paymentExposure } from './payment-exposure.js';
import { sourceIpMismatch } from './source-ip-mismatch.js';
import { staleEndpoint } from './stale-endpoint.js';
import { subscriberSurge } from './subscriber-surge.js';
import { unregisteredCell } from './unregistered-cell.js';
import { unregisteredDevice } from './unregistered-device.js';

/**
 * Fresh instances of every rule (rules keep per-stream state). Order matters only in that
 * payment-exposure runs after the rules that flag cells; its handler is on payment events,
 * which flag nothing, so the order below is simply the FORMATS.md §3 table order.
 */
export function createRules(): Rule[] {
  return [
    unregisteredDevice(),
    unregisteredCell(),
    inactiveDevice(),
    credentialShared(),
    sourceIpMismatch(),
    locationMismatch(),
    deviceMoving(),
    subscriberSurge(),
    imsDowngrade(),
    paymentExposure(),
    staleEndpoint(),
    idleDevice(),
  ];
}
