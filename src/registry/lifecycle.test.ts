import { describe, expect, it } from 'vitest';
import { DEVICE_STATUSES } from './device-input.js';
import { assertTransition, canTransition, TRANSITIONS } from './lifecycle.js';

describe('lifecycle', () => {
  it('ok/the documented transitions are allowed', () => {
    expect(canTransition('provisioned', 'active')).toBe(true);
    expect(canTransition('active', 'suspended')).toBe(true);
    expect(canTransition('suspended', 'active')).toBe(true);
    expect(canTransition('active', 'lost')).toBe(true);
    expect(canTransition('lost', 'provisioned')).toBe(true);
    expect(canTransition('decommissioned', 'provisioned')).toBe(true);
  });

  it('fail/a lost or decommissioned unit never goes straight back to active', () => {
    expect(canTransition('lost', 'active')).toBe(false);
    expect(canTransition('decommissioned', 'active')).toBe(false);
    expect(canTransition('decommissioned', 'suspended')).toBe(false);
    expect(() => assertTransition('X', 'lost', 'active')).toThrow(/cannot go from lost to active; allowed: provisioned, decommissioned/);
  });

  it('fail/no self-transitions, and no status is missing from the table', () => {
    for (const s of DEVICE_STATUSES) {
      expect(TRANSITIONS[s]).toBeDefined();
      expect(canTransition(s, s)).toBe(false);
      expect(() => assertTransition('X', s, s)).toThrow(/already/);
    }
  });
});
