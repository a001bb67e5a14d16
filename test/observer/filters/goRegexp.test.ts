// Go regular expressions match what Go would match, are refused with Go's reason, and never backtrack.
import { describe, expect, it } from 'vitest';
import { compileGoRegexp } from '../../../src/observer/filters/goRegexp.js';

describe('compileGoRegexp', () => {
  it.each([
    ['abc', 'xxabcxx', true],
    ['^/api/v[0-9]+/', '/api/v2/users', true],
    ['(?i)^GET$', 'get', true],
    ['(?s)a.b', 'a\nb', true],
    ['a.b', 'a\nb', false],
    ['(?m)^b$', 'a\nb\nc', true],
    ['(?P<version>v[0-9]+)', 'v12', true],
    ['\\Aabc\\z', 'abc', true],
    ['\\Aabc\\z', 'abc\n', false],
    ['\\Q.*+\\E$', 'a.*+', true],
    ['\\Q.*+\\E', 'aaa', false],
    ['^\\Qa-b\\E$', 'a-b', true],
    ['^[[:digit:]]+$', '12345', true],
    ['^[[:alpha:][:digit:]_]+$', 'ab_12', true],
    ['^[[:alpha:]]+$', 'ab1', false],
    ['\\pL+', 'héllo', true],
    ['^\\p{Greek}+$', 'αβγ', true],
    ['^\\PL+$', '123', true],
    ['^\\s$', '\t', true],
    ['^\\s$', '\v', false],
    ['\\-', 'a-b', true],
    ['[]a]', ']', true],
    ['[^]a]', 'b', true],
    ['a{2,3}', 'aaa', true],
    ['x{', 'x{', true],
    ['a(?i)b', 'aB', true],
    ['(?U)a+', 'aaa', true],
  ])('%j on %j: %s', (pattern, subject, expected) => {
    expect(compileGoRegexp(pattern).test(subject)).toBe(expected);
  });

  it('is not stateful between tests (no g flag)', () => {
    const re = compileGoRegexp('a');
    expect([re.test('a'), re.test('a'), re.test('a')]).toEqual([true, true, true]);
  });

  it.each([
    ['(', /missing closing \)/],
    ['(a)\\1', /invalid escape sequence: `\\1`/],
    ['a(?=b)', /invalid or unsupported Perl syntax/],
    ['(?<=a)b', /invalid named capture/],
    ['\\C', /invalid escape sequence: `\\C`/],
    ['a{1001}', /invalid repeat count/],
    ['[[:foo:]]', /invalid character class range/],
    ['[z-a]', /invalid character class range/],
    ['\\p{NoSuchScript}', /invalid character class range/],
  ])('refuses %j', (pattern, message) => {
    expect(() => compileGoRegexp(pattern)).toThrow(message);
  });

  it('matches a pattern that makes backtracking engines explode in linear time', () => {
    const re = compileGoRegexp('^(a+)+$');
    const start = performance.now();
    expect(re.test('a'.repeat(20_000) + 'b')).toBe(false);
    // A backtracking engine takes longer than the age of the universe here; RE2 takes milliseconds.
    expect(performance.now() - start).toBeLessThan(2_000);
  });
});
