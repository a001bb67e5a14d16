import { describe, expect, it } from 'vitest';
import { FlowFilter, Verdict, type DeepPartial } from '../../src/api/flow/flow.js';
import { ExportSettingError, parseFieldMaskPaths, parseFlowFilterList } from '../../src/exporter/flowFilterList.js';

const f = (partial: DeepPartial<FlowFilter>) => FlowFilter.fromPartial(partial);

describe('parseFlowFilterList (the agent’s --hubble-export-allowlist/denylist text)', () => {
  it.each<[string, string, FlowFilter[]]>([
    ['nothing', '', []],
    ['blanks', '  \n\t ', []],
    [
      'one filter, enums by name',
      '{"verdict":["DROPPED","ERROR"]}',
      [f({ verdict: [Verdict.DROPPED, Verdict.ERROR] })],
    ],
    [
      'two filters separated by whitespace, as upstream parses them',
      '{"source_pod":["kube-system/"]} {"destination_pod":["kube-system/"]}',
      [f({ sourcePod: ['kube-system/'] }), f({ destinationPod: ['kube-system/'] })],
    ],
    [
      'two filters separated by a comma, as Cilium’s documentation writes them',
      '{"source_pod":["kube-system/"]},{"destination_pod":["kube-system/"]}',
      [f({ sourcePod: ['kube-system/'] }), f({ destinationPod: ['kube-system/'] })],
    ],
    ['JSON (camelCase) names too', '{"sourceIp":["10.0.0.1"]}', [f({ sourceIp: ['10.0.0.1'] })]],
    [
      'braces and quotes inside strings',
      '{"source_label":["k8s:app={x}","a\\"}b"]}',
      [f({ sourceLabel: ['k8s:app={x}', 'a"}b'] })],
    ],
  ])('%s', (_name, text, expected) => {
    expect(parseFlowFilterList(text)).toEqual(expected);
  });

  it.each([
    ['a JSON list', '[{"verdict":["DROPPED"]}]', /expected a JSON object .* at offset 0, found "\[/],
    ['a leading comma', ',{"verdict":["DROPPED"]}', /at offset 0, found ",{/],
    ['an unclosed object', '{"verdict":["DROPPED"]', /the object is not closed/],
    ['broken JSON', '{"verdict":[DROPPED]}', /is not valid JSON/],
    ['an unknown field', '{"verdikt":["DROPPED"]}', /not a valid flow.FlowFilter/],
    ['an unknown enum name', '{"verdict":["LOST"]}', /not a valid flow.FlowFilter/],
  ])('refuses %s with one line saying why', (_name, text, message) => {
    let error: unknown;
    try {
      parseFlowFilterList(text);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ExportSettingError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });
});

describe('parseFieldMaskPaths', () => {
  it('takes repeated values, each comma- or space-separated (flag and ConfigMap style)', () => {
    expect(parseFieldMaskPaths(['time,verdict', 'source.identity  l4', ' IP,, node_name '])).toEqual([
      'time',
      'verdict',
      'source.identity',
      'l4',
      'IP',
      'node_name',
    ]);
  });
});
