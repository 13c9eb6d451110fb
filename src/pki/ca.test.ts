import { describe, expect, it } from 'vitest';
import { openSqlite, sqliteAuditStore, sqliteCertStore } from '../adapters/sqlite/index.js';
import { fixedClock } from '../core/clock.js';
import { initCa, renewalDue, renewOcspResponder, unlockCa, type CaSettings } from './ca.js';

const DAY = 86_400_000;
const s: CaSettings = { keyAlgorithm: 'P-256', name: 't', rootValidityDays: 3650, issuingValidityDays: 1825, responderValidityDays: 90 };
const PASS = 'ca-test-passphrase-123';

async function setup() {
  const db = openSqlite(':memory:');
  const deps = { store: sqliteCertStore(db), audit: sqliteAuditStore(db), clock: fixedClock(new Date('2026-01-01T00:00:00Z')) };
  const ca = await initCa(deps, s, PASS, 'test');
  return { deps, ca };
}

describe('OCSP responder renewal while running', () => {
  it('ok/nothing before the last third; a new stored responder after it, audited, and unlock finds it', async () => {
    const { deps, ca } = await setup();
    deps.clock.advance(59 * DAY);
    expect(renewalDue(ca.responder, deps.clock.now())).toBe(false);
    expect(await renewOcspResponder(deps, s, ca, PASS)).toBeNull();
    deps.clock.advance(2 * DAY);
    const next = await renewOcspResponder(deps, s, ca, PASS);
    expect(next).not.toBeNull();
    expect(next!.responder.serialHex).not.toBe(ca.responder.serialHex);
    expect(next!.responder.notAfter.getTime()).toBe(deps.clock.now().getTime() + 90 * DAY);
    expect(next!.responderSigner.publicKeySpki.equals(next!.responder.spki)).toBe(true);
    expect(next!.issuingSigner).toBe(ca.issuingSigner);
    const again = await unlockCa(deps, s, PASS);
    expect(again.responder.serialHex).toBe(next!.responder.serialHex);
    expect((await deps.audit.list({ action: 'ca.ocsp_responder_renewed' }))[0]?.details).toMatchObject({ previous: ca.responder.serialHex });
  });

  it('ok/a responder already renewed in the store (another node) is adopted, not replaced', async () => {
    const { deps, ca } = await setup();
    deps.clock.advance(70 * DAY);
    const other = await unlockCa(deps, s, PASS); // renews at unlock, as a second node would
    const adopted = await renewOcspResponder(deps, s, ca, PASS);
    expect(adopted?.responder.serialHex).toBe(other.responder.serialHex);
    expect(await deps.audit.list({ action: 'ca.ocsp_responder_renewed' })).toHaveLength(1);
  });

  it('fail/a wrong passphrase fails the renewal with the usual error and leaves the stored responder', async () => {
    const { deps, ca } = await setup();
    deps.clock.advance(70 * DAY);
    const before = (await deps.store.loadCaMaterial()).find((m) => m.name === 'ocsp')!.certDer;
    await expect(renewOcspResponder(deps, s, ca, 'short')).rejects.toMatchObject({ code: 'ca.passphrase_too_short' });
    expect((await deps.store.loadCaMaterial()).find((m) => m.name === 'ocsp')!.certDer.equals(before)).toBe(true);
  });
});
