/**
 * The lifecycle statuses of a device (FORMATS.md §2), in their own file without zod: the CLI
 * lists them in its help on every run, before it loads the registry (src/cli/choices.ts).
 */
export const DEVICE_STATUSES = ['provisioned', 'active', 'suspended', 'decommissioned', 'lost'] as const;
export type DeviceStatus = (typeof DEVICE_STATUSES)[number];
