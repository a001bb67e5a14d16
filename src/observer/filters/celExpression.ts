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

function celForFlows(): Cel {
  if (cel === undefined) {
    const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, loadDescriptorSet()));
    const flowType = registry.getMessage('flow.Flow');
    if (flowType === undefined) throw new Error('flow.Flow is missing from the descriptor set');
    cel = {
      flowType,
      env: celEnv({ namespace: 'flow', registry, variables: { [FLOW_VARIABLE]: objectType(flowType) } }),
    };
  }
  return cel;
}

type Program = (bindings: Record<string, unknown>) => unknown;

function compileExpression(expression: string, { env, flowType }: Cel): Program {
  let program: Program;
  try {
    program = plan(env, parse(expression)) as unknown as Program;
  } catch (err) {
    throw new FilterError(FIELD, expression, `is not a valid CEL expression: ${(err as Error).message}`);
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
  return program;
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
  const programs = expressions.map((e) => compileExpression(e, env));
  const bindings: Record<string, unknown> = {};
  return [
    {
      field: FIELD,
      cost: Cost.Cel,
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
