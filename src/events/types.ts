/**
 * The event contract (FORMATS.md §1), as types. Every event also carries `t`: its time in
 * epoch milliseconds, computed once when it is validated.
 */
export const EVENT_TYPES = ['femto.session', 'femto.report', 'ue.attach', 'ims.register', 'payment.auth', 'registry.update'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

interface Base {
  ts: string | number;
  id?: string;
  /** event time, epoch ms (derived from `ts`) */
  t: number;
}

export interface GpsFix {
  lat: number;
  lon: number;
  accuracyM?: number;
}

export interface FemtoSessionEvent extends Base {
  type: 'femto.session';
  serial: string;
  phase: 'up' | 'down';
  sourceIp: string;
  certFingerprint?: string;
  cellIds?: string[];
  endpoint?: string;
  sessionId?: string;
}

export interface FemtoReportEvent extends Base {
  type: 'femto.report';
  serial: string;
  sourceIp?: string;
  cellIds?: string[];
  gps?: GpsFix;
  neighbors?: string[];
  swVersion?: string;
  configHash?: string;
}

export interface UeAttachEvent extends Base {
  type: 'ue.attach';
  cellId: string;
  imsi: string;
  imei?: string;
  msisdn?: string;
}

export interface ImsRegisterEvent extends Base {
  type: 'ims.register';
  imsi: string;
  ipsec: boolean;
  cellId?: string;
  msisdn?: string;
}

export interface PaymentAuthEvent extends Base {
  type: 'payment.auth';
  txId: string;
  msisdn: string;
  amountMinor: number;
  currency: string;
  method?: string;
  merchant?: string;
}

export interface RegistryUpdateEvent extends Base {
  type: 'registry.update';
  serial: string;
  status?: 'provisioned' | 'active' | 'suspended' | 'decommissioned' | 'lost';
  cellIds?: string[];
  siteLat?: number | null;
  siteLon?: number | null;
  siteRadiusM?: number;
  ipPrefixes?: string[];
  expectedNeighbors?: string[];
  certFingerprints?: string[];
  owner?: string | null;
}

export type FgEvent = FemtoSessionEvent | FemtoReportEvent | UeAttachEvent | ImsRegisterEvent | PaymentAuthEvent | RegistryUpdateEvent;
