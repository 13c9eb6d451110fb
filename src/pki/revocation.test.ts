/**
 * The revocation core refuses what is no revocation reason, for every caller: removeFromCRL
 * (RFC 5280 §5.3.1: delta CRLs only; in a full CRL it un-revokes for OpenSSL) and codes the
 * RFC does not assign. A refusal changes nothing: no row, no audit event, no change event.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAppError } from '../core/errors.js';
import { issueDeviceCert, startTestServer, type TestServer } from '../../test/helpers/server.js';
import { CRL_REASONS } from './crl.js';
import { checkRevocationReason } from './revocation.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => t?.stop());

const enrolled = (serial: string): Promise<string> => issueDeviceCert(t, serial);

async function codeOf(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => 'success',
    (e: unknown) => (isAppError(e) ? `${e.kind}/${e.code}` : e),
  );
}

describe('revocation reasons', () => {
  it('fail/revokeDevice and revokeCertificate refuse removeFromCRL as invalid crl.bad_reason and change nothing', async () => {
    const rev = t.srv.base.revocation;
    const serialHex = await enrolled('RR-8');
    const changes: string[] = [];
    const off = rev.onChange((s) => changes.push(...s));
    const audits = (await t.srv.base.stores.audit.list({ action: 'cert.revoked' })).length;
    expect(await codeOf(rev.revokeDevice('RR-8', CRL_REASONS.removeFromCRL, 'test'))).toBe('invalid/crl.bad_reason');
    expect(await codeOf(rev.revokeCertificate(serialHex, CRL_REASONS.removeFromCRL, 'test'))).toBe('invalid/crl.bad_reason');
    off();
    expect(await t.srv.base.stores.certs.get(serialHex)).toMatchObject({ status: 'valid', reason: null });
    expect((await t.srv.base.stores.audit.list({ action: 'cert.revoked' })).length).toBe(audits);
    expect(changes).toEqual([]);
  });

  it('fail/unassigned codes (7, 11, -1, 1.5) are refused too', async () => {
    const rev = t.srv.base.revocation;
    const serialHex = await enrolled('RR-BAD');
    for (const code of [7, 11, -1, 1.5]) {
      expect(await codeOf(rev.revokeDevice('RR-BAD', code, 'test')), String(code)).toBe('invalid/crl.bad_reason');
      expect(await codeOf(rev.revokeCertificate(serialHex, code, 'test')), String(code)).toBe('invalid/crl.bad_reason');
    }
    expect(await t.srv.base.stores.certs.get(serialHex)).toMatchObject({ status: 'valid' });
  });

  it('fail/the refusal says why and what to do instead', () => {
    expect(() => checkRevocationReason(CRL_REASONS.removeFromCRL)).toThrow(/removeFromCRL is not a revocation reason.*reactivate the device/);
  });

  it('ok/every assigned reason but removeFromCRL passes the check; keyCompromise revokes', async () => {
    for (const code of Object.values(CRL_REASONS)) {
      if (code !== CRL_REASONS.removeFromCRL) expect(() => checkRevocationReason(code)).not.toThrow();
    }
    const serialHex = await enrolled('RR-1');
    expect(await t.srv.base.revocation.revokeDevice('RR-1', CRL_REASONS.keyCompromise, 'test')).toEqual([serialHex]);
    expect(await t.srv.base.stores.certs.get(serialHex)).toMatchObject({ status: 'revoked', reason: CRL_REASONS.keyCompromise });
  });
});
