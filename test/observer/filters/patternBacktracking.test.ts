// FQDN and node-name patterns full of stars (found by test/fuzz/apiRequests.test.ts: "*a*a*a*a*a*a*a*a*b" held the
// server for more than 20 s on one 52-character DNS name, as V8's backtracking matcher tried every split). They are
// matched by RE2 now, as Go matches upstream's patterns: in time linear in the name.
import { describe, expect, it } from 'vitest';
import { compileFqdnPatterns, compileNodeNamePatterns } from '../../../src/observer/filters/patterns.js';

const stars = (n: number) => `${'*a'.repeat(n)}*b`;
const name = `${'a'.repeat(200)}.example.com`;

describe('wildcard patterns of many stars', () => {
  it('match or fail a long FQDN in linear time', () => {
    const t0 = performance.now();
    expect(compileFqdnPatterns([stars(25)]).test(name)).toBe(false);
    expect(compileFqdnPatterns([`${'*a'.repeat(25)}*`]).test(name)).toBe(true);
    expect(compileFqdnPatterns(['*.example.com']).test(name)).toBe(true);
    expect(performance.now() - t0).toBeLessThan(500);
  });

  it('match or fail a long node name in linear time', () => {
    const t0 = performance.now();
    expect(compileNodeNamePatterns([`${stars(25)}/${stars(25)}`]).test(`${name}/${name}`)).toBe(false);
    expect(compileNodeNamePatterns([`*/${'*a'.repeat(25)}*`]).test(`default/${name}`)).toBe(true);
    expect(performance.now() - t0).toBeLessThan(500);
  });
});
