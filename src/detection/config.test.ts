/**
 * The detection config is strict at every level: a misspelt key is refused with its path when
 * the config is read, instead of leaving the threshold it meant at its default.
 */
import { describe, expect, it } from 'vitest';
import { detectionConfigSchema } from './config.js';

const issues = (input: unknown): string[] => {
  const r = detectionConfigSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.code} ${'keys' in i ? (i.keys as string[]).join(',') : ''}`.trim());
};

describe('detection config', () => {
  it('ok/the defaults, and a config naming known keys only', () => {
    expect(issues({})).toEqual([]);
    expect(issues({ dryRun: true, rules: { 'subscriber-surge': { homeCellMax: 20, responses: { quarantine: true } } } })).toEqual([]);
  });

  it('fail/an unknown key is refused with its path, at the top, in a rule, in its responses and in a list item', () => {
    expect(issues({ bogus: 1 })).toEqual([': unrecognized_keys bogus']);
    expect(issues({ rules: { 'subscriber-surge': { homeCellMaxx: 20 } } })).toEqual(['rules.subscriber-surge: unrecognized_keys homeCellMaxx']);
    expect(issues({ rules: { 'no-such-rule': {} } })).toEqual(['rules: unrecognized_keys no-such-rule']);
    expect(issues({ rules: { 'credential-shared': { responses: { quarantin: true } } } })).toEqual(['rules.credential-shared.responses: unrecognized_keys quarantin']);
    expect(issues({ alertRetention: { idle: 5 } })).toEqual(['alertRetention: unrecognized_keys idle']);
    expect(issues({ rules: { 'stale-endpoint': { retired: [{ endpoint: 'a:1', retiredAt: '2025-01-01T00:00:00Z', when: 1 }] } } })).toEqual(['rules.stale-endpoint.retired.0: unrecognized_keys when']);
  });
});
