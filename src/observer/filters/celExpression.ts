// experimental.cel_expression: flows for which one of these CEL expressions is true, evaluated as
// upstream does over the flow bound to `_flow` (type flow.Flow, container "flow", proto field
// names: `_flow.verdict == Verdict.DROPPED && _flow.l4.TCP.destination_port == 443u`).
//
// Uses @bufbuild/cel over @bufbuild/protobuf messages decoded from our descriptor set; a ts-proto
// Flow is re-encoded for each evaluation, which is why this filter runs last. @bufbuild/cel exports
// no type checker, so where upstream type-checks we probe the expression once against an empty
// flow: parse errors, unknown fields, variables, functions or overloads and non-bool results are
// refused then; errors that only data can cause make the expression false at run time, as upstream.
import { celEnv, isCelError, objectType, parse, plan, type CelEnv } from '@bufbuild/cel';
import { create, createFileRegistry, fromBinary, type DescMessage } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { loadDescriptorSet } from '../../api/descriptors.js';
import { Flow, type FlowFilter } from '../../api/flow/flow.js';
import { Cost, type FieldFilter } from './fieldFilter.js';
import { FilterError } from './filterError.js';
import { compileGoRegexp, MAX_PATTERN_LENGTH, type GoRegexp } from './goRegexp.js';

const FLOW_VARIABLE = '_flow';
const FIELD = 'experimental.cel_expression';

/** Errors that mean the expression is wrong whatever the flow; upstream's checker refuses these. */
const STATIC_ERROR =
  /^(unresolved attribute|field not found|unbound function|found no matching overload|error parsing regexp)/;

interface Cel {
  flowType: DescMessage;
  env: CelEnv;
}

let cel: Cel | undefined;

/** Distinct patterns matches() keeps compiled (all are forgotten when there are more). */
const CACHED_PATTERNS = 256;
const compiledPatterns = new Map<string, GoRegexp>();

/**
 * RE2 for CEL's matches(): each pattern compiled once (the library's own compiles it on every call, that is on every
 * flow: a 1,000-character pattern cost 15 ms a flow), none longer than a filter's regular expressions may be.
 */
const cachedRegexps: { compile(pattern: string): GoRegexp } = {
  compile(pattern: string): GoRegexp {
    let re = compiledPatterns.get(pattern);
    if (re === undefined) {
      if (pattern.length > MAX_PATTERN_LENGTH) {
        throw new Error(`error parsing regexp: longer than the ${MAX_PATTERN_LENGTH} characters a pattern may be`);
      }
      re = compileGoRegexp(pattern);
      if (compiledPatterns.size >= CACHED_PATTERNS) compiledPatterns.clear();
      compiledPatterns.set(pattern, re);
    }
    return re;
  },
};

function celForFlows(): Cel {
  if (cel === undefined) {
    const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, loadDescriptorSet()));
    const flowType = registry.getMessage('flow.Flow');
    if (flowType === undefined) throw new Error('flow.Flow is missing from the descriptor set');
    cel = {
      flowType,
      env: celEnv({
        namespace: 'flow',
        registry,
        variables: { [FLOW_VARIABLE]: objectType(flowType) },
        re2: cachedRegexps,
      }),
    };
  }
  return cel;
}

type Program = (bindings: Record<string, unknown>) => unknown;

/** A compiled expression and the most evaluation steps it may take on one flow, its own call included. */
interface CompiledExpression {
  program: Program;
  steps: number;
}

function compileExpression(expression: string, { env, flowType }: Cel): CompiledExpression {
  let program: Program;
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(expression);
    program = plan(env, parsed) as unknown as Program;
  } catch (err) {
    throw new FilterError(FIELD, expression, `is not a valid CEL expression: ${(err as Error).message}`);
  }
  // Evaluation runs on the event loop every stream shares, and nested comprehensions multiply: refuse what could take
  // long before running it even once (upstream's Go evaluates it on the request's own goroutine; we cannot).
  // A literal pattern of matches() is checked now, as a filter's regular expression is, and its compiling counts as
  // a step per character (so a request's patterns together compile in about a second at most).
  const steps = worstCaseSteps(parsed.expr) + literalPatternSteps(expression, parsed.expr);
  if (steps > MAX_CEL_STEPS) {
    throw new FilterError(
      FIELD,
      expression,
      `could take over ${MAX_CEL_STEPS} evaluation steps per flow (comprehensions nested over long lists); simplify it`,
    );
  }
  let probe: unknown;
  try {
    probe = program({ [FLOW_VARIABLE]: create(flowType) });
  } catch (err) {
    probe = err;
  }
  if (isCelError(probe) || probe instanceof Error) {
    const message = (probe as Error).message.trim();
    if (STATIC_ERROR.test(message))
      throw new FilterError(FIELD, expression, `is not a valid CEL expression: ${message}`);
  } else if (typeof probe !== 'boolean') {
    throw new FilterError(FIELD, expression, `evaluates to ${describe(probe)}, wanted bool`);
  }
  return { program, steps: CALL_STEPS + steps };
}

type Expr = ReturnType<typeof parse>['expr'];

/** Calls `visit` on every node of the expression tree under `root`, parents before children. */
function forEachExpr(root: Expr | undefined, visit: (e: Expr) => void): void {
  if (root === undefined) return;
  visit(root);
  const k = root.exprKind;
  switch (k.case) {
    case 'listExpr':
      for (const element of k.value.elements) forEachExpr(element, visit);
      return;
    case 'structExpr':
      for (const entry of k.value.entries) {
        if (entry.keyKind.case === 'mapKey') forEachExpr(entry.keyKind.value, visit);
        forEachExpr(entry.value, visit);
      }
      return;
    case 'selectExpr':
      return forEachExpr(k.value.operand, visit);
    case 'callExpr':
      forEachExpr(k.value.target, visit);
      for (const arg of k.value.args) forEachExpr(arg, visit);
      return;
    case 'comprehensionExpr': {
      const c = k.value;
      for (const part of [c.iterRange, c.accuInit, c.loopCondition, c.loopStep, c.result]) forEachExpr(part, visit);
      return;
    }
    default:
      return;
  }
}

/** Checks every literal pattern given to matches() (length, RE2 syntax); returns their characters together. */
function literalPatternSteps(expression: string, root: Expr): number {
  let characters = 0;
  forEachExpr(root, (e) => {
    if (e.exprKind.case !== 'callExpr' || e.exprKind.value.function !== 'matches') return;
    const { target, args } = e.exprKind.value;
    const pattern = target === undefined ? args[1] : args[0];
    const literal = pattern?.exprKind.case === 'constExpr' ? pattern.exprKind.value.constantKind : undefined;
    if (literal?.case !== 'stringValue') return;
    try {
      cachedRegexps.compile(literal.value);
    } catch (err) {
      const reason = (err as Error).message.replace(/^error parsing regexp: /, '');
      throw new FilterError(FIELD, expression, `has a pattern for matches() that is not valid: ${reason}`);
    }
    characters += literal.value.length;
  });
  return characters;
}

/**
 * Most evaluation steps an expression may take on one flow, and all of a request's expressions together (a step is
 * about 0.1 µs: a flow meets a request's expressions in 5 ms at most, and the event loop turns at least that often).
 */
export const MAX_CEL_STEPS = 50_000;
/** What calling one expression costs beyond its own steps (about 4 µs), in steps. */
const CALL_STEPS = 40;
/** What re-encoding the flow for a FlowFilter's expressions costs (about 15 µs), in steps: once per FlowFilter. */
const ENCODE_STEPS = 150;
/** Assumed length of a list or map the expression does not spell out (a flow's labels, names, ...). */
const DATA_LIST_LENGTH = 64;

/**
 * An upper bound of the steps evaluating `root` takes: one per node, and a comprehension (all, exists, exists_one,
 * map, filter) runs its condition and step once per element of its range. Ranges written as literals count their
 * elements; any other list counts as the longest list the expression could build (its literal elements, all together)
 * or DATA_LIST_LENGTH, whichever is more.
 */
function worstCaseSteps(root: Expr): number {
  let literalElements = 0;
  forEachExpr(root, (e) => {
    if (e.exprKind.case === 'listExpr') literalElements += e.exprKind.value.elements.length;
    else if (e.exprKind.case === 'structExpr') literalElements += e.exprKind.value.entries.length;
  });
  const unknownLength = Math.max(DATA_LIST_LENGTH, literalElements);
  /** [steps, length if it is a list or map]. */
  const walk = (e: Expr | undefined): [number, number] => {
    if (e === undefined) return [0, 0];
    const k = e.exprKind;
    switch (k.case) {
      case 'listExpr': {
        let steps = 1;
        for (const element of k.value.elements) steps += walk(element)[0];
        return [steps, k.value.elements.length];
      }
      case 'structExpr': {
        let steps = 1;
        for (const entry of k.value.entries) {
          if (entry.keyKind.case === 'mapKey') steps += walk(entry.keyKind.value)[0];
          steps += walk(entry.value)[0];
        }
        return [steps, k.value.entries.length];
      }
      case 'selectExpr':
        return [walk(k.value.operand)[0] + 1, unknownLength];
      case 'callExpr': {
        let steps = 1 + walk(k.value.target)[0];
        const lengths: number[] = [];
        for (const arg of k.value.args) {
          const [s, l] = walk(arg);
          steps += s;
          lengths.push(l);
        }
        // Concatenation is the one call that makes a list longer than its parts.
        return [steps, k.value.function === '_+_' ? lengths.reduce((a, b) => a + b, 0) : unknownLength];
      }
      case 'comprehensionExpr': {
        const c = k.value;
        const [rangeSteps, n] = walk(c.iterRange);
        const perElement = walk(c.loopCondition)[0] + walk(c.loopStep)[0];
        return [rangeSteps + walk(c.accuInit)[0] + n * perElement + walk(c.result)[0], n];
      }
      default:
        return [1, unknownLength];
    }
  };
  return walk(root)[0];
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'bigint') return 'int';
  if (typeof value === 'number') return 'double';
  if (typeof value === 'object') return 'a message, list or map';
  return typeof value;
}

export function celExpressionFilters(ff: FlowFilter): FieldFilter[] {
  const expressions = ff.experimental?.celExpression ?? [];
  if (expressions.length === 0) return [];
  const env = celForFlows();
  const compiled = expressions.map((e) => compileExpression(e, env));
  const programs = compiled.map((c) => c.program);
  const bindings: Record<string, unknown> = {};
  return [
    {
      field: FIELD,
      cost: Cost.Cel,
      steps: compiled.reduce((sum, c) => sum + c.steps, ENCODE_STEPS),
      matchFlow: (flow) => {
        bindings[FLOW_VARIABLE] = fromBinary(env.flowType, Flow.encode(flow).finish());
        for (const program of programs) {
          try {
            if (program(bindings) === true) return true;
          } catch {
            // An evaluation error makes this expression false, as upstream logs and moves on.
          }
        }
        return false;
      },
    },
  ];
}
