import type { DeviceInput, DeviceStatus } from './device-input.js';

/** A device as stored. */
export interface Device extends DeviceInput {
  createdAt: string;
  updatedAt: string;
}

export interface StatusChange {
  serial: string;
  from: DeviceStatus | null;
  to: DeviceStatus;
  actor: string;
  reason: string;
  at: string;
}

export interface DeviceFilter {
  status?: DeviceStatus | undefined;
  owner?: string | undefined;
  /** serials starting with this text */
  serialPrefix?: string | undefined;
  /** devices allowed to serve this cell */
  cellId?: string | undefined;
  /** keyset pagination: serials after this one */
  after?: string | undefined;
  limit?: number | undefined;
}

export type DeviceWrite =
  | { kind: 'insert'; device: DeviceInput; change: StatusChange }
  | { kind: 'update'; device: DeviceInput; change: StatusChange | null };

/** Port owned by the registry: where devices and their status history live. */
export interface DeviceStore {
  get(serial: string): Promise<Device | null>;
  getMany(serials: readonly string[]): Promise<Map<string, Device>>;
  list(filter: DeviceFilter): Promise<Device[]>;
  count(filter: Omit<DeviceFilter, 'after' | 'limit'>): Promise<number>;
  /**
   * Applies inserts and updates atomically (one transaction), with their history rows. An
   * update without a status change leaves the stored status as it is; one with a change is a
   * compare-and-set from `change.from`: when the status is no longer that (another process
   * changed it since it was read), the row is not written and its serial is in `conflicts`.
   */
  write(writes: readonly DeviceWrite[], at: string): Promise<{ conflicts: string[] }>;
  /**
   * Compare-and-set of the status: fails (returns null) if the current status is not
   * `from`, so two concurrent changes cannot both win. Records the history row.
   */
  setStatus(change: StatusChange & { from: DeviceStatus }): Promise<Device | null>;
  history(serial: string): Promise<StatusChange[]>;
  /**
   * Devices changed after the position (updated_at, serial), oldest first: how other
   * components follow the registry. Many devices share one updated_at (a CSV import), so the
   * serial is part of the cursor.
   */
  changedSince(after: { updatedAt: string; serial: string }, limit: number): Promise<Device[]>;
}
