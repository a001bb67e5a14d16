// Go (RE2) regular expressions as clients send them in dns_query, http_path and http_url, compiled
// to JS RegExp: Go-only syntax is translated, syntax RE2 refuses is refused here too, and what
// neither can express is reported, so a filter never silently means something else.
//
// Translated: a leading (?flags) group (i, m, s), (?P<name>...), \A, \z, \Q...\E, [[:alpha:]]
// and friends, \pL and \p{Greek} (Go names scripts bare, JS wants Script=), and Go's ASCII-only
// \s. Refused as RE2 refuses them: backreferences, lookaround, \C, repeat counts above 1000.
// Remaining differences: inline flags anywhere but the start are refused (Node 20's V8 cannot
// scope them), and JS matching backtracks where RE2 is linear-time, so a pathological pattern
// costs CPU instead of being bounded.

import { FilterError } from './filterError.js';

const POSIX_CLASSES: Readonly<Record<string, string>> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7f',
  blank: '\\t ',
  cntrl: '\\x00-\\x1f\\x7f',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

/** Go's \s is [\t\n\f\r ]; JS's also takes \v and Unicode spaces. */
const GO_SPACE = '\\t\\n\\f\\r ';

const MAX_REPEAT = 1000;

const GENERAL_CATEGORY = /^(?:[LMNPSZC]|L[ultmo]|M[nce]|N[dlo]|P[cdseifo]|S[mcko]|Z[slp]|C[cfson])$/;

/** Escapes \Q...\E text; '-' only matters (and may only be escaped in Unicode mode) inside a class. */
function escapeLiteral(text: string, inClass: boolean): string {
  return text.replace(inClass ? /[\\^$.*+?()[\]{}|/-]/g : /[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

/** Rewrites Go syntax to JS syntax; throws Error for what RE2 would refuse. */
function translate(pattern: string): { source: string; flags: string; needsUnicode: boolean } {
  let i = 0;
  let flags = '';
  const leading = /^\(\?([a-zA-Z]+)\)/.exec(pattern);
  if (leading !== null) {
    for (const f of leading[1]!) {
      if (f === 'i' || f === 'm' || f === 's') {
        if (!flags.includes(f)) flags += f;
      } else if (f === 'U') {
        throw new Error('the U (ungreedy) flag has no JavaScript equivalent');
      } else {
        throw new Error(`invalid or unsupported Perl syntax: (?${leading[1]})`);
      }
    }
    i = leading[0].length;
  }

  let out = '';
  let inClass = false;
  let needsUnicode = false;
  while (i < pattern.length) {
    const ch = pattern[i]!;
    if (ch === '\\') {
      const next = pattern[i + 1];
      if (next === undefined) throw new Error('trailing backslash at end of expression');
      if (next === 'Q') {
        const end = pattern.indexOf('\\E', i + 2);
        const literal = pattern.slice(i + 2, end === -1 ? pattern.length : end);
        out += escapeLiteral(literal, inClass);
        i = end === -1 ? pattern.length : end + 2;
        continue;
      }
      if (next >= '1' && next <= '9') throw new Error(`invalid escape sequence: \\${next} (RE2 has no backreferences)`);
      if (next === 'C') throw new Error('invalid escape sequence: \\C');
      if (next === 'k') throw new Error('invalid escape sequence: \\k (RE2 has no backreferences)');
      if (!inClass && next === 'A') {
        out += '(?<![\\s\\S])';
        i += 2;
        continue;
      }
      if (!inClass && next === 'z') {
        out += '(?![\\s\\S])';
        i += 2;
        continue;
      }
      if (next === 's') {
        out += inClass ? GO_SPACE : `[${GO_SPACE}]`;
        i += 2;
        continue;
      }
      if (next === 'S' && !inClass) {
        out += `[^${GO_SPACE}]`;
        i += 2;
        continue;
      }
      if (next === 'p' || next === 'P') {
        needsUnicode = true;
        let name = pattern[i + 2];
        let length = 3;
        if (name === '{') {
          const close = pattern.indexOf('}', i + 3);
          if (close === -1) throw new Error('invalid character class range: missing }');
          name = pattern.slice(i + 3, close);
          length = close + 1 - i;
        }
        if (name === undefined || name === '') throw new Error('invalid character class range');
        let negate = next === 'P';
        if (name.startsWith('^')) {
          negate = !negate;
          name = name.slice(1);
        }
        // Go names general categories and scripts alike; JS wants "Script=" before a script.
        const property = name === 'Any' ? 'Any' : GENERAL_CATEGORY.test(name) ? name : `Script=${name}`;
        out += `\\${negate ? 'P' : 'p'}{${property}}`;
        i += length;
        continue;
      }
      out += ch + next;
      i += 2;
      continue;
    }
    if (inClass) {
      if (ch === '[' && pattern[i + 1] === ':') {
        const end = pattern.indexOf(':]', i + 2);
        if (end !== -1) {
          const name = pattern.slice(i + 2, end);
          const ranges = POSIX_CLASSES[name];
          if (ranges === undefined) throw new Error(`invalid character class range: [:${name}:]`);
          out += ranges;
          i = end + 2;
          continue;
        }
      }
      if (ch === ']') inClass = false;
      out += ch;
      i++;
      continue;
    }
    if (ch === '[') {
      inClass = true;
      out += ch;
      i++;
      // A ']' right after '[' or '[^' is a literal in RE2; JS needs it escaped.
      if (pattern[i] === '^') {
        out += '^';
        i++;
      }
      if (pattern[i] === ']') {
        out += '\\]';
        i++;
      }
      continue;
    }
    if (ch === '(' && pattern[i + 1] === '?') {
      const rest = pattern.slice(i + 2, i + 4);
      if (rest.startsWith('=') || rest.startsWith('!') || rest === '<=' || rest === '<!') {
        throw new Error('invalid or unsupported Perl syntax: lookaround');
      }
      if (rest.startsWith('P<')) {
        out += '(?<';
        i += 4;
        continue;
      }
    }
    if (ch === '{') {
      const repeat = /^\{(\d+)(?:,(\d*))?\}/.exec(pattern.slice(i));
      if (repeat !== null && (Number(repeat[1]) > MAX_REPEAT || Number(repeat[2] ?? 0) > MAX_REPEAT)) {
        throw new Error(`invalid repeat count: ${repeat[0]}`);
      }
    }
    out += ch;
    i++;
  }
  return { source: out, flags, needsUnicode };
}

/**
 * Compiles a Go regular expression for unanchored matching (Go's MatchString); throws Error with
 * the reason when Go or JavaScript cannot compile it.
 */
export function compileGoRegexp(pattern: string): RegExp {
  const { source, flags, needsUnicode } = translate(pattern);
  // Unicode mode matches by code point like Go matches by rune; patterns that JS only accepts
  // without it (Go allows escaping any punctuation, e.g. "\-") fall back unless they need \p.
  try {
    return new RegExp(source, flags + 'u');
  } catch (err) {
    if (needsUnicode) throw new Error((err as Error).message.replace(/^Invalid regular expression: /, ''));
  }
  try {
    return new RegExp(source, flags);
  } catch (err) {
    throw new Error((err as Error).message.replace(/^Invalid regular expression: /, ''));
  }
}

/** Compiles every pattern of a regexp field, naming the first one neither Go nor JS can use. */
export function compileRegexps(field: string, patterns: readonly string[]): RegExp[] {
  return patterns.map((p) => {
    try {
      return compileGoRegexp(p);
    } catch (err) {
      throw new FilterError(field, p, `is not a valid regular expression: ${(err as Error).message}`);
    }
  });
}
