/**
 * From charon's view of an IKE SA (the `list-sa` / `ike-updown` section, VICI README) to
 * femtoguard's `femto.session` event (FORMATS.md §1).
 */
import { isIP } from 'node:net';
import { text, type ViciMessage } from './vici-codec.js';

/** The fields of one IKE SA the bridge uses. */
export interface IkeSa {
  /** IKE config name (`connections.<name>` in swanctl.conf) */
  name: string;
  uniqueId: string;
  state: string;
  remoteId: string;
  remoteHost: string;
  localHost: string;
  localPort: string;
  initiatorSpi: string;
  responderSpi: string;
  /** seconds since established, if charon said */
  establishedSeconds: number | undefined;
}

/**
 * The IKE SAs in one `list-sa` or `ike-updown` message: every sub-section at the root is an
 * IKE config name holding one SA. Sections without the identifying fields are skipped.
 */
export function ikeSasOf(message: ViciMessage): IkeSa[] {
  const out: IkeSa[] = [];
  for (const [name, v] of Object.entries(message)) {
    if (Buffer.isBuffer(v) || Array.isArray(v)) continue;
    const uniqueId = text(v, 'uniqueid');
    const remoteHost = text(v, 'remote-host');
    if (!uniqueId || !/^\d{1,10}$/.test(uniqueId) || !remoteHost) continue;
    const est = text(v, 'established');
    out.push({
      name,
      uniqueId,
      state: text(v, 'state') ?? '',
      remoteId: text(v, 'remote-id') ?? '',
      remoteHost,
      localHost: text(v, 'local-host') ?? '',
      localPort: text(v, 'local-port') ?? '',
      initiatorSpi: text(v, 'initiator-spi') ?? '',
      responderSpi: text(v, 'responder-spi') ?? '',
      establishedSeconds: est && /^\d+$/.test(est) ? Number(est) : undefined,
    });
  }
  return out;
}

/** `ike-updown` says `up = yes` when an SA comes up; the key is absent when it goes down. */
export const isUp = (message: ViciMessage): boolean => text(message, 'up') === 'yes';

/**
 * The device serial in an IKE identity. femtoguard's device certificates name the serial in
 * both serialNumber and CN (docs/pki.md), and charon's identity is the certificate subject
 * unless configured otherwise, printed as `CN=X, serialNumber=X`. serialNumber wins; then CN;
 * an identity that is not a DN (FQDN, e-mail, key id) is taken whole.
 */
export function serialFromIdentity(id: string): string | undefined {
  const s = id.trim();
  if (!s || s === '%any') return undefined;
  const rdn = (attr: string): string | undefined => {
    const m = new RegExp(`(?:^|,\\s*)${attr}=([^,]+)`, 'i').exec(s);
    return m?.[1]?.trim() || undefined;
  };
  if (/^[A-Za-z][\w.-]*=/.test(s)) return rdn('serialNumber') ?? rdn('CN') ?? undefined;
  return s;
}

/** `host:port`, with IPv6 hosts in brackets (FORMATS.md `endpoint`). */
export function endpointOf(host: string, port: string): string | undefined {
  if (!host || !port) return undefined;
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A session id stable for the life of the SA: unique ids restart at 1 with charon, the SPIs do not repeat. */
export const sessionKeyOf = (sa: IkeSa): string => `ike-${sa.uniqueId}-${sa.initiatorSpi || 'x'}`;

export interface SessionEventInput {
  type: 'femto.session';
  id: string;
  ts: string;
  serial: string;
  phase: 'up' | 'down';
  sourceIp: string;
  endpoint?: string;
  sessionId: string;
  certFingerprint?: string;
}

/**
 * The `femto.session` event for an SA going up or down, or null when the SA names no
 * identity. The `id` makes a replay (the bridge reconnecting and listing SAs again) a
 * duplicate the event store drops, not a second session.
 */
export function sessionEvent(sa: IkeSa, phase: 'up' | 'down', at: Date, opts: { sessionId?: string; certFingerprint?: string } = {}): SessionEventInput | null {
  const serial = serialFromIdentity(sa.remoteId);
  if (!serial || isIP(sa.remoteHost) === 0) return null;
  const sessionId = opts.sessionId ?? sessionKeyOf(sa);
  const e: SessionEventInput = { type: 'femto.session', id: `segw:${sessionId}:${phase}`, ts: at.toISOString(), serial, phase, sourceIp: sa.remoteHost, sessionId };
  const endpoint = endpointOf(sa.localHost, sa.localPort);
  if (endpoint) e.endpoint = endpoint;
  if (opts.certFingerprint) e.certFingerprint = opts.certFingerprint;
  return e;
}
