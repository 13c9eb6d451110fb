/**
 * The audit log's hash chain: each event carries the SHA-256 of the event before it and of
 * its own content, so changing, removing or inserting a stored event breaks every hash from
 * it on. `verifyChain` walks the log and names the first events where it breaks.
 *
 * What a chain cannot show on its own: that events were cut off the end, or that someone
 * with write access to the database rewrote the whole chain after a change. Both are caught
 * by comparing with a head (`id`, `hash`) recorded elsewhere earlier: the head is in every
 * verification's answer, to be kept outside the database (see docs/operations.md).
 */
import { createHash } from 'node:crypto';

/** The `prevHash` of the first event. */
export const CHAIN_GENESIS = '0'.repeat(64);

/** An event as stored: `details` is the stored JSON text, hashed as it is (no re-encoding). */
export interface ChainedRow {
  id: number;
  at: string;
  actor: string;
  action: string;
  subject: string | null;
  outcome: string;
  details: string | null;
  prevHash: string | null;
  hash: string | null;
}

/**
 * A string as SQLite will store it: a lone UTF-16 surrogate cannot be written as UTF-8 and
 * comes back as U+FFFD. Events are hashed and stored in this form, so that what was hashed is
 * what is read back (a client-chosen serial with a lone surrogate must not break the chain).
 */
export function wellFormed(s: string): string {
  return s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

/** The hash of an event whose predecessor's hash is `prev`. */
export function chainHash(prev: string, r: Omit<ChainedRow, 'prevHash' | 'hash'>): string {
  return createHash('sha256')
    .update(prev)
    .update('\n')
    .update(JSON.stringify([r.id, r.at, r.actor, r.action, r.subject, r.outcome, r.details]))
    .digest('hex');
}

export interface ChainBreak {
  id: number;
  problem: 'unchained' | 'content-changed' | 'link-broken' | 'anchor-mismatch';
  detail: string;
}

/** A head recorded earlier (`ChainReport.head`): the log must still hold that event with that hash. */
export interface ChainAnchor {
  id: number;
  hash: string;
}

export interface VerifyOptions {
  anchor?: ChainAnchor | undefined;
  /** called every 10,000 events and at the end with the number checked */
  onProgress?: ((events: number) => void) | undefined;
}

export interface ChainReport {
  ok: boolean;
  events: number;
  /** the newest event's id and hash (null for an empty log): record it elsewhere to catch a rewritten or cut-off tail later */
  head: { id: number; hash: string } | null;
  /** the first breaks found (at most `maxBreaks`), oldest first */
  breaks: ChainBreak[];
  /** breaks found in all (only the first ones are listed) */
  breakCount: number;
}

const MAX_BREAKS = 20;

/**
 * Checks events fed in id order (`add`), then reports (`report`): what `verifyChain` does in
 * one call, for a caller that reads the log in pages and lets other work run between them.
 */
export class ChainVerifier {
  private anchorSeen = false;
  private readonly breaks: ChainBreak[] = [];
  private breakCount = 0;
  private events = 0;
  private prev = CHAIN_GENESIS;
  private head: ChainReport['head'] = null;

  constructor(private readonly opts: VerifyOptions = {}) {}

  add(r: ChainedRow): void {
    this.events++;
    if (r.hash === null || r.prevHash === null) {
      this.broke({ id: r.id, problem: 'unchained', detail: `event ${r.id} carries no hash: it was written around the chain` });
    } else {
      if (r.prevHash !== this.prev) this.broke({ id: r.id, problem: 'link-broken', detail: `event ${r.id} does not follow the event stored before it: an event was removed or inserted before it` });
      // Recomputed from its own stored link, so that one break is named once, where it is.
      if (chainHash(r.prevHash, r) !== r.hash) this.broke({ id: r.id, problem: 'content-changed', detail: `event ${r.id} no longer matches its hash: it was changed after it was written` });
    }
    // The next event must link to this one's stored hash: a changed event is named once, here,
    // and an event removed after it shows at the next one (its link names the removed one).
    this.prev = r.hash ?? chainHash(this.prev, r);
    this.head = { id: r.id, hash: this.prev };
    const anchor = this.opts.anchor;
    if (anchor && r.id === anchor.id) {
      this.anchorSeen = true;
      if (r.hash !== anchor.hash) this.broke({ id: r.id, problem: 'anchor-mismatch', detail: `event ${r.id} has hash ${r.hash ?? '(none)'}, not the ${anchor.hash} recorded for it: the log was rewritten from there or before` });
    }
    if (this.opts.onProgress && this.events % 10_000 === 0) this.opts.onProgress(this.events);
  }

  report(): ChainReport {
    const anchor = this.opts.anchor;
    this.opts.onProgress?.(this.events);
    if (anchor && !this.anchorSeen) this.broke({ id: anchor.id, problem: 'anchor-mismatch', detail: `event ${anchor.id}, recorded as a head earlier, is no longer in the log: events were cut off the end or removed` });
    return { ok: this.breakCount === 0, events: this.events, head: this.head, breaks: [...this.breaks], breakCount: this.breakCount };
  }

  private broke(b: ChainBreak): void {
    this.breakCount++;
    if (this.breaks.length < MAX_BREAKS) this.breaks.push(b);
  }
}

/** Walks events in id order and checks every link and every hash, and the anchor when given. */
export function verifyChain(rows: Iterable<ChainedRow>, opts: VerifyOptions = {}): ChainReport {
  const v = new ChainVerifier(opts);
  for (const r of rows) v.add(r);
  return v.report();
}
