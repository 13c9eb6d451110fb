import type { Device, DeviceFilter, DeviceStore, DeviceWrite, StatusChange, DeviceStatus } from '../../registry/index.js';
import type { SqliteDb } from './database.js';

interface Row {
  serial: string;
  status: DeviceStatus;
  cell_ids: string;
  site_lat: number | null;
  site_lon: number | null;
  site_radius_m: number;
  ip_prefixes: string;
  expected_neighbors: string;
  cert_fingerprints: string;
  owner: string | null;
  created_at: string;
  updated_at: string;
}

const toDevice = (r: Row): Device => ({
  serial: r.serial,
  status: r.status,
  cellIds: JSON.parse(r.cell_ids) as string[],
  siteLat: r.site_lat,
  siteLon: r.site_lon,
  siteRadiusM: r.site_radius_m,
  ipPrefixes: JSON.parse(r.ip_prefixes) as string[],
  expectedNeighbors: JSON.parse(r.expected_neighbors) as string[],
  certFingerprints: JSON.parse(r.cert_fingerprints) as string[],
  owner: r.owner,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

function filterSql(f: DeviceFilter): { where: string; args: unknown[] } {
  const where: string[] = [];
  const args: unknown[] = [];
  if (f.status) (where.push('status = ?'), args.push(f.status));
  if (f.owner) (where.push('owner = ?'), args.push(f.owner));
  if (f.serialPrefix) (where.push("serial LIKE ? ESCAPE '\\'"), args.push(f.serialPrefix.replace(/[\\%_]/g, (c) => `\\${c}`) + '%'));
  if (f.cellId) (where.push('EXISTS (SELECT 1 FROM json_each(devices.cell_ids) WHERE value = ?)'), args.push(f.cellId));
  if (f.after) (where.push('serial > ?'), args.push(f.after));
  return { where: where.length ? `WHERE ${where.join(' AND ')}` : '', args };
}

export function sqliteDeviceStore(db: SqliteDb): DeviceStore {
  const getOne = db.prepare('SELECT * FROM devices WHERE serial = ?');
  const insert = db.prepare(
    `INSERT INTO devices (serial, status, cell_ids, site_lat, site_lon, site_radius_m, ip_prefixes, expected_neighbors, cert_fingerprints, owner, created_at, updated_at)
     VALUES (@serial, @status, @cellIds, @siteLat, @siteLon, @siteRadiusM, @ipPrefixes, @expectedNeighbors, @certFingerprints, @owner, @at, @at)`,
  );
  // A data-only update never writes the status (a status change committed meanwhile by another
  // process stands); one with a status change is a compare-and-set on the status it was read with.
  const DATA = `cell_ids=@cellIds, site_lat=@siteLat, site_lon=@siteLon, site_radius_m=@siteRadiusM, ip_prefixes=@ipPrefixes,
       expected_neighbors=@expectedNeighbors, cert_fingerprints=@certFingerprints, owner=@owner, updated_at=@at`;
  const updateData = db.prepare(`UPDATE devices SET ${DATA} WHERE serial=@serial`);
  const updateStatus = db.prepare(`UPDATE devices SET status=@status, ${DATA} WHERE serial=@serial AND status=@from`);
  // The change feed, polled by live detection and the SeGW watcher (index devices_updated_serial).
  const changedPage = db.prepare('SELECT * FROM devices WHERE (updated_at, serial) > (?, ?) ORDER BY updated_at, serial LIMIT ?');
  const cas = db.prepare('UPDATE devices SET status = ?, updated_at = ? WHERE serial = ? AND status = ?');
  const hist = db.prepare('INSERT INTO device_status_history (serial, from_status, to_status, actor, reason, at) VALUES (?, ?, ?, ?, ?, ?)');
  const histList = db.prepare('SELECT serial, from_status AS "from", to_status AS "to", actor, reason, at FROM device_status_history WHERE serial = ? ORDER BY id');

  const params = (d: DeviceWrite['device'], at: string): Record<string, unknown> => ({
    serial: d.serial,
    status: d.status,
    cellIds: JSON.stringify(d.cellIds),
    siteLat: d.siteLat,
    siteLon: d.siteLon,
    siteRadiusM: d.siteRadiusM,
    ipPrefixes: JSON.stringify(d.ipPrefixes),
    expectedNeighbors: JSON.stringify(d.expectedNeighbors),
    certFingerprints: JSON.stringify(d.certFingerprints),
    owner: d.owner,
    at,
  });
  const addHistory = (c: StatusChange): void => {
    hist.run(c.serial, c.from, c.to, c.actor, c.reason, c.at);
  };

  const writeAll = db.transaction((writes: readonly DeviceWrite[], at: string): string[] => {
    const conflicts: string[] = [];
    for (const w of writes) {
      if (w.kind === 'insert') insert.run(params(w.device, at));
      else if (!w.change) updateData.run(params(w.device, at));
      else if (updateStatus.run({ ...params(w.device, at), from: w.change.from }).changes !== 1) {
        conflicts.push(w.device.serial);
        continue;
      }
      if (w.change) addHistory(w.change);
    }
    return conflicts;
  });
  const setStatusTx = db.transaction((c: StatusChange & { from: DeviceStatus }) => {
    const r = cas.run(c.to, c.at, c.serial, c.from);
    if (r.changes !== 1) return false;
    addHistory(c);
    return true;
  });

  return {
    get(serial) {
      const r = getOne.get(serial) as Row | undefined;
      return Promise.resolve(r ? toDevice(r) : null);
    },
    getMany(serials) {
      const out = new Map<string, Device>();
      for (let i = 0; i < serials.length; i += 500) {
        const chunk = serials.slice(i, i + 500);
        const rows = db.prepare(`SELECT * FROM devices WHERE serial IN (${chunk.map(() => '?').join(',')})`).all(...chunk) as Row[];
        for (const r of rows) out.set(r.serial, toDevice(r));
      }
      return Promise.resolve(out);
    },
    list(f) {
      const { where, args } = filterSql(f);
      const rows = db.prepare(`SELECT * FROM devices ${where} ORDER BY serial LIMIT ?`).all(...args, Math.min(f.limit ?? 100, 100_000)) as Row[];
      return Promise.resolve(rows.map(toDevice));
    },
    count(f) {
      const { where, args } = filterSql(f);
      const r = db.prepare(`SELECT count(*) AS n FROM devices ${where}`).get(...args) as { n: number };
      return Promise.resolve(r.n);
    },
    write(writes, at) {
      return Promise.resolve({ conflicts: writeAll.immediate(writes, at) });
    },
    setStatus(c) {
      if (!setStatusTx.immediate(c)) return Promise.resolve(null);
      const r = getOne.get(c.serial) as Row | undefined;
      return Promise.resolve(r ? toDevice(r) : null);
    },
    history(serial) {
      return Promise.resolve(histList.all(serial) as StatusChange[]);
    },
    changedSince(after, limit) {
      const rows = changedPage.all(after.updatedAt, after.serial, limit) as Row[];
      return Promise.resolve(rows.map(toDevice));
    },
  };
}
