import { describe, expect, it } from 'vitest';
import { detect, device, ev, fp, iso } from '../test-kit.js';

const FP28 = fp('KTF28-cert');
const fleet = [
  device('KTF28', { cellIds: ['45008-200000028'], ipPrefixes: ['175.198.195.0/24'], certFingerprints: [FP28] }),
  device('KTF29', { cellIds: ['45008-200000029'], ipPrefixes: ['175.198.196.0/24'] }),
];
const HOME_IP = '175.198.195.7';
const NEW_HOME_IP = '175.198.195.99';
const CLONE_IP = '121.160.8.8';

describe('credential-shared', () => {
  it('ok/one serial with a second live session from another address: critical, with both addresses', () => {
    const r = detect(fleet, [
      ev.session(0, { serial: 'KTF28', sourceIp: HOME_IP, sessionId: 'a' }),
      ev.report(20, { serial: 'KTF28', sourceIp: HOME_IP }),
      ev.session(30, { serial: 'KTF28', sourceIp: CLONE_IP, sessionId: 'b', id: 'clone-up' }),
    ]);
    const a = r.one('credential-shared');
    expect(a).toMatchObject({ rule: 'credential-shared', severity: 'critical', serial: 'KTF28', ts: iso(30) });
    expect(a.evidence).toMatchObject({ kind: 'concurrent-sessions', sourceIp: CLONE_IP, otherSourceIp: HOME_IP, otherSessionUp: iso(0), otherLastSeen: iso(20), eventId: 'clone-up' });
  });

  it('ok/without session ids the address is the session key', () => {
    const r = detect(fleet, [ev.session(0, { serial: 'KTF28', sourceIp: HOME_IP }), ev.session(5, { serial: 'KTF28', sourceIp: CLONE_IP })]);
    expect(r.one('credential-shared').evidence).toMatchObject({ otherSourceIp: HOME_IP });
  });

  it('ok/a registered certificate presented by another serial', () => {
    const r = detect(fleet, [ev.session(4, { serial: 'KTF29', sourceIp: '175.198.196.5', certFingerprint: FP28 })]);
    expect(r.one('credential-shared')).toMatchObject({ serial: 'KTF29', ts: iso(4), evidence: { kind: 'certificate', certFingerprint: FP28, otherSerial: 'KTF28' } });
  });

  it('ok/the summaries quote the fingerprint (its first 16 digits), the serials and the addresses', () => {
    const cert = detect(fleet, [ev.session(4, { serial: 'KTF29', sourceIp: '175.198.196.5', certFingerprint: FP28 })]).one('credential-shared');
    expect(cert.summary).toBe(`Certificate "${FP28.slice(0, 16)}"… of "KTF28" was presented by "KTF29": one credential, two devices. Revoke it and re-enroll both with their own keys.`);
    const twice = detect(fleet, [ev.session(0, { serial: 'KTF28', sourceIp: HOME_IP }), ev.session(5, { serial: 'KTF28', sourceIp: CLONE_IP })]).one('credential-shared');
    expect(twice.summary).toMatch(new RegExp(`^"KTF28" brought a session up from "${CLONE_IP}" while its session from "${HOME_IP}" is still live:`));
  });

  it('ok/an unregistered certificate first seen with one serial, then with another', () => {
    const f = fp('never-registered');
    const r = detect(fleet, [
      ev.session(1, { serial: 'KTF29', sourceIp: '175.198.196.5', certFingerprint: f }),
      ev.session(2, { serial: 'KTF28', sourceIp: HOME_IP, certFingerprint: f }),
    ]);
    expect(r.one('credential-shared')).toMatchObject({ serial: 'KTF28', ts: iso(2), evidence: { kind: 'certificate', otherSerial: 'KTF29' } });
  });

  it('fail/a reboot: down, then up from a new address in the prefix', () => {
    const r = detect(fleet, [
      ev.session(0, { serial: 'KTF28', sourceIp: HOME_IP, sessionId: 'a', certFingerprint: FP28 }),
      ev.report(10, { serial: 'KTF28', sourceIp: HOME_IP }),
      ev.down(11, { serial: 'KTF28', sourceIp: HOME_IP, sessionId: 'a' }),
      ev.session(12, { serial: 'KTF28', sourceIp: NEW_HOME_IP, sessionId: 'b', certFingerprint: FP28 }),
    ]);
    expect(r.alerts).toEqual([]);
  });

  it('fail/a reboot reported without session ids', () => {
    const r = detect(fleet, [
      ev.session(0, { serial: 'KTF28', sourceIp: HOME_IP }),
      ev.down(11, { serial: 'KTF28', sourceIp: HOME_IP }),
      ev.session(12, { serial: 'KTF28', sourceIp: NEW_HOME_IP }),
    ]);
    expect(r.alerts).toEqual([]);
  });

  it('fail/a crashed session (no down, no session id) whose address went silent longer than sessionLivenessMs', () => {
    const events = [
      ev.session(0, { serial: 'KTF28', sourceIp: HOME_IP }),
      ev.report(10, { serial: 'KTF28', sourceIp: HOME_IP }),
      // 46 minutes of silence from HOME_IP, then the unit comes back on a new address.
      ev.session(56, { serial: 'KTF28', sourceIp: NEW_HOME_IP }),
    ];
    expect(detect(fleet, events).alerts).toEqual([]);
    // The same stream with a longer liveness: the old session still counts (the threshold is read).
    expect(detect(fleet, events, { rules: { 'credential-shared': { sessionLivenessMs: 60 * 60_000 } } }).one('credential-shared').ts).toBe(iso(56));
  });

  it('ok/a gateway session (with a session id) silent longer than sessionLivenessMs is live until its down', () => {
    const events = [
      ev.session(0, { serial: 'KTF28', sourceIp: HOME_IP, sessionId: 'a' }),
      ev.report(10, { serial: 'KTF28', sourceIp: HOME_IP }),
      // The gateway sent no `down` for "a": it is still up, so this is a second device.
      ev.session(56, { serial: 'KTF28', sourceIp: CLONE_IP, sessionId: 'b' }),
    ];
    expect(detect(fleet, events).one('credential-shared')).toMatchObject({ ts: iso(56), evidence: { otherSourceIp: HOME_IP, otherLastSeen: iso(10) } });
  });

  it('fail/a gateway session whose down was lost counts no longer than gatewaySessionMaxMs after its address was last seen', () => {
    const events = [
      ev.session(0, { serial: 'KTF28', sourceIp: HOME_IP, sessionId: 'a' }),
      ev.report(10, { serial: 'KTF28', sourceIp: HOME_IP }),
      ev.session(24 * 60 + 11, { serial: 'KTF28', sourceIp: NEW_HOME_IP, sessionId: 'b' }),
    ];
    expect(detect(fleet, events).of('credential-shared')).toEqual([]);
    expect(detect(fleet, events, { rules: { 'credential-shared': { gatewaySessionMaxMs: 25 * 60 * 60_000 } } }).one('credential-shared').ts).toBe(iso(24 * 60 + 11));
  });

  it('fail/the same session repeated from the same address, and the own certificate', () => {
    const r = detect(fleet, [
      ev.session(0, { serial: 'KTF28', sourceIp: HOME_IP, sessionId: 'a', certFingerprint: FP28 }),
      ev.session(5, { serial: 'KTF28', sourceIp: HOME_IP, sessionId: 'b', certFingerprint: FP28 }),
      ev.session(6, { serial: 'KTF29', sourceIp: HOME_IP }),
    ]);
    expect(r.of('credential-shared')).toEqual([]);
  });

  it('fail/sessions of two different serials from one address (a shared NAT) are not one credential', () => {
    const r = detect(fleet, [ev.session(0, { serial: 'KTF28', sourceIp: HOME_IP }), ev.session(1, { serial: 'KTF29', sourceIp: HOME_IP })]);
    expect(r.of('credential-shared')).toEqual([]);
  });
});
