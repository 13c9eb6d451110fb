/** SQLite adapters: the default, embedded storage. Only this folder imports better-sqlite3. */
import { openSqlite, type SqliteDb } from './database.js';
import { sqliteAlertStore, sqlitePaymentHoldStore } from './alert-store.js';
import { sqliteAuditStore } from './audit-store.js';
import { sqliteEventStore } from './event-store.js';
import { sqliteCertStore } from './cert-store.js';
import { sqliteDeviceStore } from './device-store.js';
import { sqliteEnrollmentStore } from './enrollment-store.js';
import { sqliteTokenStore } from './token-store.js';
import { sqliteWebhookOutbox } from './webhook-outbox.js';
import { sqliteCellFlagStore } from './cell-flag-store.js';

export { openSqlite, migrate } from './database.js';
export type { SqliteDb } from './database.js';
export { sqliteAuditStore, sqliteCertStore, sqliteDeviceStore, sqliteEnrollmentStore, sqliteTokenStore, sqliteEventStore, sqliteAlertStore, sqlitePaymentHoldStore, sqliteWebhookOutbox, sqliteCellFlagStore };

/** All stores over one database file. */
export function sqliteStores(path: string) {
  const db: SqliteDb = openSqlite(path);
  return {
    db,
    devices: sqliteDeviceStore(db),
    certs: sqliteCertStore(db),
    audit: sqliteAuditStore(db),
    tokens: sqliteTokenStore(db),
    enrollment: sqliteEnrollmentStore(db),
    events: sqliteEventStore(db),
    alerts: sqliteAlertStore(db),
    holds: sqlitePaymentHoldStore(db),
    close: (): void => {
      db.close();
    },
  };
}
export type SqliteStores = ReturnType<typeof sqliteStores>;
