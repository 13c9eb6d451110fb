/**
 * Registry import: rows per second of a full import (parse, validate, lifecycle, SQLite
 * writes with history) of a 200,000-row registry CSV, beside the ceiling measured in the same
 * run: reading and CSV-parsing the same file and nothing else.
 *
 *   npm run bench:import [-- ROWS]
 */
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqlite, sqliteAuditStore, sqliteDeviceStore } from '../src/adapters/sqlite/index.js';
import { systemClock } from '../src/core/clock.js';
import { createRegistry, readCsv } from '../src/registry/index.js';

const rows = Number(process.argv[2] ?? 200_000);
const dir = mkdtempSync(join(tmpdir(), 'fg-bench-import-'));
const csvPath = join(dir, 'registry.csv');
try {
  const lines = ['serial,status,cell_ids,site_lat,site_lon,site_radius_m,ip_prefixes,expected_neighbors,cert_fingerprints,owner'];
  for (let i = 0; i < rows; i++) {
    const o3 = (i >> 8) & 255;
    const o4 = i & 255;
    lines.push(
      `BENCH${String(i).padStart(7, '0')},active,45008-2${String(i).padStart(8, '0')},37.${(i % 900000) + 100000},127.${(i % 700000) + 100000},300,175.${o3}.${o4}.0/24,45008-1000${i % 997};45008-1001${i % 991},${(i * 2654435761 >>> 0).toString(16).padStart(8, '0').repeat(8)},acct-${i % 50000}`,
    );
  }
  writeFileSync(csvPath, lines.join('\n') + '\n');

  let t = process.hrtime.bigint();
  let n = 0;
  for await (const r of readCsv(createReadStream(csvPath))) if ('fields' in r) n++;
  const parseS = Number(process.hrtime.bigint() - t) / 1e9;

  const db = openSqlite(join(dir, 'bench.db'));
  const registry = createRegistry({
    store: sqliteDeviceStore(db),
    audit: sqliteAuditStore(db),
    clock: systemClock,
    revoker: { applyStatus: () => Promise.resolve(0) },
  });
  t = process.hrtime.bigint();
  const res = await registry.importCsv(createReadStream(csvPath), 'bench');
  const importS = Number(process.hrtime.bigint() - t) / 1e9;
  db.close();
  if (res.inserted !== rows || res.errors.length) throw new Error(`import went wrong: ${JSON.stringify({ ...res, errors: res.errors.slice(0, 3) })}`);

  const ceiling = (n - 1) / parseS;
  const rate = rows / importS;
  console.log(`rows                      ${rows}`);
  console.log(`ceiling: read + CSV parse ${ceiling.toFixed(0)} rows/s (${parseS.toFixed(2)} s)`);
  console.log(`import: parse + validate + store ${rate.toFixed(0)} rows/s (${importS.toFixed(2)} s)`);
  console.log(`import: ${rate.toFixed(0)} rows/s, ceiling ${ceiling.toFixed(0)} rows/s, ratio ${(rate / ceiling).toFixed(2)}; ${rows} rows in ${importS.toFixed(1)} s (target: well under 60 s)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
