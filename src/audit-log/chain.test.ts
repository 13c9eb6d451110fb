import { describe, expect, it } from 'vitest';
import { CHAIN_GENESIS, chainHash, verifyChain, type ChainedRow } from './chain.js';

/** A correctly chained log of `n` events. */
function log(n: number): ChainedRow[] {
  const rows: ChainedRow[] = [];
  let prev = CHAIN_GENESIS;
  for (let id = 1; id <= n; id++) {
    const r = { id, at: `2026-01-01T00:00:0${id % 10}.000Z`, actor: 'cli', action: 'device.status_changed', subject: `D${id}`, outcome: 'success', details: id % 2 ? `{"to":"suspended","n":${id}}` : null };
    const hash = chainHash(prev, r);
    rows.push({ ...r, prevHash: prev, hash });
    prev = hash;
  }
  return rows;
}

describe('audit hash chain', () => {
  it('ok/an intact log verifies, and its head is the newest event', () => {
    const rows = log(5);
    const r = verifyChain(rows);
    expect(r).toMatchObject({ ok: true, events: 5, breaks: [], breakCount: 0, head: { id: 5, hash: rows[4]?.hash } });
    expect(verifyChain([])).toMatchObject({ ok: true, events: 0, head: null });
  });

  it('fail/a changed field (here the outcome, or one byte of details) is named at that event only', () => {
    const rows = log(5);
    (rows[2] as ChainedRow).outcome = 'denied';
    expect(verifyChain(rows).breaks).toEqual([expect.objectContaining({ id: 3, problem: 'content-changed' })]);
    const again = log(5);
    (again[0] as ChainedRow).details = '{"to":"suspended","n":2}';
    expect(verifyChain(again).breaks).toEqual([expect.objectContaining({ id: 1, problem: 'content-changed' })]);
  });

  it('fail/a removed event shows at the next one; an inserted one at itself and the next', () => {
    const rows = log(5);
    rows.splice(1, 1);
    expect(verifyChain(rows).breaks).toEqual([expect.objectContaining({ id: 3, problem: 'link-broken' })]);
    const ins = log(3);
    ins.splice(1, 0, { id: 99, at: 'x', actor: 'x', action: 'x', subject: null, outcome: 'success', details: null, prevHash: ins[0]?.hash ?? '', hash: 'f'.repeat(64) });
    expect(verifyChain(ins).breaks.map((b) => [b.id, b.problem])).toEqual([
      [99, 'content-changed'],
      [2, 'link-broken'],
    ]);
  });

  it('fail/an event rewritten with a recomputed hash still breaks the link of the event after it', () => {
    const rows = log(4);
    const r2 = rows[1] as ChainedRow;
    r2.subject = 'OTHER';
    r2.hash = chainHash(r2.prevHash as string, r2);
    expect(verifyChain(rows).breaks).toEqual([expect.objectContaining({ id: 3, problem: 'link-broken' })]);
  });

  it('fail/an event written around the chain (no hash) is named', () => {
    const rows = log(3);
    (rows[2] as ChainedRow).hash = null;
    expect(verifyChain(rows)).toMatchObject({ ok: false, breaks: [{ id: 3, problem: 'unchained' }] });
  });

  it('fail/the anchor catches what a chain alone cannot: a cut-off tail, and a whole chain recomputed', () => {
    const rows = log(6);
    const anchor = { id: 6, hash: (rows[5] as ChainedRow).hash as string };
    expect(verifyChain(rows, { anchor }).ok).toBe(true);
    // The last two events removed: the rest is a perfectly good chain.
    expect(verifyChain(rows.slice(0, 4)).ok).toBe(true);
    expect(verifyChain(rows.slice(0, 4), { anchor })).toMatchObject({ ok: false, breaks: [{ id: 6, problem: 'anchor-mismatch' }] });
    // Every hash recomputed after a change to event 1: the chain is consistent, the anchor is not.
    const rewritten = log(6).map((r) => ({ ...r }));
    (rewritten[0] as ChainedRow).actor = 'someone-else';
    let prev = CHAIN_GENESIS;
    for (const r of rewritten) {
      r.prevHash = prev;
      r.hash = chainHash(prev, r);
      prev = r.hash;
    }
    expect(verifyChain(rewritten).ok).toBe(true);
    expect(verifyChain(rewritten, { anchor }).breaks).toEqual([expect.objectContaining({ id: 6, problem: 'anchor-mismatch' })]);
  });

  it('ok/at most 20 breaks are listed; all are counted; progress reaches the end', () => {
    const rows = log(50);
    for (const r of rows) r.outcome = 'failure';
    const seen: number[] = [];
    const r = verifyChain(rows, { onProgress: (n) => seen.push(n) });
    expect(r.breakCount).toBe(50);
    expect(r.breaks).toHaveLength(20);
    expect(seen.at(-1)).toBe(50);
  });
});
