import type { AuditSink } from '../audit-log/index.js';
import type { Logger } from '../core/logger.js';
import type { Alert } from './alerts.js';
import type { DetectionConfig } from './config.js';
import type { PaymentHoldStore } from './store.js';

/**
 * Port owned by detection: the one action on the registry it may take. The app wires it to
 * the registry (status `suspended`, which puts the certificates on hold: OCSP answers
 * revoked, EST refuses, admission denies). An operator reverses it with set-status active.
 */
export interface Quarantine {
  /** Returns false when there is nothing to do (unknown device, or already not live). */
  quarantine(serial: string, reason: string): Promise<boolean>;
}

/** What the responses to one alert did: `dry-run` when they were only logged (config `dryRun`), so nothing is done yet. */
export type ResponseOutcome = 'done' | 'dry-run';

/**
 * Automatic responses to new alerts, per rule (`rules.<id>.responses`): quarantine the
 * device, hold the payment. Every response, real or dry-run, is an audit event.
 */
export function createResponder(deps: { config: DetectionConfig; quarantine: Quarantine; holds: PaymentHoldStore; audit: AuditSink; logger: Logger; now: () => Date }) {
  const { config, quarantine, holds, audit, logger } = deps;
  const actor = 'system:detection';

  return async function respond(alert: Alert): Promise<ResponseOutcome> {
    const r = config.rules[alert.rule].responses;
    if (r.quarantine && alert.serial) {
      const reason = `quarantined by alert ${alert.id} (${alert.rule}): ${alert.summary}`.slice(0, 500);
      if (config.dryRun) {
        await audit.record({ action: 'response.dry_run', actor, subject: alert.serial, outcome: 'success', details: { would: 'quarantine', alert: alert.id, rule: alert.rule } });
      } else {
        try {
          const done = await quarantine.quarantine(alert.serial, reason);
          await audit.record({ action: 'response.quarantine', actor, subject: alert.serial, outcome: done ? 'success' : 'failure', details: { alert: alert.id, rule: alert.rule, applied: done } });
        } catch (e) {
          logger.error({ serial: alert.serial, alert: alert.id, err: (e as Error).message }, 'quarantine failed');
          await audit.record({ action: 'response.quarantine', actor, subject: alert.serial, outcome: 'failure', details: { alert: alert.id, error: (e as Error).message } });
        }
      }
    }
    if (r.holdPayment && alert.txId && alert.msisdn) {
      if (config.dryRun) {
        await audit.record({ action: 'response.dry_run', actor, subject: alert.txId, outcome: 'success', details: { would: 'hold-payment', alert: alert.id } });
      } else {
        const held = await holds.hold({ txId: alert.txId, msisdn: alert.msisdn, alertId: alert.id, at: deps.now().toISOString() });
        await audit.record({ action: 'payment.held', actor, subject: alert.txId, outcome: 'success', details: { alert: alert.id, newHold: held, cellId: alert.cellId ?? null } });
      }
    }
    return config.dryRun ? 'dry-run' : 'done';
  };
}
