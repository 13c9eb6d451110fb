import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { signWebhook } from './webhook.js';

describe('webhook signature', () => {
  it('ok/matches an HMAC-SHA256 computed by openssl over "<t>.<body>"', () => {
    const body = '{"type":"alert.raised","alert":{"id":"al_1"}}';
    const sig = signWebhook('s3cr3t-s3cr3t-s3cr3t', body, 1700000000);
    const hex = execFileSync('openssl', ['dgst', '-sha256', '-hmac', 's3cr3t-s3cr3t-s3cr3t', '-r'], { input: `1700000000.${body}` }).toString().split(' ')[0];
    expect(sig).toBe(`t=1700000000,v1=${hex}`);
  });
  it('fail/a different secret or body gives a different signature', () => {
    const a = signWebhook('secret-one-secret-one', 'x', 1);
    expect(signWebhook('secret-two-secret-two', 'x', 1)).not.toBe(a);
    expect(signWebhook('secret-one-secret-one', 'y', 1)).not.toBe(a);
  });
});
