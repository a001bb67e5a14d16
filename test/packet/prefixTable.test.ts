import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ParsedAddr, Prefix } from '../../src/packet/ipAddress.js';
import { PrefixTable } from '../../src/packet/prefixTable.js';

function addr(family: 4 | 6, bytes: Uint8Array): ParsedAddr {
  const a = new ParsedAddr();
  a.family = family;
  a.bytes.set(bytes.subarray(0, family === 4 ? 4 : 16));
  return a;
}

describe('PrefixTable', () => {
  it('finds the longest prefix holding an address, and offers every one, as a scan of every prefix would', () => {
    // Prefixes and addresses grow from a few shared starting points, so prefixes nest and addresses often fall inside
    // several of them, or just outside.
    const start = fc.tuple(fc.constantFrom<4 | 6>(4, 6), fc.uint8Array({ minLength: 16, maxLength: 16 }));
    fc.assert(
      fc.property(
        fc.array(start, { minLength: 1, maxLength: 4 }),
        fc.array(fc.tuple(fc.nat(), fc.nat(128)), { maxLength: 30 }),
        fc.array(fc.tuple(fc.nat(), fc.nat(127), fc.uint8Array({ minLength: 16, maxLength: 16 })), { maxLength: 30 }),
        (starts, prefixPicks, addressPicks) => {
          const table = new PrefixTable<Prefix>();
          const prefixes = prefixPicks.map(([i, bits]) => {
            const [family, bytes] = starts[i % starts.length]!;
            return new Prefix(addr(family, bytes), family === 4 ? bits % 33 : bits);
          });
          for (const p of prefixes) table.add(p, p);
          for (const [i, keep, tail] of addressPicks) {
            // The starting point's first `keep` bits, then other bits.
            const [family, bytes] = starts[i % starts.length]!;
            const mixed = Uint8Array.from(bytes, (x, j) => {
              const own = Math.max(0, Math.min(8, keep - 8 * j));
              const mask = (0xff << (8 - own)) & 0xff;
              return (x & mask) | (tail[j]! & ~mask);
            });
            const a = addr(family, mixed);
            let best: Prefix | undefined;
            for (const p of prefixes) if (p.contains(a) && (best === undefined || p.bits > best.bits)) best = p;
            expect(table.lookup(a)?.text).toBe(best?.text);
            // Every prefix holding the address is offered, longest first, and nothing else.
            const offered: Prefix[] = [];
            expect(table.someContaining(a, (p) => (offered.push(p), false))).toBe(false);
            const bits = offered.map((p) => p.bits);
            expect(bits).toEqual([...bits].sort((x, y) => y - x));
            const holding = [...new Set(prefixes.filter((p) => p.contains(a)).map((p) => p.text))];
            expect(offered.map((p) => p.text).sort()).toEqual(holding.sort());
            expect(table.someContaining(a, () => true)).toBe(holding.length > 0);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('keeps the first value given for a prefix, and never puts a zoned address in one', () => {
    const table = new PrefixTable<string>();
    const a = addr(6, new Uint8Array(16).fill(0xfe, 0, 1));
    expect(table.add(new Prefix(a, 8), 'first')).toBeUndefined();
    expect(table.add(new Prefix(a, 8), 'second')).toBe('first');
    expect(table.size).toBe(1);
    expect(table.lookup(a)).toBe('first');
    a.zoned = true;
    expect(table.lookup(a)).toBeUndefined();
  });
});
