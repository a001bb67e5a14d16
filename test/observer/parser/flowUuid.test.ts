// Flow UUIDs as clients read them: RFC 9562 version 4 text, never repeated, and every bit that is not the version or
// the variant random (a mask that clobbered a random bit, or missed the version nibble, shows here).
import { describe, expect, it } from 'vitest';
import { flowUuid } from '../../../src/observer/parser/flowUuid.js';

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const DRAWS = 10_000; // more than the pool holds: it is refilled meanwhile

describe('flow UUIDs', () => {
  it('are version 4 with the RFC variant, all distinct, with the other 122 bits random', () => {
    const seen = new Set<string>();
    const ones = new Array<number>(128).fill(0);
    for (let i = 0; i < DRAWS; i++) {
      const uuid = flowUuid();
      expect(uuid).toMatch(V4);
      seen.add(uuid);
      const hex = uuid.replaceAll('-', '');
      for (let bit = 0; bit < 128; bit++) {
        if ((parseInt(hex[bit >> 2]!, 16) >> (3 - (bit & 3))) & 1) ones[bit]!++;
      }
    }
    expect(seen.size).toBe(DRAWS);
    // Version bits 48-51 are 0100, variant bits 64-65 are 10; every other bit is set in about half the draws.
    const fixed = new Map([
      [48, 0],
      [49, DRAWS],
      [50, 0],
      [51, 0],
      [64, DRAWS],
      [65, 0],
    ]);
    for (let bit = 0; bit < 128; bit++) {
      if (fixed.has(bit)) expect(ones[bit], `bit ${bit}`).toBe(fixed.get(bit));
      else expect(Math.abs(ones[bit]! - DRAWS / 2), `bit ${bit}`).toBeLessThan(DRAWS / 10);
    }
  });
});
