/**
 * Versioned schema. Never edit a released migration: add a new one. Timestamps are
 * ISO-8601 UTC text; lists are JSON text; DER is BLOB.
 */
import { chainExistingAuditEvents } from './audit-chain.js';
import type { SqliteDb } from './database.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
  /** runs after `sql`, in the same transaction (data that SQL alone cannot compute) */
  after?: (db: SqliteDb) => void;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'identity',
    sql: `
CREATE TABLE devices (
  serial TEXT PRIMARY KEY,
  status TEXT NOT NULL CHECK (status IN ('provisioned','active','suspended','decommissioned','lost')),
  cell_ids TEXT NOT NULL DEFAULT '[]',
  site_lat REAL,
  site_lon REAL,
  site_radius_m REAL NOT NULL DEFAULT 300,
  ip_prefixes TEXT NOT NULL DEFAULT '[]',
  expected_neighbors TEXT NOT NULL DEFAULT '[]',
  cert_fingerprints TEXT NOT NULL DEFAULT '[]',
  owner TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX devices_status ON devices(status);
CREATE INDEX devices_owner ON devices(owner);

CREATE TABLE device_status_history (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  serial TEXT NOT NULL,
  from_status TEXT,
  to_status TEXT NOT NULL,
  actor TEXT NOT NULL,
  reason TEXT NOT NULL,
  at TEXT NOT NULL
);
CREATE INDEX device_status_history_serial ON device_status_history(serial, id);

CREATE TABLE certificates (
  serial_hex TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  device_serial TEXT,
  fingerprint TEXT NOT NULL UNIQUE,
  spki_sha256 TEXT NOT NULL,
  not_before TEXT NOT NULL,
  not_after TEXT NOT NULL,
  issued_at TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'valid' CHECK (status IN ('valid','revoked')),
  revoked_at TEXT,
  revocation_reason INTEGER,
  der BLOB NOT NULL
);
CREATE INDEX certificates_device ON certificates(device_serial);
CREATE INDEX certificates_revoked ON certificates(status) WHERE status = 'revoked';

-- RFC-free invariant of femtoguard: a public key is bound to one device forever.
CREATE TABLE key_bindings (
  spki_sha256 TEXT PRIMARY KEY,
  device_serial TEXT NOT NULL,
  bound_at TEXT NOT NULL
);

-- Change feed: every certificate status change, so other processes refresh OCSP and CRL.
CREATE TABLE cert_changes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  serial_hex TEXT NOT NULL,
  at TEXT NOT NULL
);

CREATE TABLE ca_material (
  name TEXT PRIMARY KEY,
  key_algorithm TEXT NOT NULL,
  cert_der BLOB NOT NULL,
  encrypted_key BLOB,
  created_at TEXT NOT NULL
);

CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE enroll_tokens (
  id TEXT PRIMARY KEY,
  serial TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  used_at TEXT,
  created_by TEXT NOT NULL
);
CREATE INDEX enroll_tokens_serial ON enroll_tokens(serial);

CREATE TABLE vendor_roots (
  fingerprint TEXT PRIMARY KEY,
  subject TEXT NOT NULL,
  der BLOB NOT NULL,
  added_at TEXT NOT NULL
);

-- A factory credential (vendor certificate or its key) names one serial forever.
CREATE TABLE vendor_bindings (
  credential TEXT PRIMARY KEY,
  serial TEXT NOT NULL,
  bound_at TEXT NOT NULL
);

CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  label TEXT,
  created_at TEXT NOT NULL,
  revoked_at TEXT
);

CREATE TABLE audit_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  subject TEXT,
  outcome TEXT NOT NULL,
  details TEXT
);
CREATE INDEX audit_events_action ON audit_events(action, id);
CREATE INDEX audit_events_subject ON audit_events(subject, id);
`,
  },
  {
    version: 2,
    name: 'detection',
    sql: `
-- The durable event log behind ingestion (idempotent on the event id).
CREATE TABLE events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT UNIQUE,
  type TEXT NOT NULL,
  t INTEGER NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX events_t ON events(t);

CREATE TABLE alerts (
  id TEXT PRIMARY KEY,
  rule TEXT NOT NULL,
  severity TEXT NOT NULL,
  serial TEXT,
  cell_id TEXT,
  imsi TEXT,
  msisdn TEXT,
  tx_id TEXT,
  ts TEXT NOT NULL,
  first_seen TEXT NOT NULL,
  last_seen TEXT NOT NULL,
  count INTEGER NOT NULL,
  summary TEXT NOT NULL,
  evidence TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open','acknowledged','resolved')),
  status_by TEXT,
  status_note TEXT,
  updated_at TEXT NOT NULL
);
CREATE INDEX alerts_rule ON alerts(rule, ts);
CREATE INDEX alerts_serial ON alerts(serial);
CREATE INDEX alerts_cell ON alerts(cell_id);
CREATE INDEX alerts_status ON alerts(status, ts);

-- Payments held by the payment-exposure response, until an operator releases them.
CREATE TABLE payment_holds (
  tx_id TEXT PRIMARY KEY,
  msisdn TEXT NOT NULL,
  alert_id TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('held','released')),
  held_at TEXT NOT NULL,
  released_at TEXT,
  released_by TEXT,
  reason TEXT
);

CREATE INDEX devices_updated ON devices(updated_at);
`,
  },
  {
    version: 3,
    name: 'admission',
    sql: `
-- One row per admission decision (check-in or gateway session), with every reason as JSON.
CREATE TABLE admission_decisions (
  id TEXT PRIMARY KEY,
  at TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('checkin','session-up','session-down')),
  serial TEXT,
  decision TEXT NOT NULL CHECK (decision IN ('admit','deny')),
  reason TEXT,
  source_ip TEXT NOT NULL,
  endpoint TEXT,
  cert_fingerprint TEXT,
  stale_since TEXT,
  reasons TEXT NOT NULL,
  duration_us INTEGER NOT NULL,
  cpu_us INTEGER NOT NULL
);
CREATE INDEX admission_decisions_serial ON admission_decisions(serial, at);
CREATE INDEX admission_decisions_at ON admission_decisions(at);

-- Gateway address rotation epochs; the server and the CLI share them (compare-and-set on seq).
CREATE TABLE gateway_rotations (
  seq INTEGER PRIMARY KEY,
  current TEXT NOT NULL,
  next TEXT NOT NULL,
  pool TEXT NOT NULL,
  started_at TEXT NOT NULL,
  rotates_at TEXT NOT NULL,
  actor TEXT NOT NULL,
  reason TEXT NOT NULL
);
`,
  },
  {
    version: 4,
    name: 'subscribers',
    sql: `
-- The exposure index (src/subscribers): one bucket per (UTC day, cell, subscriber). Keyed by
-- day first so that live ingestion appends at the end of the tree; looked up per (day, cell).
CREATE TABLE exposure_buckets (
  day INTEGER NOT NULL,
  cell_id TEXT NOT NULL,
  imsi TEXT NOT NULL,
  first_attach INTEGER,
  last_attach INTEGER,
  attach_count INTEGER NOT NULL DEFAULT 0,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  ims_count INTEGER NOT NULL DEFAULT 0,
  ims_without_ipsec INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (day, cell_id, imsi)
) WITHOUT ROWID;
-- "Where was this subscriber": per (day, imsi).
CREATE INDEX exposure_buckets_imsi ON exposure_buckets(day, imsi);

-- Subscribers joined across identifiers (the latest event linking them wins).
CREATE TABLE exposure_subscribers (
  imsi TEXT PRIMARY KEY,
  msisdn TEXT,
  imei TEXT,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  last_cell_id TEXT
) WITHOUT ROWID;
CREATE INDEX exposure_subscribers_msisdn ON exposure_subscribers(msisdn);

-- payment.auth events, for the payments at risk of an impact analysis.
CREATE TABLE subscriber_payments (
  tx_id TEXT PRIMARY KEY,
  msisdn TEXT NOT NULL,
  t INTEGER NOT NULL,
  amount_minor INTEGER NOT NULL,
  currency TEXT NOT NULL,
  method TEXT,
  merchant TEXT
);
CREATE INDEX subscriber_payments_msisdn ON subscriber_payments(msisdn, t);
CREATE INDEX subscriber_payments_t ON subscriber_payments(t);
`,
  },
  {
    version: 5,
    name: 'device change feed index',
    sql: `
-- The registry's change feed (changedSince) pages by (updated_at, serial): with an index on
-- updated_at alone, a page after a bulk import (many rows, one updated_at) read every such row.
CREATE INDEX devices_updated_serial ON devices(updated_at, serial);
DROP INDEX devices_updated;
`,
  },
  {
    version: 6,
    name: 'alert responses recorded',
    sql: `
-- When the automatic responses of an alert (quarantine, payment hold) ran: a response runs
-- until it is recorded here, so a crash between the alert's write and its response does not
-- lose it. Alerts stored before this column came had their responses run then.
ALTER TABLE alerts ADD COLUMN responded_at TEXT;
UPDATE alerts SET responded_at = updated_at;
`,
  },
  {
    version: 7,
    name: 'webhook outbox',
    sql: `
-- Webhook deliveries not made yet, so a restart loses none (detection/sinks/outbox.ts).
-- target: SHA-256 of the receiver's URL (never the URL, which may carry credentials, nor the
-- HMAC secret: bodies are signed when sent). attempt: failed attempts so far; next_at: epoch
-- ms before which the job is not sent; last_error: a short reason (HTTP status, timeout).
CREATE TABLE webhook_outbox (
  id INTEGER PRIMARY KEY,
  target TEXT NOT NULL,
  body TEXT NOT NULL,
  alert_id TEXT NOT NULL,
  attempt INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  last_error TEXT
);
-- Each target's queue in order: its oldest job is the next one sent.
CREATE INDEX webhook_outbox_target ON webhook_outbox(target, id);
`,
  },
  {
    version: 8,
    name: 'detection cell flags',
    sql: `
-- The live engine's cell flags (detection/state.ts CellFlags), kept across restarts:
-- payment-exposure reaches back flagRetentionMs (7 days), far beyond the events a restart
-- replays. first_t, last_t: epoch ms of the episode's first and latest flag; rules: JSON array
-- of rule ids in the order they first flagged the cell.
CREATE TABLE detection_cell_flags (
  cell_id TEXT PRIMARY KEY,
  first_t INTEGER NOT NULL,
  last_t INTEGER NOT NULL,
  rules TEXT NOT NULL
);
CREATE INDEX detection_cell_flags_last ON detection_cell_flags(last_t);
`,
  },
  {
    version: 9,
    name: 'API token expiry',
    sql: `
-- When an API token stops being valid (ISO 8601, UTC); NULL: valid until revoked (every
-- token made before this migration).
ALTER TABLE api_tokens ADD COLUMN expires_at TEXT;
`,
  },
  {
    version: 10,
    name: 'audit log hash chain',
    sql: `
-- Each audit event's link in the log's hash chain (audit-log/chain.ts): prev_hash is the hash
-- of the event before it (64 zeros for the first), hash the SHA-256 of prev_hash and the
-- event's own fields. Events stored before this migration are chained by it, oldest first.
ALTER TABLE audit_events ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_events ADD COLUMN hash TEXT;
`,
    after: chainExistingAuditEvents,
  },
  {
    version: 11,
    name: 'admission decisions: claimed serial',
    sql: `
-- The serial a client claimed when its certificate proved another (the decision's serial is
-- the proven one): an operator looking up either serial finds the attempt.
ALTER TABLE admission_decisions ADD COLUMN claimed_serial TEXT;
CREATE INDEX admission_decisions_claimed ON admission_decisions(claimed_serial, at) WHERE claimed_serial IS NOT NULL;
`,
  },
  {
    version: 12,
    name: 'subscribers: number links',
    sql: `
-- Which IMSI held each number, from when (src/subscribers, number recycling): a number belongs
-- to its newest link (greatest since); a payment to the link that held its number at the
-- payment's time. since: epoch ms the IMSI was first seen with the number.
CREATE TABLE exposure_msisdn_links (
  msisdn TEXT NOT NULL,
  imsi TEXT NOT NULL,
  since INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  PRIMARY KEY (msisdn, imsi)
) WITHOUT ROWID;
CREATE INDEX exposure_msisdn_links_imsi ON exposure_msisdn_links(imsi);
-- Links before this migration: the subscriber's first observation is the best time known.
INSERT INTO exposure_msisdn_links (msisdn, imsi, since, last_seen)
  SELECT msisdn, imsi, first_seen, last_seen FROM exposure_subscribers WHERE msisdn IS NOT NULL;
-- A number held by several subscribers (recycled) stays only with its newest link.
UPDATE exposure_subscribers SET msisdn = NULL
  WHERE msisdn IS NOT NULL AND imsi <> (
    SELECT l.imsi FROM exposure_msisdn_links l WHERE l.msisdn = exposure_subscribers.msisdn ORDER BY l.since DESC, l.imsi DESC LIMIT 1);
`,
  },
];
