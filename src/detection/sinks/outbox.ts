/** A webhook delivery waiting in the outbox. */
export interface OutboxJob {
  /** increasing in enqueue order: a target's jobs are sent by id */
  id: number;
  /** the target's key (`webhookTargetKey`): never its URL, which may carry credentials, nor its secret */
  target: string;
  /** the JSON body; it is signed when sent, so the secret is never stored */
  body: string;
  alertId: string;
  /** failed attempts so far */
  attempt: number;
  /** epoch milliseconds before which the job is not sent */
  nextAt: number;
}

export interface NewOutboxJob {
  target: string;
  body: string;
  alertId: string;
}

/**
 * Where the webhook sink keeps deliveries until they are made or given up, so a crash or a
 * restart loses none. Synchronous on purpose: `AlertSink.deliver` is, and a delivery must be
 * durable once `deliver` returns (an embedded database answers in microseconds).
 */
export interface WebhookOutbox {
  /**
   * Queues jobs (durable when it returns), due at `now`. A target holding more than
   * `maxQueue` jobs loses its oldest ones: they are removed and returned, for the log.
   */
  enqueue(jobs: readonly NewOutboxJob[], now: number, maxQueue: number): OutboxJob[];
  /** The target's oldest job (lowest id), due or not; undefined when its queue is empty. */
  head(target: string): OutboxJob | undefined;
  /** A delivered or given-up job leaves the outbox. Removing a job already gone does nothing. */
  remove(id: number): void;
  /**
   * Records a failed attempt: `attempt` failed attempts so far, next try not before `nextAt`,
   * and why (`error`: short, never a secret or the body). A job already gone is left gone.
   */
  retryLater(id: number, attempt: number, nextAt: number, error: string): void;
  /** Pending jobs per target key (targets no longer configured included), for the start-up log. */
  pendingByTarget(): Map<string, number>;
}
