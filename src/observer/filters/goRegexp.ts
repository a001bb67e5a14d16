// Go (RE2) regular expressions as clients send them in dns_query, http_path and http_url, matched the way Go matches
// them: @bufbuild/re2 implements RE2's syntax and its linear-time matching, so a filter means exactly what it means to
// upstream Hubble, and no pattern a client sends can make the single-threaded server backtrack for seconds.

import { RE2JS } from '@bufbuild/re2';
import { FilterError } from './filterError.js';

/**
 * The longest regular expression or name pattern a filter may hold: RE2's compiler (in JavaScript here) takes longer
 * than linear in a pattern's length (a 1,024-character literal about 20 ms, 50,000 characters 17 s, all of it holding
 * the event loop).
 */
export const MAX_PATTERN_LENGTH = 1024;

/** A compiled pattern: `test` is Go's MatchString (unanchored; anchors only where the pattern has them). */
export interface GoRegexp {
  test(subject: string): boolean;
}

/** Compiles a Go regular expression; throws Error with Go's own reason when RE2 refuses it. */
export function compileGoRegexp(pattern: string): GoRegexp {
  return RE2JS.compile(pattern);
}

/** Compiles every pattern of a regexp field, naming the first one RE2 refuses and why. */
export function compileRegexps(field: string, patterns: readonly string[]): GoRegexp[] {
  return patterns.map((p) => {
    try {
      return compileGoRegexp(p);
    } catch (err) {
      const reason = (err as Error).message.replace(/^error parsing regexp: /, '');
      throw new FilterError(field, p, `is not a valid regular expression: ${reason}`);
    }
  });
}
