// Kubernetes label selectors ("app=web,tier in (a,b),!legacy") evaluated over Cilium label strings
// ("k8s:app=web", "reserved:world", "cidr:10.0.0.0/8"), as upstream's labels filter does it: the
// selector's Cilium source prefixes are rewritten to dotted keys (a bare key gets "any."), the
// result is parsed with the Kubernetes selector grammar and validation, and each key is looked up
// in the flow's labels by source (any source matches "any") and key, CIDR-aware for "cidr" keys.
// Matching scans the label strings in place: no allocation per flow.
import { ParsedAddr, parsePrefix, parsePrefixInto, type Prefix } from '../../packet/ipAddress.js';

// ---- Cilium: "k8s:foo in (a, b)" -> "k8s.foo in (a, b)", "foo" -> "any.foo" ----

/** Go's unicode.IsSpace. */
function isGoSpace(c: number): boolean {
  return (
    (c >= 0x09 && c <= 0x0d) ||
    c === 0x20 ||
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

/** Rewrites colon source prefixes of every key to dots and gives bare keys the "any" source. */
export function translateSelector(selector: string): string {
  let out = '';
  let i = 0;
  const n = selector.length;
  while (i < n) {
    // Up to the next key: whitespace and '!'.
    while (i < n) {
      const c = selector.charCodeAt(i);
      if (!isGoSpace(c) && c !== 0x21) break;
      out += selector[i];
      i++;
    }
    // The key itself ends at whitespace, '=', '!' or ','.
    const keyStart = i;
    while (i < n) {
      const c = selector.charCodeAt(i);
      if (isGoSpace(c) || c === 0x3d || c === 0x21 || c === 0x2c) break;
      i++;
    }
    const key = selector.slice(keyStart, i);
    out += (key.includes(':') ? key : `any:${key}`).replace(':', '.');
    // The rest of this requirement, through the ',' that ends it (not one inside parentheses).
    let nesting = 0;
    while (i < n) {
      const ch = selector[i]!;
      if (ch === '(') nesting++;
      else if (ch === ')') nesting--;
      out += ch;
      i++;
      if (ch === ',' && nesting === 0) break;
    }
  }
  return out;
}

// ---- Kubernetes selector grammar (k8s.io/apimachinery labels.Parse) ----

const enum Tok {
  Error,
  EndOfString,
  ClosedPar,
  Comma,
  DoesNotExist,
  DoubleEquals,
  Equals,
  GreaterThan,
  Identifier,
  In,
  LessThan,
  NotEquals,
  NotIn,
  OpenPar,
}

const KEYWORDS: ReadonlyMap<string, Tok> = new Map([
  [')', Tok.ClosedPar],
  [',', Tok.Comma],
  ['!', Tok.DoesNotExist],
  ['==', Tok.DoubleEquals],
  ['=', Tok.Equals],
  ['>', Tok.GreaterThan],
  ['in', Tok.In],
  ['<', Tok.LessThan],
  ['!=', Tok.NotEquals],
  ['notin', Tok.NotIn],
  ['(', Tok.OpenPar],
]);

function isWhitespace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n';
}

function isSpecial(ch: string): boolean {
  return ch === '=' || ch === '!' || ch === '(' || ch === ')' || ch === ',' || ch === '>' || ch === '<';
}

interface Token {
  tok: Tok;
  lit: string;
}

function lex(s: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  for (;;) {
    while (i < s.length && isWhitespace(s[i]!)) i++;
    if (i >= s.length) {
      tokens.push({ tok: Tok.EndOfString, lit: '' });
      return tokens;
    }
    if (isSpecial(s[i]!)) {
      // Longest run of special characters that still forms an operator.
      let buffer = '';
      let last: Token | undefined;
      while (i < s.length && isSpecial(s[i]!)) {
        buffer += s[i];
        const tok = KEYWORDS.get(buffer);
        if (tok !== undefined) last = { tok, lit: buffer };
        else if (last !== undefined) break;
        i++;
      }
      tokens.push(last ?? { tok: Tok.Error, lit: `error expected: keyword found '${buffer}'` });
      continue;
    }
    const start = i;
    while (i < s.length && !isSpecial(s[i]!) && !isWhitespace(s[i]!)) i++;
    const lit = s.slice(start, i);
    tokens.push({ tok: KEYWORDS.get(lit) ?? Tok.Identifier, lit });
  }
}

type Operator = 'in' | 'notin' | '=' | '==' | '!=' | 'exists' | '!' | 'gt' | 'lt';

interface ParsedRequirement {
  key: string;
  op: Operator;
  values: string[];
}

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** validation.IsQualifiedName; returns the problem or undefined. */
function qualifiedNameProblem(key: string): string | undefined {
  const parts = key.split('/');
  let name: string;
  if (parts.length === 1) {
    name = parts[0]!;
  } else if (parts.length === 2) {
    const prefix = parts[0]!;
    name = parts[1]!;
    if (prefix === '') return 'prefix part must be non-empty';
    if (prefix.length > 253) return 'prefix part must be no more than 253 characters';
    if (!DNS1123_SUBDOMAIN.test(prefix)) {
      return "prefix part must be a lowercase RFC 1123 subdomain (lowercase alphanumerics, '-' and '.', starting and ending with an alphanumeric)";
    }
  } else {
    return "a qualified name must be an optional DNS subdomain prefix and '/' followed by a name";
  }
  if (name === '') return 'name part must be non-empty';
  if (name.length > 63) return 'name part must be no more than 63 characters';
  if (!QUALIFIED_NAME.test(name)) {
    return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
  }
  return undefined;
}

class SelectorParser {
  private position = 0;

  constructor(private readonly tokens: Token[]) {}

  /** In the Values context the words "in" and "notin" are plain identifiers. */
  private lookahead(values: boolean): Token {
    const t = this.tokens[this.position]!;
    return values && (t.tok === Tok.In || t.tok === Tok.NotIn) ? { tok: Tok.Identifier, lit: t.lit } : t;
  }

  private consume(values: boolean): Token {
    const t = this.lookahead(values);
    this.position++;
    return t;
  }

  parse(): ParsedRequirement[] {
    const requirements: ParsedRequirement[] = [];
    for (;;) {
      const { tok, lit } = this.lookahead(true);
      if (tok === Tok.EndOfString) return requirements;
      if (tok !== Tok.Identifier && tok !== Tok.DoesNotExist) {
        throw new Error(`found '${lit}', expected: !, identifier, or 'end of string'`);
      }
      requirements.push(this.requirement());
      const next = this.consume(true);
      if (next.tok === Tok.EndOfString) return requirements;
      if (next.tok !== Tok.Comma) throw new Error(`found '${next.lit}', expected: ',' or 'end of string'`);
      const after = this.lookahead(true);
      if (after.tok !== Tok.Identifier && after.tok !== Tok.DoesNotExist) {
        throw new Error(`found '${after.lit}', expected: identifier after ','`);
      }
    }
  }

  private requirement(): ParsedRequirement {
    let first = this.consume(true);
    let op: Operator | undefined;
    if (first.tok === Tok.DoesNotExist) {
      op = '!';
      first = this.consume(true);
    }
    if (first.tok !== Tok.Identifier)
      throw new Error(`unable to parse requirement: found '${first.lit}', expected: identifier`);
    const key = first.lit;
    const keyProblem = qualifiedNameProblem(key);
    if (keyProblem !== undefined)
      throw new Error(`unable to parse requirement: key ${JSON.stringify(key)}: ${keyProblem}`);
    const ahead = this.lookahead(true).tok;
    if (op === '!' || ahead === Tok.EndOfString || ahead === Tok.Comma) {
      return { key, op: op ?? 'exists', values: [] };
    }
    const operator = this.consume(false);
    let values: string[];
    switch (operator.tok) {
      case Tok.In:
      case Tok.NotIn:
        op = operator.tok === Tok.In ? 'in' : 'notin';
        values = this.valueList();
        break;
      case Tok.Equals:
        op = '=';
        values = [this.exactValue()];
        break;
      case Tok.DoubleEquals:
        op = '==';
        values = [this.exactValue()];
        break;
      case Tok.NotEquals:
        op = '!=';
        values = [this.exactValue()];
        break;
      case Tok.GreaterThan:
      case Tok.LessThan:
        op = operator.tok === Tok.GreaterThan ? 'gt' : 'lt';
        values = [this.exactValue()];
        if (!/^[+-]?[0-9]+$/.test(values[0]!) || BigInt(values[0]!) > INT64_MAX || BigInt(values[0]!) < INT64_MIN) {
          throw new Error(`unable to parse requirement: for 'gt', 'lt' operators, the value must be an integer`);
        }
        break;
      default:
        throw new Error(`unable to parse requirement: found '${operator.lit}', expected: in, notin, =, ==, !=, gt, lt`);
    }
    for (const v of values) {
      if (v.length > 63)
        throw new Error(`unable to parse requirement: value ${JSON.stringify(v)} must be no more than 63 characters`);
      if (!LABEL_VALUE.test(v)) {
        throw new Error(
          `unable to parse requirement: value ${JSON.stringify(v)} must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`,
        );
      }
    }
    return { key, op, values };
  }

  private valueList(): string[] {
    const open = this.consume(true);
    if (open.tok !== Tok.OpenPar) throw new Error(`unable to parse requirement: found '${open.lit}' expected: '('`);
    const ahead = this.lookahead(true);
    if (ahead.tok === Tok.ClosedPar) {
      this.consume(true);
      return [''];
    }
    if (ahead.tok !== Tok.Identifier && ahead.tok !== Tok.Comma) {
      throw new Error(`unable to parse requirement: found '${ahead.lit}', expected: ',', ')' or identifier`);
    }
    const values = new Set<string>();
    for (;;) {
      const t = this.consume(true);
      if (t.tok === Tok.Identifier) {
        values.add(t.lit);
        const next = this.lookahead(true);
        if (next.tok === Tok.Comma) continue;
        if (next.tok === Tok.ClosedPar) break;
        throw new Error(`unable to parse requirement: found '${next.lit}', expected: ',' or ')'`);
      }
      if (t.tok === Tok.Comma) {
        // Empty elements ("(,a)", "(a,,b)", "(a,)") stand for the empty value.
        if (values.size === 0) values.add('');
        const next = this.lookahead(true);
        if (next.tok === Tok.ClosedPar) {
          values.add('');
          break;
        }
        if (next.tok === Tok.Comma) {
          this.consume(true);
          values.add('');
        }
        continue;
      }
      throw new Error(`unable to parse requirement: found '${t.lit}', expected: ',', or identifier`);
    }
    const close = this.consume(true);
    if (close.tok !== Tok.ClosedPar)
      throw new Error(`unable to parse requirement: found '${close.lit}', expected: ')'`);
    return [...values];
  }

  private exactValue(): string {
    const ahead = this.lookahead(true);
    if (ahead.tok === Tok.EndOfString || ahead.tok === Tok.Comma) return '';
    const t = this.consume(true);
    if (t.tok === Tok.Identifier) return t.lit;
    throw new Error(`unable to parse requirement: found '${t.lit}', expected: identifier`);
  }
}

// ---- Matching over Cilium label strings ----

const ANY_SOURCE = 'any';
const RESERVED_SOURCE = 'reserved';
const UNSPEC_SOURCE = 'unspec';
const CIDR_SOURCE = 'cidr';

/** Where source, key and value sit in one "source:key=value" label string (Cilium's ParseLabel). */
class LabelSpan {
  /** Set when the source is implied ("$host", "reserved.x", no colon); else source is s[0, sourceEnd). */
  impliedSource: string | undefined = undefined;
  sourceEnd = 0;
  keyStart = 0;
  keyEnd = 0;
  valueStart = 0;
  valueEnd = 0;

  read(s: string): void {
    let next: number;
    this.impliedSource = undefined;
    if (s.charCodeAt(0) === 0x24 /* $ */) {
      this.impliedSource = RESERVED_SOURCE;
      next = 1;
    } else {
      const colon = s.indexOf(':');
      if (colon >= 0) {
        this.sourceEnd = colon;
        next = colon + 1;
        if (colon === 0) this.impliedSource = UNSPEC_SOURCE;
      } else if (s.startsWith('reserved.')) {
        this.impliedSource = RESERVED_SOURCE;
        next = 9;
      } else {
        this.impliedSource = UNSPEC_SOURCE;
        next = 0;
      }
    }
    const eq = s.indexOf('=', next);
    if (eq < 0) {
      this.keyStart = next;
      this.keyEnd = this.valueStart = this.valueEnd = s.length;
    } else if (eq === next && this.sourceIs(s, RESERVED_SOURCE)) {
      this.keyStart = eq + 1;
      this.keyEnd = this.valueStart = this.valueEnd = s.length;
    } else {
      this.keyStart = next;
      this.keyEnd = eq;
      this.valueStart = eq + 1;
      this.valueEnd = s.length;
    }
  }

  sourceIs(s: string, source: string): boolean {
    if (this.impliedSource !== undefined) return this.impliedSource === source;
    return this.sourceEnd === source.length && s.startsWith(source);
  }

  keyIs(s: string, key: string): boolean {
    return this.keyEnd - this.keyStart === key.length && s.startsWith(key, this.keyStart);
  }

  valueIs(s: string, value: string): boolean {
    return this.valueEnd - this.valueStart === value.length && s.startsWith(value, this.valueStart);
  }
}

const span = new LabelSpan();
const labelCidr = new ParsedAddr();

/** The label a selector key selects ("k8s.app" -> source k8s, key app; "app" alone -> any source). */
class TargetLabel {
  readonly source: string;
  readonly key: string;
  readonly cidr: Prefix | undefined;

  constructor(dotted: string) {
    const dot = dotted.indexOf('.');
    const source = dot < 0 ? '' : dotted.slice(0, dot);
    this.source = source === '' || source === UNSPEC_SOURCE ? ANY_SOURCE : source;
    this.key = dot < 0 ? dotted : dotted.slice(dot + 1);
    const cidr = this.source === CIDR_SOURCE ? parsePrefix(this.key, true) : undefined;
    this.cidr = typeof cidr === 'string' ? undefined : cidr;
  }

  /** Cilium's Label.HasKey with the flow's label in `span`: an "any" target ignores the source. */
  heldBy(s: string): boolean {
    if (this.source !== ANY_SOURCE && !span.sourceIs(s, this.source)) return false;
    if (this.cidr !== undefined && span.sourceIs(s, CIDR_SOURCE)) {
      // A broader CIDR selects every narrower one inside it.
      const bits = parsePrefixInto(s, labelCidr, span.keyStart, span.keyEnd, true);
      if (typeof bits === 'number' && this.cidr.bits <= bits && this.cidr.contains(labelCidr)) return true;
    }
    return span.keyIs(s, this.key);
  }

  /** Index of the first label holding this key (span describes it), or -1. */
  find(labels: readonly string[]): number {
    for (let i = 0; i < labels.length; i++) {
      const s = labels[i]!;
      span.read(s);
      if (this.heldBy(s)) return i;
    }
    return -1;
  }
}

class Requirement {
  private readonly target: TargetLabel;
  private readonly bound: bigint;

  constructor(
    key: string,
    private readonly op: Operator,
    private readonly values: readonly string[],
  ) {
    this.target = new TargetLabel(key);
    this.bound = op === 'gt' || op === 'lt' ? BigInt(values[0]!) : 0n;
  }

  private hasValue(s: string): boolean {
    for (const v of this.values) if (span.valueIs(s, v)) return true;
    return false;
  }

  matches(labels: readonly string[]): boolean {
    const i = this.target.find(labels);
    switch (this.op) {
      case 'in':
      case '=':
      case '==':
        return i >= 0 && this.hasValue(labels[i]!);
      case 'notin':
      case '!=':
        return i < 0 || !this.hasValue(labels[i]!);
      case 'exists':
        return i >= 0;
      case '!':
        return i < 0;
      case 'gt':
      case 'lt': {
        if (i < 0) return false;
        const text = labels[i]!.slice(span.valueStart, span.valueEnd);
        if (!/^[+-]?[0-9]{1,19}$/.test(text)) return false;
        const value = BigInt(text);
        if (value > INT64_MAX || value < INT64_MIN) return false;
        return this.op === 'gt' ? value > this.bound : value < this.bound;
      }
    }
  }
}

/** A compiled selector: every requirement must hold (an empty selector selects everything). */
export class LabelSelector {
  private constructor(private readonly requirements: readonly Requirement[]) {}

  /** Parses a selector as upstream does; throws Error saying what is wrong with it. */
  static parse(selector: string): LabelSelector {
    const parsed = new SelectorParser(lex(translateSelector(selector))).parse();
    return new LabelSelector(parsed.map((r) => new Requirement(r.key, r.op, r.values)));
  }

  /** Does the selector select these Cilium label strings? */
  matches(labels: readonly string[]): boolean {
    for (const r of this.requirements) if (!r.matches(labels)) return false;
    return true;
  }
}
