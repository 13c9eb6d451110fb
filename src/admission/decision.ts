/**
 * The admission decision: one function for every check-in and every session an external
 * gateway reports. It evaluates every check (not just up to the first failure) so the record
 * says everything that was wrong, and it fails closed: an exception is a deny.
 */
import { createHash } from 'node:crypto';
import { distanceM } from '../detection/geo.js';
import { parseCertificate, verifySignedBy, type CertRecord, type ParsedCertificate } from '../pki/index.js';
import { PrefixSet, type Device } from '../registry/index.js';
import type { EffectivePolicy } from './policy.js';
import type { EndpointStatus } from './rotation.js';
import type { LiveSession } from './sessions.js';
import { CHECKS, type CheckCode, type Decision, type DecisionInput, type Reason } from './types.js';

/** What a decision consults. Reads only: the caller records and publishes the outcome. */
export interface DecisionDeps {
  devices: { get(serial: string): Promise<Device | null> };
  certs: { byFingerprint(fingerprint: string): Promise<CertRecord | null> };
  /** femtoguard's issuing CA; null while the CA is not unlocked (then nothing is admitted) */
  issuing: () => ParsedCertificate | null;
  sessions: { conflicting(serial: string, sourceIp: string, nowMs: number): LiveSession | undefined };
  endpoints: { status(endpoint: string | undefined, mainListener: boolean, nowMs: number): EndpointStatus };
  policy: (owner: string | null) => EffectivePolicy;
  /** certificates verified before (optional: without it every decision parses and verifies) */
  leafCache?: LeafCache;
}

const FINGERPRINT = /^[0-9a-f]{64}$/;
const iso = (ms: number): string => new Date(ms).toISOString();
const NO_DEVICE = 'no registry entry to compare with';

export type Outcome = [ok: boolean, detail: string];

function endpointCheck(st: EndpointStatus, endpoint: string | undefined, kind: DecisionInput['kind']): Outcome {
  const at = endpoint ?? 'an unknown address';
  switch (st.state) {
    case 'no-rotation':
      return [true, 'no gateway rotation configured'];
    case 'current':
    case 'next':
      return [true, `${at} is the ${st.state} gateway address`];
    case 'bootstrap':
      return [true, 'main TLS listener (bootstrap address)'];
    case 'grace':
      return [true, `${at} was retired at ${iso(st.retiredAt)}; in its grace period until ${iso(st.graceUntil)}`];
    case 'stale':
      return [false, `stale-endpoint: ${at} was retired at ${iso(st.retiredAt)} and its grace period ended at ${iso(st.staleSince)}`];
    case 'unannounced':
      return [false, `${at} is a gateway address that has not been announced yet`];
    case 'foreign':
      // An external SeGW's own address is not one femtoguard rotates: only retired pool
      // addresses matter there. A check-in always arrives on a listener femtoguard knows.
      return kind === 'checkin' ? [false, `${at} is not a gateway address`] : [true, `${at} is not a femtoguard-rotated address: not checked`];
  }
}

/** What a decision keeps of a presented certificate once it has been parsed and verified. */
export interface VerifiedLeaf {
  /** fingerprint of the issuing CA it was checked against */
  issuer: string;
  notBefore: number;
  notAfter: number;
  chain: Outcome;
}

/**
 * Certificates verified before, by fingerprint (SHA-256 of the DER: same fingerprint, same
 * bytes, same signature verdict). A femtocell presents the same certificate at every check-in;
 * parsing and an ECDSA verification each time would be most of a decision's cost.
 */
export interface LeafCache {
  get(fingerprint: string): VerifiedLeaf | undefined;
  set(fingerprint: string, v: VerifiedLeaf): void;
}

/** A bounded cache: the oldest entry goes when full. */
export function createLeafCache(max = 100_000): LeafCache {
  const m = new Map<string, VerifiedLeaf>();
  return {
    get: (fp) => m.get(fp),
    set(fp, v) {
      if (m.size >= max) m.delete(m.keys().next().value as string);
      m.set(fp, v);
    },
  };
}

interface Cert {
  /** a certificate (or a fingerprint) was presented */
  presented: boolean;
  malformed: string | null;
  fingerprint: string | null;
  /** set when the DER itself was presented */
  leaf: VerifiedLeaf | null;
}

function verifyLeaf(leaf: ParsedCertificate, issuing: ParsedCertificate): Outcome {
  // Only the issuing CA signs device certificates (docs/pki.md); a vendor or any other
  // chain, even one the TLS layer could build, is not femtoguard's.
  if (!leaf.issuerDer.equals(issuing.subjectDer) || !verifySignedBy(leaf, issuing.spki)) return [false, "not issued by femtoguard's issuing CA"];
  if (leaf.extensions.basicConstraints?.ca) return [false, 'a CA certificate is not a device credential'];
  return [true, "signed by femtoguard's issuing CA"];
}

function readCert(input: DecisionInput, issuing: ParsedCertificate | null, cache: LeafCache | undefined): Cert {
  const der = input.clientChain?.[0];
  if (der) {
    const fp = createHash('sha256').update(der).digest('hex');
    const hit = cache?.get(fp);
    if (hit && issuing && hit.issuer === issuing.fingerprint) return { presented: true, malformed: null, fingerprint: fp, leaf: hit };
    let parsed: ParsedCertificate;
    try {
      parsed = parseCertificate(der);
    } catch (e) {
      return { presented: true, malformed: e instanceof Error ? e.message : 'unreadable certificate', fingerprint: null, leaf: null };
    }
    if (issuing === null) return { presented: true, malformed: null, fingerprint: fp, leaf: { issuer: '', notBefore: parsed.notBefore.getTime(), notAfter: parsed.notAfter.getTime(), chain: [false, 'the CA is not unlocked yet'] } };
    const leaf: VerifiedLeaf = { issuer: issuing.fingerprint, notBefore: parsed.notBefore.getTime(), notAfter: parsed.notAfter.getTime(), chain: verifyLeaf(parsed, issuing) };
    cache?.set(fp, leaf);
    return { presented: true, malformed: null, fingerprint: fp, leaf };
  }
  const fp = input.certFingerprint?.toLowerCase();
  if (fp === undefined) return { presented: false, malformed: null, fingerprint: null, leaf: null };
  return FINGERPRINT.test(fp) ? { presented: true, malformed: null, fingerprint: fp, leaf: null } : { presented: true, malformed: 'certificate fingerprint is not 64 hex digits', fingerprint: null, leaf: null };
}

function chainCheck(c: Cert, rec: CertRecord | null, issuing: ParsedCertificate | null): Outcome {
  if (c.malformed) return [false, c.malformed];
  if (!c.presented) return [false, 'no client certificate'];
  if (issuing === null) return [false, 'the CA is not unlocked yet'];
  if (c.leaf) return c.leaf.chain;
  return rec?.kind === 'device' ? [true, 'a device certificate femtoguard issued (by fingerprint)'] : [false, 'fingerprint of no certificate femtoguard issued'];
}

function expiryCheck(c: Cert, rec: CertRecord | null, nowMs: number): Outcome {
  const nb = c.leaf ? c.leaf.notBefore : rec ? Date.parse(rec.notBefore) : NaN;
  const na = c.leaf ? c.leaf.notAfter : rec ? Date.parse(rec.notAfter) : NaN;
  if (Number.isNaN(nb) || Number.isNaN(na)) return [false, 'no certificate validity to check'];
  // RFC 5280 §4.1.2.5: valid from notBefore through notAfter inclusive.
  if (nowMs < nb) return [false, `not valid before ${iso(nb)}`];
  if (nowMs > na) return [false, `expired at ${iso(na)}`];
  return [true, `valid until ${iso(na)}`];
}

function revokedCheck(rec: CertRecord | null): Outcome {
  if (rec === null) return [false, 'not in the certificate store: revocation status unknown'];
  if (rec.status === 'revoked') return [false, `revoked at ${rec.revokedAt ?? 'unknown time'} (CRLReason ${rec.reason ?? 'unspecified'})`];
  return [true, `certificate ${rec.serialHex} is not revoked`];
}

function bindingCheck(rec: CertRecord | null, claimed: string | null): Outcome {
  if (rec === null || rec.deviceSerial === null) return [false, 'the certificate is bound to no device'];
  if (claimed === null) return [true, `identity ${rec.deviceSerial} taken from the certificate`];
  return rec.deviceSerial === claimed ? [true, `the certificate belongs to ${claimed}`] : [false, `the certificate belongs to ${rec.deviceSerial}, not ${claimed}`];
}

function prefixCheck(d: Device | null, ip: string): Outcome {
  if (d === null) return [false, NO_DEVICE];
  if (d.ipPrefixes.length === 0) return [true, 'no ip_prefixes registered: not checked'];
  return new PrefixSet(d.ipPrefixes).contains(ip) ? [true, `${ip} is inside the registered prefixes`] : [false, `${ip} is outside ${d.ipPrefixes.join(', ')}`];
}

function cellsCheck(d: Device | null, cells: readonly string[] | undefined): Outcome {
  if (!cells || cells.length === 0) return [true, 'no cells announced'];
  if (d === null) return [false, NO_DEVICE];
  const foreign = cells.filter((c) => !d.cellIds.includes(c));
  return foreign.length === 0 ? [true, `${cells.length} announced cell(s), all the device's own`] : [false, `announces cells it may not serve: ${foreign.slice(0, 8).join(', ')}${foreign.length > 8 ? ', …' : ''}`];
}

function sessionCheck(deps: DecisionDeps, input: DecisionInput, serial: string | null, nowMs: number): Outcome {
  if (input.kind === 'session-down') return [true, 'a session going down is not a second session'];
  if (serial === null) return [false, 'no identity to hold a session'];
  const other = deps.sessions.conflicting(serial, input.sourceIp, nowMs);
  return other ? [false, `a live session of ${serial} from ${other.sourceIp} since ${iso(other.startedAt)}`] : [true, 'no other live session of this identity'];
}

/**
 * Evidence a location check needs but the client left out (or sent unusable). Where the check
 * is enforced as deny, leaving it out must not be a way past it: for a check-in that is a
 * failure. A gateway reporting an IKE SA has no radio data to send, so there it is not checked.
 */
function missingEvidence(input: DecisionInput, p: EffectivePolicy, code: 'gps-in-site' | 'neighbors-consistent', what: string): Outcome {
  if (input.kind === 'checkin' && p.enforce[code] === 'deny') return [false, `${what}; required where ${code} is enforced as deny`];
  return [true, `${what}: not checked`];
}

function gpsCheck(d: Device | null, input: DecisionInput, p: EffectivePolicy): Outcome {
  if (d !== null && (d.siteLat === null || d.siteLon === null)) return [true, 'no site registered: not checked'];
  const g = input.gps;
  if (!g) return missingEvidence(input, p, 'gps-in-site', 'no GPS fix reported');
  // The fix's own accuracy widens the circle (indoors a fix can be off by hundreds of metres),
  // but it is the client's claim: past the cap a fix says nothing about where the device is.
  const accuracy = g.accuracyM ?? 0;
  if (accuracy > p.maxGpsAccuracyM) return missingEvidence(input, p, 'gps-in-site', `a fix claiming ${Math.round(accuracy)} m accuracy (poorer than ${p.maxGpsAccuracyM} m) counts as no fix`);
  if (d === null || d.siteLat === null || d.siteLon === null) return [false, NO_DEVICE];
  const dist = distanceM(d.siteLat, d.siteLon, g.lat, g.lon);
  const allowed = d.siteRadiusM + accuracy + p.gpsMarginM;
  return dist <= allowed ? [true, `${Math.round(dist)} m from the site (allowed ${Math.round(allowed)} m)`] : [false, `${Math.round(dist)} m from the site (allowed ${Math.round(allowed)} m incl. accuracy and margin)`];
}

function neighborsCheck(d: Device | null, input: DecisionInput, p: EffectivePolicy): Outcome {
  if (d !== null && d.expectedNeighbors.length === 0) return [true, 'no expected neighbours registered: not checked'];
  const n = input.neighbors;
  if (!n || n.length === 0) return missingEvidence(input, p, 'neighbors-consistent', 'no neighbour scan reported');
  if (d === null) return [false, NO_DEVICE];
  const expected = new Set(d.expectedNeighbors);
  // Each distinct cell counts once: repeating an expected neighbour must not buy overlap.
  const reported = new Set(n);
  let heard = 0;
  for (const x of reported) if (expected.has(x)) heard++;
  const overlap = heard / reported.size;
  const text = `${heard} of ${reported.size} distinct reported neighbours are expected (${Math.round(overlap * 100)}%, need ${Math.round(p.minNeighborOverlap * 100)}%)`;
  return [overlap >= p.minNeighborOverlap, text];
}

function deviceCheck(d: Device | null, serial: string | null): Outcome {
  if (serial === null) return [false, 'no serial claimed and no certificate to take one from'];
  if (d === null) return [false, `unknown device ${serial}`];
  return d.status === 'active' ? [true, 'active'] : [false, `device is ${d.status}`];
}

/**
 * The identity a certificate proved: the chain verified against femtoguard's issuing CA (or,
 * for a gateway naming a fingerprint, the certificate is one femtoguard issued to a device)
 * and the certificate store binds that certificate to a device. The serial is the one the
 * certificate was issued to, never the one the client claimed; null when nothing proved one.
 */
function provenSerialOf(chain: Outcome, rec: CertRecord | null): string | null {
  return chain[0] && rec !== null && rec.deviceSerial !== null ? rec.deviceSerial : null;
}

/** Builds a decision from the checks: deny when any failing check is enforced as deny. */
function verdict(outcomes: Readonly<Record<CheckCode, Outcome>>, p: EffectivePolicy, serial: string | null, fingerprint: string | null, staleSince: number | null): Decision {
  const reasons: Reason[] = [];
  let first: string | null = null;
  for (const code of CHECKS) {
    const [ok, detail] = outcomes[code];
    const enforce = p.enforce[code];
    reasons.push({ code, ok, detail, enforce });
    if (!ok && enforce === 'deny' && first === null) first = code === 'endpoint-current' && staleSince !== null ? 'stale-endpoint' : code;
  }
  return { decision: first === null ? 'admit' : 'deny', reason: first, reasons, serial, certFingerprint: fingerprint, staleSince: staleSince === null ? null : iso(staleSince) };
}

/** A deny that says only that the decision could not be made (fail closed). */
export function internalErrorDecision(input: Pick<DecisionInput, 'serial' | 'certFingerprint'>, detail: string): Decision {
  return {
    decision: 'deny',
    reason: 'internal-error',
    reasons: [{ code: 'internal-error', ok: false, detail, enforce: 'deny' }],
    serial: input.serial,
    certFingerprint: input.certFingerprint ?? null,
    staleSince: null,
    provenSerial: null,
  };
}

/**
 * Decides one check-in or gateway session. Every check runs; any exception (a store that is
 * down, a bug) becomes a deny with reason `internal-error`.
 */
export async function decide(input: DecisionInput, deps: DecisionDeps): Promise<Decision> {
  try {
    const nowMs = input.now.getTime();
    const issuing = deps.issuing();
    const cert = readCert(input, issuing, deps.leafCache);
    const rec = cert.fingerprint ? await deps.certs.byFingerprint(cert.fingerprint) : null;
    const serial = input.serial ?? rec?.deviceSerial ?? null;
    const device = serial !== null ? await deps.devices.get(serial) : null;
    const policy = deps.policy(device?.owner ?? null);
    const ep = deps.endpoints.status(input.endpoint, input.mainListener === true, nowMs);
    const outcomes: Record<CheckCode, Outcome> = {
      'endpoint-current': endpointCheck(ep, input.endpoint, input.kind),
      'cert-chain': chainCheck(cert, rec, issuing),
      'cert-expiry': expiryCheck(cert, rec, nowMs),
      'cert-revoked': revokedCheck(rec),
      'cert-serial-binding': bindingCheck(rec, input.serial),
      'device-status': deviceCheck(device, serial),
      'source-prefix': prefixCheck(device, input.sourceIp),
      'cells-allowed': cellsCheck(device, input.cellIds),
      'single-session': sessionCheck(deps, input, serial, nowMs),
      'gps-in-site': gpsCheck(device, input, policy),
      'neighbors-consistent': neighborsCheck(device, input, policy),
    };
    const d = verdict(outcomes, policy, serial, cert.fingerprint, ep.state === 'stale' ? ep.staleSince : null);
    d.provenSerial = provenSerialOf(outcomes['cert-chain'], rec);
    return d;
  } catch (e) {
    return internalErrorDecision(input, `decision failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}
