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

/** Walks events in id order and checks every link and every hash, and the anchor when given. */
export function verifyChain(rows: Iterable<ChainedRow>, opts: VerifyOptions = {}): ChainReport {
  const { anchor, onProgress } = opts;
  let anchorSeen = false;
  const breaks: ChainBreak[] = [];
  let breakCount = 0;
  const broke = (b: ChainBreak): void => {
    breakCount++;
    if (breaks.length < MAX_BREAKS) breaks.push(b);
  };
  let events = 0;
  let prev = CHAIN_GENESIS;
  let head: ChainReport['head'] = null;
  for (const r of rows) {
    events++;
    if (r.hash === null || r.prevHash === null) {
      broke({ id: r.id, problem: 'unchained', detail: `event ${r.id} carries no hash: it was written around the chain` });
    } else {
      if (r.prevHash !== prev) broke({ id: r.id, problem: 'link-broken', detail: `event ${r.id} does not follow the event stored before it: an event was removed or inserted before it` });
      // Recomputed from its own stored link, so that one break is named once, where it is.
      if (chainHash(r.prevHash, r) !== r.hash) broke({ id: r.id, problem: 'content-changed', detail: `event ${r.id} no longer matches its hash: it was changed after it was written` });
    }
    // The next event must link to this one's stored hash: a changed event is named once, here,
    // and an event removed after it shows at the next one (its link names the removed one).
    prev = r.hash ?? chainHash(prev, r);
    head = { id: r.id, hash: prev };
    if (anchor && r.id === anchor.id) {
      anchorSeen = true;
      if (r.hash !== anchor.hash) broke({ id: r.id, problem: 'anchor-mismatch', detail: `event ${r.id} has hash ${r.hash ?? '(none)'}, not the ${anchor.hash} recorded for it: the log was rewritten from there or before` });
    }
    if (onProgress && events % 10_000 === 0) onProgress(events);
  }
  onProgress?.(events);
  if (anchor && !anchorSeen) broke({ id: anchor.id, problem: 'anchor-mismatch', detail: `event ${anchor.id}, recorded as a head earlier, is no longer in the log: events were cut off the end or removed` });
  return { ok: breakCount === 0, events, head, breaks, breakCount };
}
