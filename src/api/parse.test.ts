import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { isAppError } from '../core/errors.js';
import { MAX_ISSUES, parseWith } from './parse.js';

const detailOf = (schema: z.ZodType, value: unknown): string => {
  try {
    parseWith(schema, value, 'body');
  } catch (e) {
    if (isAppError(e)) return e.message;
    throw e;
  }
  throw new Error('expected a validation error');
};

describe('parseWith', () => {
  it('ok/names each bad field', () => {
    const d = detailOf(z.strictObject({ a: z.number(), b: z.string() }), { a: 'x', b: 1 });
    expect(d).toMatch(/^body: a: .*; b: /);
  });

  it('fail/an object of 100 000 unknown keys gives a detail of bounded size', () => {
    const huge: Record<string, number> = {};
    for (let i = 0; i < 100_000; i++) huge[`key${i}`] = i;
    const d = detailOf(z.strictObject({ note: z.string().optional() }), huge);
    expect(d).toMatch(/^body: \(root\): Unrecognized keys?: /);
    expect(d.length).toBeLessThan(400);
  });

  it('fail/a Buffer handed to an object schema does not list its bytes', () => {
    const d = detailOf(z.strictObject({ note: z.string().optional() }), Buffer.alloc(1_000_000, 0x41));
    expect(d.length).toBeLessThan(400);
  });

  it('fail/many issues: the first ones named, the rest counted', () => {
    const schema = z.array(z.number());
    const d = detailOf(schema, Array.from({ length: 500 }, () => 'x'));
    expect(d.match(/\[\d+\]: /g)).toHaveLength(MAX_ISSUES);
    expect(d).toMatch(/and 490 more issues$/);
    expect(d.length).toBeLessThan(2000);
  });
});
