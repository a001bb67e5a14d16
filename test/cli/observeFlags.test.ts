// hubble observe flags -> the GetFlowsRequest hubble would send: filters, --not, bidirectional flags, selectors.
import { describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { GetFlowsRequest } from '../../src/api/observer/observer.js';
import {
  FlowFilter,
  IPVersion,
  TrafficDirection,
  Verdict,
  DropReason,
  type DeepPartial,
} from '../../src/api/flow/flow.js';
import { observeCommand, type ObservePlan } from '../../src/cli/observe.js';

const NOW = new Date('2024-11-24T10:00:00.000Z');
const sink = { write: () => true };

async function planFor(args: string[]): Promise<ObservePlan> {
  let plan: ObservePlan | undefined;
  const cmd: Command = observeCommand({ stdout: sink, stderr: sink }, async (p) => {
    plan = p;
  });
  cmd.exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  await cmd.parseAsync(args, { from: 'user' });
  return plan!;
}

const f = (partial: DeepPartial<FlowFilter>): FlowFilter => FlowFilter.fromPartial(partial);
const req = (partial: DeepPartial<GetFlowsRequest>): GetFlowsRequest => GetFlowsRequest.fromPartial(partial);
const flags = {
  FIN: false,
  SYN: false,
  RST: false,
  PSH: false,
  ACK: false,
  URG: false,
  ECE: false,
  CWR: false,
  NS: false,
};

describe('observe builds the request hubble sends', () => {
  const cases: { name: string; args: string[]; want: GetFlowsRequest }[] = [
    { name: 'no flags: the last 20 flows', args: [], want: req({ number: '20' }) },
    { name: '--follow alone asks for no backlog', args: ['-f'], want: req({ follow: true }) },
    { name: '--last N', args: ['--last', '5'], want: req({ number: '5' }) },
    { name: '--first N', args: ['--first', '3'], want: req({ number: '3', first: true }) },
    { name: '--last with --follow', args: ['--last', '7', '--follow'], want: req({ number: '7', follow: true }) },
    {
      name: '--since relative, no default count',
      args: ['--since', '5m'],
      want: req({ since: { seconds: NOW.getTime() / 1000 - 300, nanos: 0 } }),
    },
    {
      name: '--since/--until absolute RFC3339 with nanoseconds and offset',
      args: ['--since', '2024-11-24T09:00:00.5+01:00', '--until', '2024-11-24T10:00:00.000000001Z'],
      want: req({
        since: { seconds: Date.UTC(2024, 10, 24, 8) / 1000, nanos: 500_000_000 },
        until: { seconds: NOW.getTime() / 1000, nanos: 1 },
      }),
    },
    {
      name: '--until is dropped when following',
      args: ['--until', '1h', '-f'],
      want: req({ follow: true }),
    },
    {
      name: 'repeated flag values are ORed in one filter',
      args: ['--from-ip', '1.1.1.1', '--from-ip', '2.2.2.0/24'],
      want: req({ number: '20', whitelist: [f({ sourceIp: ['1.1.1.1', '2.2.2.0/24'] })] }),
    },
    {
      name: '--ip splits into a source and a destination filter',
      args: ['--ip', '10.0.0.1'],
      want: req({ number: '20', whitelist: [f({ sourceIp: ['10.0.0.1'] }), f({ destinationIp: ['10.0.0.1'] })] }),
    },
    {
      name: 'a one-sided flag is ANDed into both halves of a split',
      args: ['--ip', '10.0.0.1', '--verdict', 'DROPPED'],
      want: req({
        number: '20',
        whitelist: [
          f({ sourceIp: ['10.0.0.1'], verdict: [Verdict.DROPPED] }),
          f({ destinationIp: ['10.0.0.1'], verdict: [Verdict.DROPPED] }),
        ],
      }),
    },
    {
      name: '--not sends only the next flag to the denylist',
      args: ['--from-pod', 'default/web', '--not', '--to-ip', '10.0.0.1', '--protocol', 'tcp'],
      want: req({
        number: '20',
        whitelist: [f({ sourcePod: ['default/web'], protocol: ['tcp'] })],
        blacklist: [f({ destinationIp: ['10.0.0.1'] })],
      }),
    },
    {
      name: '--not on a bidirectional flag denies both directions',
      args: ['--not', '--port', '53', '--not', '--http-method', 'GET'],
      want: req({
        number: '20',
        blacklist: [
          f({ sourcePort: ['53'], httpMethod: ['GET'] }),
          f({ destinationPort: ['53'], httpMethod: ['GET'] }),
        ],
      }),
    },
    {
      name: '--namespace matches pods on either side',
      args: ['--namespace', 'kube-system'],
      want: req({
        number: '20',
        whitelist: [f({ sourcePod: ['kube-system/'] }), f({ destinationPod: ['kube-system/'] })],
      }),
    },
    {
      name: '--pod with --namespace prefixes the pod name',
      args: ['--pod', 'coredns', '-n', 'kube-system'],
      want: req({
        number: '20',
        whitelist: [f({ sourcePod: ['kube-system/coredns'] }), f({ destinationPod: ['kube-system/coredns'] })],
      }),
    },
    {
      name: '--from-namespace and --to-namespace give one filter',
      args: ['--from-namespace', 'a', '--to-namespace', 'b'],
      want: req({ number: '20', whitelist: [f({ sourcePod: ['a/'], destinationPod: ['b/'] })] }),
    },
    {
      name: '--to-service within --to-namespace',
      args: ['--to-service', 'web', '--to-namespace', 'shop'],
      want: req({ number: '20', whitelist: [f({ destinationService: ['shop/web'] })] }),
    },
    {
      name: '--all-namespaces',
      args: ['-A'],
      want: req({ number: '20', whitelist: [f({ sourcePod: ['/'] }), f({ destinationPod: ['/'] })] }),
    },
    {
      name: '--label, --fqdn, --service, --workload, --identity and --cluster are bidirectional',
      args: [
        '-l',
        'app=web',
        '--fqdn',
        '*.cilium.io',
        '--service',
        'default/api',
        '--workload',
        'Deployment/web',
        '--identity',
        'world',
        '--cluster',
        'c1',
      ],
      want: req({
        number: '20',
        whitelist: [
          f({
            sourceLabel: ['app=web'],
            sourceFqdn: ['*.cilium.io'],
            sourceService: ['default/api'],
            sourceWorkload: [{ kind: 'Deployment', name: 'web' }],
            sourceIdentity: [2],
            sourceClusterName: ['c1'],
          }),
          f({
            destinationLabel: ['app=web'],
            destinationFqdn: ['*.cilium.io'],
            destinationService: ['default/api'],
            destinationWorkload: [{ kind: 'Deployment', name: 'web' }],
            destinationIdentity: [2],
            destinationClusterName: ['c1'],
          }),
        ],
      }),
    },
    {
      name: 'one-sided from/to flags',
      args: [
        '--from-label',
        'a=b',
        '--to-fqdn',
        'x.io',
        '--from-identity',
        '12345',
        '--to-identity',
        'host',
        '--from-workload',
        'web',
        '--to-cluster',
        'c2',
        '--from-port',
        '1234',
        '--to-port',
        '80',
        '--snat-ip',
        '1.2.3.4',
      ],
      want: req({
        number: '20',
        whitelist: [
          f({
            sourceLabel: ['a=b'],
            destinationFqdn: ['x.io'],
            sourceIdentity: [12345],
            destinationIdentity: [1],
            sourceWorkload: [{ kind: '', name: 'web' }],
            destinationClusterName: ['c2'],
            sourcePort: ['1234'],
            destinationPort: ['80'],
            sourceIpXlated: ['1.2.3.4'],
          }),
        ],
      }),
    },
    {
      name: '--type with observation point and agent subtypes',
      args: ['-t', 'trace:to-stack', '--type', 'drop', '--type', 'agent:policy-updated', '--type', '129:2'],
      want: req({
        number: '20',
        whitelist: [
          f({
            eventType: [
              { type: 4, matchSubType: true, subType: 3 },
              { type: 1, matchSubType: false, subType: 0 },
              { type: 130, matchSubType: true, subType: 5 },
              { type: 129, matchSubType: true, subType: 2 },
            ],
          }),
        ],
      }),
    },
    {
      name: 'enum, flag-set and L7 filters',
      args: [
        '--verdict',
        'FORWARDED',
        '--verdict',
        'DROPPED',
        '--drop-reason-desc',
        'POLICY_DENIED',
        '--tcp-flags',
        'syn,ACK',
        '--tcp-flags',
        'fin',
        '--traffic-direction',
        'Ingress',
        '-4',
        '--ip-version',
        'v6',
        '--http-status',
        '5+',
        '--http-path',
        '/api/.*',
        '--http-url',
        'http://x/.*',
        '--http-header',
        'x-id:a:b',
        '--node-name',
        'k8s*',
        '--node-label',
        'zone=a',
        '--uuid',
        'u-1',
        '--interface',
        'eth0',
        '--trace-id',
        't1',
        '--ip-trace-id',
        '77',
        '--cel-expression',
        "_flow.verdict == 'DROPPED'",
        '--encrypted',
      ],
      want: req({
        number: '20',
        whitelist: [
          f({
            verdict: [Verdict.FORWARDED, Verdict.DROPPED],
            dropReasonDesc: [DropReason.POLICY_DENIED],
            tcpFlags: [
              { ...flags, SYN: true, ACK: true },
              { ...flags, FIN: true },
            ],
            trafficDirection: [TrafficDirection.INGRESS],
            ipVersion: [IPVersion.IPv4, IPVersion.IPv6],
            httpStatusCode: ['5+'],
            httpPath: ['/api/.*'],
            httpUrl: ['http://x/.*'],
            httpHeader: [{ key: 'x-id', value: 'a:b' }],
            nodeName: ['k8s*'],
            nodeLabels: ['zone=a'],
            uuid: ['u-1'],
            interface: [{ index: 0, name: 'eth0' }],
            traceId: ['t1'],
            ipTraceId: [77],
            experimental: { celExpression: ["_flow.verdict == 'DROPPED'"] },
            encrypted: [true],
          }),
        ],
      }),
    },
    {
      name: 'raw --allowlist/--denylist JSON come after the flag filters',
      args: [
        '--from-ip',
        '1.1.1.1',
        '--allowlist',
        '{"destination_pod":["ns/"],"reply":[false]}',
        '--denylist',
        '{"dns_query":[".*\\\\.local"]}',
      ],
      want: req({
        number: '20',
        whitelist: [f({ sourceIp: ['1.1.1.1'] }), f({ destinationPod: ['ns/'], reply: [false] })],
        blacklist: [f({ dnsQuery: ['.*\\.local'] })],
      }),
    },
    {
      name: '--field-mask with json output goes in the top-level field_mask',
      args: ['-o', 'json', '--field-mask', 'time,source.identity', '--field-mask', 'verdict'],
      want: req({ number: '20', fieldMask: ['time', 'source.identity', 'verdict'] }),
    },
    {
      name: '--experimental-field-mask goes in the experimental section',
      args: ['-o', 'jsonpb', '--experimental-field-mask', 'time'],
      want: req({ number: '20', experimental: { fieldMask: ['time'] } }),
    },
    {
      name: '--use-default-field-masks asks for what the printer shows',
      args: ['--use-default-field-masks', '--last', '1'],
      want: req({
        number: '1',
        fieldMask: [
          'time',
          'source.identity',
          'source.namespace',
          'source.pod_name',
          'destination.identity',
          'destination.namespace',
          'destination.pod_name',
          'source_service',
          'destination_service',
          'l4',
          'IP',
          'ethernet',
          'l7',
          'Type',
          'node_name',
          'is_reply',
          'event_type',
          'verdict',
          'Summary',
        ],
      }),
    },
  ];

  it.each(cases)('$name', async ({ args, want }) => {
    const { request } = await planFor([...args]);
    // Relative times are taken from the real clock; pin them to NOW for comparison.
    if (args.includes('5m')) {
      const drift = request.since!.seconds - (NOW.getTime() / 1000 - 300);
      request.since = { seconds: request.since!.seconds - drift, nanos: 0 };
    }
    expect(request).toEqual(want);
    // And the bytes on the wire are those of the expected request.
    expect(Buffer.from(GetFlowsRequest.encode(request).finish())).toEqual(
      Buffer.from(GetFlowsRequest.encode(want).finish()),
    );
  });

  it('--all asks for 2^64-1 flows on the wire', async () => {
    const { request } = await planFor(['--all']);
    const bytes = Buffer.from(GetFlowsRequest.encode(request).finish());
    expect(bytes.toString('hex')).toBe('08ffffffffffffffffff01');
  });
});

describe('observe rejects flag combinations hubble rejects', () => {
  const cases: { args: string[]; error: string }[] = [
    { args: ['--not', '--not', '--ip', '1.1.1.1'], error: 'consecutive --not statements' },
    { args: ['--ip', '1.1.1.1', '--not'], error: 'trailing --not found in the arguments' },
    { args: ['--label', 'a', '--from-label', 'b'], error: 'filters --label and --from-label cannot be combined' },
    { args: ['--namespace', 'a', '--from-pod', 'x'], error: 'filters --from-pod and --namespace cannot be combined' },
    { args: ['--from-ip', '1.1.1.1', '--from-pod', 'x'], error: 'filters --from-ip and --from-pod cannot be combined' },
    {
      args: ['--to-namespace', 'a', '--to-service', 'b/svc'],
      error: 'namespace conflict: "a" does not contain "b/svc"',
    },
    { args: ['--verdict', 'NOPE'], error: 'invalid --verdict value: NOPE' },
    { args: ['--drop-reason-desc', 'NOPE'], error: 'invalid --drop-reason-desc value: NOPE' },
    { args: ['--tcp-flags', 'syn,bogus'], error: 'unknown tcp flag: bogus' },
    { args: ['--traffic-direction', 'up'], error: 'up: invalid traffic direction, expected ingress or egress' },
    { args: ['--identity', 'nobody'], error: 'invalid security identity' },
    { args: ['--type', 'nope'], error: "unable to parse type 'nope'" },
    { args: ['--type', 'trace:sideways'], error: "unable to parse event sub-type 'sideways'" },
    { args: ['--ip-trace-id', '0'], error: 'invalid --ip-trace-id value; must be greater than 0' },
    { args: ['--http-header', 'nocolon'], error: 'invalid http-header value "nocolon", expected name:value' },
    { args: ['--first', '1', '--last', '1'], error: 'cannot set both --first and --last' },
    { args: ['--first', '1', '--all'], error: 'cannot set both --first and --all' },
    { args: ['--first', '1', '-f'], error: 'cannot set both --first and --follow' },
    { args: ['--last', '1', '--all'], error: 'cannot set both --last and --all' },
    { args: ['-o', 'table', '-f'], error: 'table output format is not compatible with follow mode' },
    { args: ['-o', 'yaml'], error: 'invalid output format: yaml' },
    { args: ['--field-mask', 'time'], error: 'compact output format is not compatible with custom field mask' },
    { args: ['--since', 'yesterday'], error: 'failed to parse the since time "yesterday"' },
    { args: ['--allowlist', '{"no_such_field":1}'], error: 'invalid --allowlist flag' },
  ];
  it.each(cases)('$error', async ({ args, error }) => {
    await expect(planFor(args)).rejects.toThrow(error);
  });
});

describe('observe printer settings', () => {
  const cases: { args: string[]; ipTranslation: boolean }[] = [
    { args: [], ipTranslation: true },
    { args: ['--ip-translation=false'], ipTranslation: false },
    { args: ['--ip-translation', 'false'], ipTranslation: false },
    { args: ['--no-ip-translation'], ipTranslation: false },
    { args: ['--ip-translation'], ipTranslation: true },
    { args: ['--numeric'], ipTranslation: false },
  ];
  it.each(cases)(
    '$args: IP translation $ipTranslation, as Go reads the boolean flag',
    async ({ args, ipTranslation }) => {
      expect((await planFor(args)).printer.ipTranslation).toBe(ipTranslation);
    },
  );

  it('refuses a boolean it cannot read', async () => {
    await expect(planFor(['--ip-translation=maybe'])).rejects.toThrow(
      'invalid argument "maybe" for "--ip-translation" flag: expected true or false',
    );
  });
});
