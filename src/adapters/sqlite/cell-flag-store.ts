import { RULE_IDS, type CellFlagRecord, type CellFlagStore, type RuleId } from '../../detection/index.js';
import type { SqliteDb } from './database.js';

interface Row {
  cell_id: string;
  first_t: number;
  last_t: number;
  rules: string;
}

const KNOWN = new Set<string>(RULE_IDS);

/**
 * A stored row back to a flag. The rules column is read strictly: a row this version cannot
 * read (edited by hand, or from a later version with rules this one does not know) is
 * skipped and reported, never taken half-read.
 */
function toRecord(r: Row): CellFlagRecord | string {
  let rules: unknown;
  try {
    rules = JSON.parse(r.rules);
  } catch {
    return `cell ${r.cell_id}: rules is not JSON`;
  }
  if (!Array.isArray(rules) || rules.length === 0 || !rules.every((x) => typeof x === 'string' && KNOWN.has(x))) return `cell ${r.cell_id}: rules is not a list of known rule ids`;
  if (!Number.isFinite(r.first_t) || !Number.isFinite(r.last_t) || r.first_t > r.last_t) return `cell ${r.cell_id}: bad flag times`;
  return { cellId: r.cell_id, t: r.first_t, last: r.last_t, rules: rules as RuleId[] };
}

/**
 * Live detection's cell flags in the `detection_cell_flags` table (migration 8). A save is one
 * transaction: the upserts and the forgetting of lapsed flags land together.
 */
export function sqliteCellFlagStore(db: SqliteDb, onUnreadable: (why: string) => void = () => undefined): CellFlagStore {
  const all = db.prepare('SELECT cell_id, first_t, last_t, rules FROM detection_cell_flags');
  const upsert = db.prepare(
    'INSERT INTO detection_cell_flags (cell_id, first_t, last_t, rules) VALUES (?, ?, ?, ?) ON CONFLICT(cell_id) DO UPDATE SET first_t = excluded.first_t, last_t = excluded.last_t, rules = excluded.rules',
  );
  const forget = db.prepare('DELETE FROM detection_cell_flags WHERE last_t < ?');
  const saveAll = db.transaction((flags: readonly CellFlagRecord[], forgetBefore: number) => {
    for (const f of flags) upsert.run(f.cellId, f.t, f.last, JSON.stringify(f.rules));
    if (Number.isFinite(forgetBefore)) forget.run(forgetBefore);
  });
  return {
    load() {
      const out: CellFlagRecord[] = [];
      for (const r of all.all() as Row[]) {
        const x = toRecord(r);
        if (typeof x === 'string') onUnreadable(x);
        else out.push(x);
      }
      return Promise.resolve(out);
    },
    save(flags, forgetBefore) {
      try {
        saveAll.immediate(flags, forgetBefore);
        return Promise.resolve();
      } catch (e) {
        return Promise.reject(e instanceof Error ? e : new Error(String(e)));
      }
    },
  };
}
