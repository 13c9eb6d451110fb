/**
 * What EST keeps of request-supplied strings, seen by curl clients and a viewer reading the
 * audit log over HTTP: an enrollment token sent in the wrong HTTP Basic field is never
 * recorded (anywhere in the data directory) and is spent; a CSR serial that no registry could
 * hold is refused without being echoed or audited; a vendor certificate's subject is capped.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCsr, OID } from '../../src/pki/index.js';
import { addDevice, cli, curlRequest, enroll, est, expectRefused, makeCsr, makeKey, newToken, run, storeTrace } from '../helpers/est-client.js';
import { requireTool } from '../helpers/run.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
let viewer: string;
beforeAll(async () => {
  requireTool('openssl', 'openssl');
  requireTool('curl', 'curl');
  t = await startTestServer({ est: { maxFailedAttempts: 1000 } });
  viewer = (await t.srv.base.tokens.create('viewer', 'test')).token;
});
afterAll(async () => t?.stop());

interface AuditItem {
  action: string;
  subject: string;
  outcome: string;
  details: Record<string, unknown>;
}

/** The audit log as a viewer reads it: GET /v1/audit with curl. Returns the raw body and its items. */
async function viewerAudit(query: string): Promise<{ raw: string; items: AuditItem[] }> {
  const r = await curlRequest(t.work, ['-H', `Authorization: Bearer ${viewer}`, `${t.http}/v1/audit?${query}`]);
  expect(r.status, r.body).toBe(200);
  const raw = r.bodyBytes.toString('utf8');
  return { raw, items: (JSON.parse(raw) as { items: AuditItem[] }).items };
}

/** Every file of the data directory (database, WAL, logs) that contains `needle`. */
function filesHolding(needle: string): string[] {
  const hits: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && readFileSync(p).includes(needle)) hits.push(p);
    }
  };
  walk(t.dataDir);
  return hits;
}

const sha8 = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 8);

describe('EST: an enrollment token in the HTTP Basic user field', () => {
  it('fail/swapped fields are refused, the token is in no audit event nor any data file, and it is spent', async () => {
    const serial = 'SEC-SWAP-1';
    await addDevice(t, serial);
    const token = await newToken(t, serial);
    const csr = await makeCsr(t.work, serial);

    // curl -u "$TOKEN:$SERIAL": the installer swapped the fields.
    const r = await enroll(t, token, serial, csr);
    expectRefused(r, 403, 'est.serial_mismatch', /token was sent as the user.*now spent/);
    expect(r.body).not.toContain(token);

    const { raw, items } = await viewerAudit(`subject=${serial}`);
    expect(raw).not.toContain(token);
    const refusal = items.find((i) => i.action === 'est.enroll');
    expect(refusal).toMatchObject({ outcome: 'denied', details: { code: 'est.serial_mismatch', tokenSpent: true, basicUser: { length: token.length, looksLike: 'enrollment-token', sha256Prefix: sha8(token) } } });
    expect(refusal?.details).not.toHaveProperty('user');
    expect(items.find((i) => i.action === 'est.token_exposed')).toMatchObject({ outcome: 'success', details: { field: 'basic-user', tokenSpent: true } });
    expect(filesHolding(token)).toEqual([]);

    // Whoever saw it (a proxy's access log records the user) cannot enroll the device with it.
    expectRefused(await enroll(t, serial, token, csr), 401, 'est.token_used');
    // The device enrolls with a new token, sent the right way round.
    expect((await enroll(t, serial, await newToken(t, serial), csr)).status).toBe(200);
  });

  it('fail/a user that is no token (another serial) is described, not recorded, and the real token stays good', async () => {
    const [serial, other] = ['SEC-SWAP-2', 'SEC-SWAP-OTHER'];
    await addDevice(t, serial);
    const token = await newToken(t, serial);
    const csr = await makeCsr(t.work, serial);
    const before = await storeTrace(t, [serial]);

    const r = await enroll(t, other, token, csr);
    expectRefused(r, 403, 'est.serial_mismatch', /user must be the serial named in the CSR/);
    expect(r.body).not.toMatch(/spent/);
    expect(await storeTrace(t, [serial])).toEqual(before); // nothing spent

    const { raw, items } = await viewerAudit(`subject=${serial}&action=est.enroll`);
    expect(raw).not.toContain(token);
    expect(raw).not.toContain(other);
    expect(items).toMatchObject([{ details: { basicUser: { length: other.length, looksLike: 'serial', sha256Prefix: sha8(other) } } }]);
    expect(items[0]?.details).not.toHaveProperty('tokenSpent');
    expect((await enroll(t, serial, token, csr)).status).toBe(200);
  });

  it("fail/another device's token in the user field is not recorded either", async () => {
    const [serial, other] = ['SEC-SWAP-3', 'SEC-SWAP-3B'];
    await addDevice(t, serial);
    await addDevice(t, other);
    const otherToken = await newToken(t, other);
    expectRefused(await enroll(t, otherToken, serial, await makeCsr(t.work, serial)), 403, 'est.serial_mismatch');
    const { raw, items } = await viewerAudit(`subject=${serial}&action=est.enroll`);
    expect(raw).not.toContain(otherToken);
    expect(items).toMatchObject([{ details: { basicUser: { looksLike: 'enrollment-token' } } }]);
    expect(filesHolding(otherToken)).toEqual([]);
  });
});

describe('EST: request-supplied text kept out of audit details and answers', () => {
  it('fail/a CSR serial no registry could hold (300 characters with a newline, a space) is a 400 that neither echoes nor audits it', async () => {
    // openssl caps CN and serialNumber at 64 characters: the long one is built in DER directly.
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const long = `SEC-${'L'.repeat(150)}\nforged line ${'M'.repeat(150)}`;
    const longCsr = join(t.work, 'long-serial.b64');
    writeFileSync(longCsr, buildCsr({ privateKey, subject: [{ type: OID.commonName, value: long }] }).toString('base64'));
    const spaced = await makeCsr(t.work, 'SEC-BAD', { subj: '/serialNumber=SEC BAD/CN=SEC BAD' });
    for (const [bad, bodyPath] of [[long, longCsr], ['SEC BAD', spaced.b64Path]] as const) {
      const r = await est(t, 'simpleenroll', { basic: { user: bad, password: 'whatever-token' }, bodyPath });
      expectRefused(r, 400, 'est.csr_bad_serial', /must be 1\.\.64 characters/);
      expect(r.body).not.toContain(bad.slice(0, 20));
      const { raw } = await viewerAudit('action=est.enroll&limit=1000');
      expect(raw).not.toContain(bad.slice(0, 20));
    }
  });

  it('fail/a vendor certificate with a long subject naming another serial is audited with its subject capped', async () => {
    const ext = join(t.work, 'long-ext.cnf');
    writeFileSync(ext, '[ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign\n[leaf]\nbasicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n');
    const rootKey = await makeKey(t.work, 'long-root');
    const rootPem = join(t.work, 'long-root.pem');
    const openssl = (args: string[]): Promise<void> => run('openssl', args).then((x) => expect(x.status, x.stderr).toBe(0));
    await openssl(['req', '-x509', '-new', '-key', rootKey, '-subj', '/O=Long/CN=Long Factory Root', '-days', '30', '-config', ext, '-extensions', 'ca', '-out', rootPem]);
    expect((await cli(['vendor-root', 'add', rootPem], t.env)).status).toBe(0);
    const key = await makeKey(t.work, 'long-dev');
    const subj = `${Array.from({ length: 6 }, (_, i) => `/OU=${String(i).repeat(60)}`).join('')}/CN=SEC-SOMEONE-ELSE`;
    await openssl(['req', '-new', '-key', key, '-subj', subj, '-out', join(t.work, 'long-dev.csr')]);
    const cert = join(t.work, 'long-dev.pem');
    await openssl(['x509', '-req', '-in', join(t.work, 'long-dev.csr'), '-CA', rootPem, '-CAkey', rootKey, '-days', '30', '-set_serial', '7', '-extfile', ext, '-extensions', 'leaf', '-out', cert]);

    const serial = 'SEC-VENDOR-1';
    await addDevice(t, serial);
    const r = await est(t, 'simpleenroll', { cert, key, bodyPath: (await makeCsr(t.work, serial)).b64Path });
    expectRefused(r, 403, 'est.vendor_cert_serial_mismatch');
    const { items } = await viewerAudit(`subject=${serial}&action=est.enroll`);
    const shown = items[0]?.details.vendorSubject;
    expect(typeof shown).toBe('string');
    expect((shown as string).length).toBeLessThanOrEqual(201);
    expect(shown).toContain('0'.repeat(60));
    expect(shown).toMatch(/…$/);
  });
});
