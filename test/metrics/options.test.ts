// --metrics as Hubble's metrics option reads: handler lists, options, and the one-line refusals serve stops with.
import { describe, expect, it } from 'vitest';
import { parseMetricsList } from '../../src/metrics/options.js';
import { ConfigError, resolveSettings, type Settings } from '../../src/server/config.js';
import { SERVE_SETTINGS, toServeOptions } from '../../src/server/serveOptions.js';

/** Handler names with their options as [key, value] pairs, for comparing. */
function parsed(values: string[]): [string, [string, string][]][] {
  return parseMetricsList(values).map((s) => [s.name, [...s.options]]);
}

describe('parseMetricsList', () => {
  const cases: { name: string; values: string[]; want: [string, [string, string][]][] }[] = [
    { name: 'one handler', values: ['flow'], want: [['flow', []]] },
    {
      name: 'comma-separated handlers',
      values: ['flow,drop,tcp'],
      want: [
        ['flow', []],
        ['drop', []],
        ['tcp', []],
      ],
    },
    {
      name: 'space-separated, as Cilium writes its config map',
      values: ['dns:query;ignoreAAAA drop tcp flow port-distribution icmp httpV2'],
      want: [
        [
          'dns',
          [
            ['query', ''],
            ['ignoreAAAA', ''],
          ],
        ],
        ['drop', []],
        ['tcp', []],
        ['flow', []],
        ['port-distribution', []],
        ['icmp', []],
        ['httpV2', []],
      ],
    },
    {
      name: 'options after ":" separated by ";"',
      values: ['flow:sourceContext=namespace;destinationContext=pod'],
      want: [
        [
          'flow',
          [
            ['sourceContext', 'namespace'],
            ['destinationContext', 'pod'],
          ],
        ],
      ],
    },
    {
      name: '"|" fallbacks stay in the value',
      values: ['flow:destinationContext=dns|ip'],
      want: [['flow', [['destinationContext', 'dns|ip']]]],
    },
    {
      name: 'commas inside labelsContext do not split handlers, a handler name after a comma does',
      values: ['http:labelsContext=source_ip,source_namespace,traffic_direction,drop:sourceContext=ip'],
      want: [
        ['http', [['labelsContext', 'source_ip,source_namespace,traffic_direction']]],
        ['drop', [['sourceContext', 'ip']]],
      ],
    },
    {
      name: 'repeated --metrics flags add up',
      values: ['flow:sourceContext=pod', 'drop'],
      want: [
        ['flow', [['sourceContext', 'pod']]],
        ['drop', []],
      ],
    },
    { name: 'empty pieces are ignored', values: ['  flow,, ', ''], want: [['flow', []]] },
    {
      name: 'a trailing ";" is ignored',
      values: ['icmp:sourceContext=ip;'],
      want: [['icmp', [['sourceContext', 'ip']]]],
    },
    { name: 'nothing enabled', values: [], want: [] },
  ];
  for (const c of cases) {
    it(`parses ${c.name}`, () => {
      expect(parsed(c.values)).toEqual(c.want);
    });
  }
});

function serveSettings(extra: Settings): Settings {
  return resolveSettings(SERVE_SETTINGS, { source: ['pcap:/dev/null'], ...extra });
}

describe('serve refuses a bad --metrics with one line naming the handler and option', () => {
  const cases: { name: string; metrics: string[]; message: string }[] = [
    {
      name: 'an unknown handler',
      metrics: ['flow,flows'],
      message:
        '--metrics: unknown metric "flows" (expected flow, drop, tcp, icmp, port-distribution, dns, http, httpV2)',
    },
    {
      name: 'a handler given twice',
      metrics: ['flow', 'flow:sourceContext=ip'],
      message: '--metrics: flow is given twice',
    },
    {
      name: 'http with httpV2',
      metrics: ['http httpV2'],
      message: '--metrics: http and httpV2 cannot be enabled together (choose one)',
    },
    {
      name: 'an unknown context identifier',
      metrics: ['flow:sourceContext=namespace|podd'],
      message:
        '--metrics: flow: sourceContext: unknown context "podd" (expected identity, namespace, pod, pod-short, pod-name, dns, ip, reserved-identity, workload, workload-name, app, several separated by "|")',
    },
    {
      name: 'an unknown labelsContext label',
      metrics: ['drop:labelsContext=source_ip,source_zone'],
      message: '--metrics: drop: labelsContext: unknown label "source_zone"',
    },
    {
      name: 'an unknown option',
      metrics: ['tcp:sourcContext=ip'],
      message: '--metrics: tcp: unknown option "sourcContext" (expected sourceContext, destinationContext,',
    },
    {
      name: "another handler's option",
      metrics: ['flow:query'],
      message: '--metrics: flow: unknown option "query"',
    },
    {
      name: 'a context option without a value',
      metrics: ['icmp:destinationContext'],
      message: '--metrics: icmp: destinationContext needs a value (e.g. destinationContext=namespace)',
    },
    {
      name: 'a flag with a value',
      metrics: ['dns:query=yes'],
      message: '--metrics: dns: query takes no value (or true/false), got "yes"',
    },
    {
      name: 'exemplars with a value that is not a boolean',
      metrics: ['httpV2:exemplars=sometimes'],
      message: '--metrics: httpV2: exemplars takes no value (or true/false), got "sometimes"',
    },
    {
      name: 'an option with no name',
      metrics: ['flow:=ip'],
      message: '--metrics: flow: option "=ip" has no name (expected key=value)',
    },
  ];
  for (const c of cases) {
    it(`for ${c.name}`, () => {
      let error: unknown;
      try {
        toServeOptions(serveSettings({ 'metrics-address': ':9965', metrics: c.metrics }));
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      const message = (error as Error).message;
      expect(message).toContain(c.message);
      expect(message).not.toContain('\n');
    });
  }

  it('refuses --metrics without --metrics-address, and a metrics address that is not HOST:PORT', () => {
    expect(() => toServeOptions(serveSettings({ metrics: ['flow'] }))).toThrow(
      new ConfigError('--metrics needs --metrics-address (where to serve them)'),
    );
    expect(() => toServeOptions(serveSettings({ 'metrics-address': '9965' }))).toThrow(
      new ConfigError('--metrics-address "9965" is not HOST:PORT (e.g. :9965 or 127.0.0.1:9965)'),
    );
  });

  it("accepts Cilium's documented metrics value, exemplars=true included (they need OpenMetrics: none are served)", () => {
    const opts = toServeOptions(
      serveSettings({
        'metrics-address': ':9965',
        metrics: [
          'dns drop tcp flow port-distribution icmp httpV2:exemplars=true;labelsContext=source_ip,source_namespace,' +
            'source_workload,destination_ip,destination_namespace,destination_workload,traffic_direction',
        ],
      }),
    );
    expect(opts.metrics?.handlers.map((h) => h.name)).toEqual([
      'dns',
      'drop',
      'tcp',
      'flow',
      'port-distribution',
      'icmp',
      'httpV2',
    ]);
  });

  it('accepts option keys and identifiers in any case, as Hubble does, and leaves metrics off by default', () => {
    const opts = toServeOptions(
      serveSettings({
        'metrics-address': ':9965',
        metrics: ['flow:SourceContext=Namespace|IP;labelscontext=source_ip'],
      }),
    );
    expect(opts.metrics?.listen).toEqual({ host: '::', port: 9965 });
    expect(opts.metrics?.handlers.map((h) => h.name)).toEqual(['flow']);
    expect(opts.metrics?.maxLabelSets).toBe(10_000);
    expect(toServeOptions(serveSettings({})).metrics).toBeUndefined();
  });
});
