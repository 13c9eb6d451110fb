import type { CaMaterial, CertFilter, CertRecord, CertStore, RevokedCert } from '../../pki/store.js';
import type { SqliteDb } from './database.js';

interface Row {
  serial_hex: string;
  kind: CertRecord['kind'];
  device_serial: string | null;
  fingerprint: string;
  spki_sha256: string;
  not_before: string;
  not_after: string;
  issued_at: string;
  status: CertRecord['status'];
  revoked_at: string | null;
  revocation_reason: number | null;
}

const COLS = 'serial_hex, kind, device_serial, fingerprint, spki_sha256, not_before, not_after, issued_at, status, revoked_at, revocation_reason';
const HOLD = 6; // RFC 5280 §5.3.1 certificateHold

const toRecord = (r: Row): CertRecord => ({
  serialHex: r.serial_hex,
  kind: r.kind,
  deviceSerial: r.device_serial,
  fingerprint: r.fingerprint,
  spkiSha256: r.spki_sha256,
  notBefore: r.not_before,
  notAfter: r.not_after,
  issuedAt: r.issued_at,
  status: r.status,
  revokedAt: r.revoked_at,
  reason: r.revocation_reason,
});

export function sqliteCertStore(db: SqliteDb): CertStore {
  const owner = db.prepare('SELECT device_serial FROM key_bindings WHERE spki_sha256 = ?').pluck();
  const bind = db.prepare('INSERT INTO key_bindings (spki_sha256, device_serial, bound_at) VALUES (?, ?, ?)');
  const insertCert = db.prepare(
    `INSERT INTO certificates (${COLS}, der) VALUES (@serialHex, @kind, @deviceSerial, @fingerprint, @spkiSha256, @notBefore, @notAfter, @issuedAt, @status, @revokedAt, @reason, @der)`,
  );
  const getOne = db.prepare(`SELECT ${COLS} FROM certificates WHERE serial_hex = ?`);
  const getDer = db.prepare('SELECT der FROM certificates WHERE serial_hex = ?').pluck();
  const byFp = db.prepare(`SELECT ${COLS} FROM certificates WHERE fingerprint = ?`);
  const change = db.prepare('INSERT INTO cert_changes (serial_hex, at) VALUES (?, ?)');
  const validOfDevice = db.prepare("SELECT serial_hex FROM certificates WHERE device_serial = ? AND status = 'valid'").pluck();
  const heldOfDevice = db.prepare("SELECT serial_hex FROM certificates WHERE device_serial = ? AND status = 'revoked' AND revocation_reason = ?").pluck();
  // A hold (suspension) may be upgraded to a permanent revocation (lost, decommissioned).
  const heldOrValidOfDevice = db.prepare(
    "SELECT serial_hex FROM certificates WHERE device_serial = ? AND (status = 'valid' OR (status = 'revoked' AND revocation_reason = 6))",
  ).pluck();
  const setRevoked = db.prepare(
    "UPDATE certificates SET status = 'revoked', revoked_at = ?, revocation_reason = ? WHERE serial_hex = ? AND (status = 'valid' OR revocation_reason = 6)",
  );
  const setValid = db.prepare("UPDATE certificates SET status = 'valid', revoked_at = NULL, revocation_reason = NULL WHERE serial_hex = ?");

  const recordTx = db.transaction((rec: CertRecord, der: Buffer): string | null => {
    if (rec.deviceSerial !== null) {
      const cur = owner.get(rec.spkiSha256) as string | undefined;
      if (cur !== undefined && cur !== rec.deviceSerial) return cur;
      if (cur === undefined) bind.run(rec.spkiSha256, rec.deviceSerial, rec.issuedAt);
    }
    insertCert.run({ ...rec, der });
    return null;
  });
  const revokeDeviceTx = db.transaction((serial: string, reason: number, at: string) => {
    const serials = (reason === HOLD ? validOfDevice.all(serial) : heldOrValidOfDevice.all(serial)) as string[];
    for (const s of serials) {
      setRevoked.run(at, reason, s);
      change.run(s, at);
    }
    return serials;
  });
  const revokeTx = db.transaction((serialHex: string, reason: number, at: string) => {
    const ok = setRevoked.run(at, reason, serialHex).changes === 1;
    if (ok) change.run(serialHex, at);
    return ok;
  });
  const releaseTx = db.transaction((serial: string, at: string) => {
    const serials = heldOfDevice.all(serial, HOLD) as string[];
    for (const s of serials) {
      setValid.run(s);
      change.run(s, at);
    }
    return serials;
  });
  const crlNumberTx = db.transaction(() => {
    const cur = db.prepare("SELECT value FROM meta WHERE key = 'crl_number'").pluck().get() as string | undefined;
    const next = (cur ? BigInt(cur) : 0n) + 1n;
    db.prepare("INSERT INTO meta (key, value) VALUES ('crl_number', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(next.toString());
    return next;
  });
  const saveMaterialTx = db.transaction((items: CaMaterial[], replace: boolean) => {
    if (!replace) {
      const n = db.prepare('SELECT count(*) FROM ca_material').pluck().get() as number;
      if (n > 0) return false;
    }
    const up = db.prepare(
      `INSERT INTO ca_material (name, key_algorithm, cert_der, encrypted_key, created_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT(name) DO UPDATE SET key_algorithm = excluded.key_algorithm, cert_der = excluded.cert_der, encrypted_key = excluded.encrypted_key, created_at = excluded.created_at`,
    );
    for (const m of items) up.run(m.name, m.keyAlgorithm, m.certDer, m.encryptedKey, m.createdAt);
    return true;
  });

  return {
    recordIssued: (rec, der) => Promise.resolve(recordTx.immediate(rec, der)),
    keyOwner: (h) => Promise.resolve((owner.get(h) as string | undefined) ?? null),
    get(serialHex) {
      const r = getOne.get(serialHex) as Row | undefined;
      return Promise.resolve(r ? toRecord(r) : null);
    },
    getDer: (serialHex) => Promise.resolve((getDer.get(serialHex) as Buffer | undefined) ?? null),
    byFingerprint(fp) {
      const r = byFp.get(fp) as Row | undefined;
      return Promise.resolve(r ? toRecord(r) : null);
    },
    list(f: CertFilter) {
      const where: string[] = [];
      const args: unknown[] = [];
      if (f.deviceSerial) (where.push('device_serial = ?'), args.push(f.deviceSerial));
      if (f.status) (where.push('status = ?'), args.push(f.status));
      if (f.after) (where.push('serial_hex > ?'), args.push(f.after));
      const rows = db
        .prepare(`SELECT ${COLS} FROM certificates ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY serial_hex LIMIT ?`)
        .all(...args, Math.min(f.limit ?? 100, 100_000)) as Row[];
      return Promise.resolve(rows.map(toRecord));
    },
    revokeDevice: (serial, reason, at) => Promise.resolve(revokeDeviceTx.immediate(serial, reason, at)),
    revoke: (serialHex, reason, at) => Promise.resolve(revokeTx.immediate(serialHex, reason, at)),
    releaseHolds: (serial, at) => Promise.resolve(releaseTx.immediate(serial, at)),
    revokedUnexpired(now) {
      const rows = db
        .prepare("SELECT serial_hex AS serialHex, revoked_at AS revokedAt, revocation_reason AS reason FROM certificates WHERE status = 'revoked' AND not_after > ?")
        .all(now) as RevokedCert[];
      return Promise.resolve(rows);
    },
    changesSince(afterSeq, limit = 10_000) {
      return Promise.resolve(
        db.prepare('SELECT seq, serial_hex AS serialHex FROM cert_changes WHERE seq > ? ORDER BY seq LIMIT ?').all(afterSeq, limit) as { seq: number; serialHex: string }[],
      );
    },
    lastChangeSeq: () => Promise.resolve((db.prepare('SELECT coalesce(max(seq), 0) FROM cert_changes').pluck().get() as number) ?? 0),
    nextCrlNumber: () => Promise.resolve(crlNumberTx.immediate()),
    loadCaMaterial() {
      const rows = db.prepare('SELECT name, key_algorithm AS keyAlgorithm, cert_der AS certDer, encrypted_key AS encryptedKey, created_at AS createdAt FROM ca_material').all() as CaMaterial[];
      return Promise.resolve(rows);
    },
    saveCaMaterial: (items, replace) => Promise.resolve(saveMaterialTx.immediate(items, replace)),
  };
}
