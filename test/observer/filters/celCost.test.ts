// CEL expressions whose evaluation could take long (found by test/fuzz/apiRequests.test.ts: comprehensions nested six
// deep over ten-element lists held the server's event loop for seconds per flow, so every stream and capture waited).
// They are refused before they run; expressions of ordinary size are not.
import { describe, expect, it } from 'vitest';
import { FlowFilter } from '../../../src/api/flow/flow.js';
import { compileEventFilters, compileFlowFilters, FilterError } from '../../../src/observer/filters/index.js';

const compile = (expression: string) =>
  compileFlowFilters([FlowFilter.fromPartial({ experimental: { celExpression: [expression] } })], []);

function nested(depth: number, length: number, inner = 'true'): string {
  const list = `[${Array.from({ length }, (_, i) => i).join(', ')}]`;
  let expr = inner;
  for (let d = 0; d < depth; d++) expr = `${list}.all(x${d}, ${expr})`;
  return expr;
}

describe('CEL expressions too costly to evaluate', () => {
  it.each([
    ['six comprehensions deep over ten elements', nested(6, 10)],
    ['five deep over eight', nested(5, 8)],
    ['two deep over a thousand', nested(2, 1000)],
    [
      'three nested over lists of the flow (each counted as 64 long)',
      '_flow.source.labels.all(a, _flow.source.labels.all(b, _flow.source.labels.all(c, a != "x")))',
    ],
  ])('refuses %s before running it, saying why', (_what, expression) => {
    const t0 = performance.now();
    expect(() => compile(expression)).toThrow(FilterError);
    expect(() => compile(expression)).toThrow(/could take over 50000 evaluation steps per flow/);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it.each([
    ['a comparison', '_flow.verdict == Verdict.DROPPED && _flow.l4.TCP.destination_port == 443u'],
    ['one comprehension over labels', '_flow.source.labels.exists(l, l.startsWith("k8s:app="))'],
    ['two nested over labels', '_flow.source.labels.exists(a, _flow.destination.labels.exists(b, a == b))'],
    ['three deep over ten elements', nested(3, 10)],
  ])('accepts %s', (_what, expression) => {
    expect(() => compile(expression)).not.toThrow();
  });
});

describe("all of a request's CEL expressions together", () => {
  const many = (n: number) => Array.from({ length: n }, (_, i) => `_flow.l4.TCP.destination_port == ${i}u`);

  it('refuses a request whose expressions could together take over 50000 steps a flow (each flow meets them all)', () => {
    // 2,000 comparisons of about 45 steps each (about 8 ms a flow): a tester's 19,999 took 88 ms on every flow.
    const split = many(2000);
    const request = [
      FlowFilter.fromPartial({ experimental: { celExpression: split.slice(0, 1000) } }),
      FlowFilter.fromPartial({ experimental: { celExpression: split.slice(1000) } }),
    ];
    expect(() => compileFlowFilters(request, [])).toThrow(
      /experimental.cel_expression: the request's expressions could take \d+ evaluation steps per flow together, over 50000/,
    );
    expect(() => compileFlowFilters([], request)).toThrow(FilterError);
    expect(() => compileEventFilters(request, [])).toThrow(FilterError);
  });

  it('counts re-encoding the flow for each FlowFilter that holds expressions: 1,000 of one comparison each are refused', () => {
    // Each FlowFilter re-encodes the flow for its expressions (about 15 µs): 1,000 of them took 16 ms a flow.
    const request = Array.from({ length: 1000 }, (_, i) =>
      FlowFilter.fromPartial({ experimental: { celExpression: [`_flow.l4.TCP.destination_port == ${i}u`] } }),
    );
    expect(() => compileFlowFilters(request, [])).toThrow(/could take \d+ evaluation steps per flow together/);
    expect(() => compileFlowFilters(request.slice(0, 200), [])).not.toThrow();
  });

  it('accepts hundreds of simple ones', () => {
    expect(() =>
      compileFlowFilters([FlowFilter.fromPartial({ experimental: { celExpression: many(500) } })], []),
    ).not.toThrow();
  });
});
