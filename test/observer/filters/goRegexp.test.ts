// Go regular expressions compile to JS RegExps that match what Go would, or are refused.
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
  ])('%j on %j: %s', (pattern, subject, expected) => {
    expect(compileGoRegexp(pattern).test(subject)).toBe(expected);
  });

  it('is not stateful between tests (no g flag)', () => {
    const re = compileGoRegexp('a');
    expect([re.test('a'), re.test('a'), re.test('a')]).toEqual([true, true, true]);
  });

  it.each([
    ['(', /Unterminated group|missing/i],
    ['(a)\\1', /invalid escape sequence: \\1/],
    ['a(?=b)', /lookaround/],
    ['a(?!b)', /lookaround/],
    ['(?<=a)b', /lookaround/],
    ['(?<!a)b', /lookaround/],
    ['\\C', /invalid escape sequence: \\C/],
    ['a{1001}', /invalid repeat count/],
    ['(?U)a+', /ungreedy/],
    ['a(?i)b', /Invalid group/],
    ['[[:foo:]]', /invalid character class range/],
    ['[z-a]', /Range out of order/i],
    ['\\p{NoSuchScript}', /Invalid property name/i],
  ])('refuses %j', (pattern, message) => {
    expect(() => compileGoRegexp(pattern)).toThrow(message);
  });
});
