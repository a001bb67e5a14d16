// Rule ids: leased from 1..65534, released for reuse, none left means none.
import { describe, expect, it } from 'vitest';
import { MAX_RULE_ID, MIN_RULE_ID, RuleIdPool } from '../../src/recorder/ruleIds.js';

describe('RuleIdPool', () => {
  it("leases every id of Hubble's range once, then none", () => {
    const pool = new RuleIdPool();
    const ids = new Set<number>();
    for (let i = 0; i < MAX_RULE_ID; i++) ids.add(pool.lease()!);
    expect(ids.size).toBe(MAX_RULE_ID);
    expect(Math.min(...ids)).toBe(MIN_RULE_ID);
    expect(Math.max(...ids)).toBe(MAX_RULE_ID);
    expect(pool.lease()).toBeUndefined();
  });

  it('hands a released id out again, after the others', () => {
    const pool = new RuleIdPool(1, 3);
    expect([pool.lease(), pool.lease()]).toEqual([1, 2]);
    pool.release(1);
    expect(pool.lease()).toBe(3);
    expect(pool.lease()).toBe(1);
    expect(pool.lease()).toBeUndefined();
    expect(pool.leased).toBe(3);
  });

  it.each([
    [0, 5],
    [1, 65535],
    [5, 4],
  ])('refuses the range %i..%i', (min, max) => {
    expect(() => new RuleIdPool(min, max)).toThrow(RangeError);
  });
});
