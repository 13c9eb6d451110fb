import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sqliteStores } from '../adapters/sqlite/index.js';
import { fixedClock } from '../core/clock.js';
import { isAppError } from '../core/errors.js';
import { createTokenService } from './tokens.js';

const open: { close(): void }[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

function service() {
  const stores = sqliteStores(join(mkdtempSync(join(tmpdir(), 'fg-tokens-')), 'db.sqlite'));
  open.push(stores);
  const clock = fixedClock(new Date('2026-03-01T00:00:00Z'));
  return { stores, clock, tokens: createTokenService({ store: stores.tokens, audit: stores.audit, clock }) };
}

describe('API token expiry', () => {
  it('ok/a token with a lifetime is valid until its expiry, then refused as expired (not as unknown)', async () => {
    const { tokens, clock } = service();
    const { token, record } = await tokens.create('viewer', 'test', 'console', { ttlSeconds: 3600 });
    expect(record.expiresAt).toBe('2026-03-01T01:00:00.000Z');
    expect(await tokens.verify(token)).toEqual({ tokenId: record.id, role: 'viewer' });
    clock.advance(3600_000 - 1);
    expect((await tokens.check(token)).ok).toBe(true);
    clock.advance(1);
    expect(await tokens.check(token)).toEqual({ ok: false, reason: 'auth.expired_token' });
    expect(await tokens.verify(token)).toBeNull();
  });

  it('ok/a token without a lifetime stays valid; the expiry is stored, listed and audited', async () => {
    const { tokens, clock, stores } = service();
    const forever = await tokens.create('operator', 'test');
    const day = await tokens.create('ingest', 'test', 'gw', { ttlSeconds: 86_400 });
    clock.advance(400 * 86_400_000);
    expect((await tokens.check(forever.token)).ok).toBe(true);
    expect((await tokens.check(day.token)).ok).toBe(false);
    const listed = await tokens.list();
    expect(listed.map((t) => [t.id, t.expiresAt])).toEqual([
      [forever.record.id, null],
      [day.record.id, '2026-03-02T00:00:00.000Z'],
    ]);
    const created = (await stores.audit.list({ action: 'token.created', limit: 10 })).map((e) => e.details?.expiresAt);
    expect(created.sort()).toEqual(['2026-03-02T00:00:00.000Z', null].sort());
  });

  it('fail/a revoked token is invalid, whatever its expiry; a malformed one too', async () => {
    const { tokens } = service();
    const t = await tokens.create('viewer', 'test', undefined, { ttlSeconds: 3600 });
    await tokens.revoke(t.record.id, 'test');
    expect(await tokens.check(t.token)).toEqual({ ok: false, reason: 'auth.invalid_token' });
    expect(await tokens.check('fgt_nope')).toEqual({ ok: false, reason: 'auth.invalid_token' });
  });

  it('fail/lifetimes under a minute, over ten years, or not whole seconds are refused, and no token is made', async () => {
    const { tokens } = service();
    for (const ttlSeconds of [0, 59, 1.5, 10 * 365 * 86_400 + 1, Number.NaN]) {
      const err = await tokens.create('viewer', 'test', undefined, { ttlSeconds }).catch((e: unknown) => e);
      expect(isAppError(err) && err.code).toBe('token.bad_ttl');
    }
    expect(await tokens.list()).toEqual([]);
  });

  it('fail/an expiry that does not read as a time fails closed', async () => {
    const { tokens, stores } = service();
    const t = await tokens.create('viewer', 'test', undefined, { ttlSeconds: 3600 });
    stores.db.prepare('UPDATE api_tokens SET expires_at = ? WHERE id = ?').run('soon', t.record.id);
    expect(await tokens.check(t.token)).toEqual({ ok: false, reason: 'auth.expired_token' });
  });
});
