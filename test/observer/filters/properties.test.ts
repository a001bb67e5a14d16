// Properties over random FlowFilters built from valid values and random flows: compiling and
// evaluating never throws, a filter denied as well as allowed selects nothing, and the lists
// combine as plain OR / AND-NOT of their members.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DropReason,
  Flow,
  FlowFilter,
  IPVersion,
  TrafficDirection,
  Verdict,
  type DeepPartial,
} from '../../../src/api/flow/flow.js';
import { compileEventFilters, compileFlowFilters } from '../../../src/observer/filters/index.js';
import { flows } from './flows.js';

const some = <T>(...values: T[]) => fc.array(fc.constantFrom(...values), { maxLength: 3 });
const bool = fc.boolean();
const tcpFlags = fc.record({
  FIN: bool,
  SYN: bool,
  RST: bool,
  PSH: bool,
  ACK: bool,
  URG: bool,
  ECE: bool,
  CWR: bool,
  NS: bool,
});

const IPS = [
  '10.0.1.15',
  '10.0.0.0/8',
  '10.0.2.0/24',
  'fd00::/8',
  '0.0.0.0/0',
  '::/0',
  '192.168.10.0/24',
  'fd00:20:244:7::5',
  '::ffff:1.2.3.4',
  'fe80::1%eth0',
];
const NAMES = ['xwing', 'default/', 'kube-system/coredns', '/', 'db/postgres', '/tie', 'deathstar'];
const LABELS = [
  'org=empire',
  'k8s:class in (xwing, tiefighter)',
  '!k8s:org',
  'reserved:world',
  'cidr:10.0.0.0/8',
  'tier notin (backend)',
  '',
  'replicas>2',
];
const FQDNS = ['*.github.com', 'api.github.com', '*', 'db-*.other.example.com', 'cilium.io.'];
const REGEXPS = ['^/v1/', 'force=true', '(?i)GITHUB', '.*', '[[:digit:]]+', '\\Aapi'];

const filterArb: fc.Arbitrary<FlowFilter> = fc
  .record({
    uuid: some('a1b2c3d4-0001-4000-8000-000000000001', 'nope'),
    sourceIp: some(...IPS),
    sourceIpXlated: some(...IPS),
    destinationIp: some(...IPS),
    sourcePod: some(...NAMES),
    destinationPod: some(...NAMES),
    sourceService: some(...NAMES),
    destinationService: some(...NAMES),
    sourceFqdn: some(...FQDNS),
    destinationFqdn: some(...FQDNS),
    sourceLabel: some(...LABELS),
    destinationLabel: some(...LABELS),
    nodeLabels: some('topology.kubernetes.io/zone=eu-west-1b', 'node-role.kubernetes.io/worker', '!x'),
    sourceWorkload: some({ kind: '', name: 'xwing' }, { kind: 'Deployment', name: '' }, { kind: '', name: '' }),
    destinationWorkload: some({ kind: 'StatefulSet', name: 'postgres' }),
    sourceClusterName: some('test-cluster', 'other-cluster'),
    destinationClusterName: some('test-cluster', 'other-cluster'),
    trafficDirection: some(
      TrafficDirection.INGRESS,
      TrafficDirection.EGRESS,
      TrafficDirection.TRAFFIC_DIRECTION_UNKNOWN,
    ),
    verdict: some(Verdict.FORWARDED, Verdict.DROPPED, Verdict.VERDICT_UNKNOWN),
    dropReasonDesc: some(DropReason.POLICY_DENIED, DropReason.DROP_REASON_UNKNOWN),
    interface: some({ index: 2, name: '' }, { index: 0, name: 'eth0' }, { index: 0, name: '' }),
    eventType: some(
      { type: 4, matchSubType: false, subType: 0 },
      { type: 129, matchSubType: false, subType: 0 },
      { type: 4, matchSubType: true, subType: 0 },
      { type: 0, matchSubType: true, subType: 133 },
    ),
    httpStatusCode: some('200', '5+', '40+'),
    protocol: some('tcp', 'UDP', 'icmp', 'icmpv6', 'sctp', 'http', 'dns', 'kafka', 'vrrp', 'igmp'),
    sourcePort: some('80', '0', '53', '0443'),
    destinationPort: some('80', '65535', '53'),
    reply: some(true, false),
    dnsQuery: some(...REGEXPS),
    sourceIdentity: some(0, 2, 12345),
    destinationIdentity: some(2, 23456),
    httpMethod: some('get', 'POST'),
    httpPath: some(...REGEXPS),
    httpUrl: some(...REGEXPS),
    httpHeader: some({ key: 'retry-after', value: '30' }),
    tcpFlags: fc.array(tcpFlags, { maxLength: 2 }),
    nodeName: some('k8s*', 'default/k8s-worker-1', 'other-cluster/', 'K8S-WORKER-2'),
    ipVersion: some(IPVersion.IPv4, IPVersion.IPv6, IPVersion.IP_NOT_USED),
    traceId: some('', '4bf92f3577b34da6a3ce929d0e0e4736'),
    ipTraceId: some(0, 4242),
    encrypted: some(true, false),
    cel: some('_flow.verdict == Verdict.DROPPED', "_flow.l7.http.headers[0].key == 'x'"),
  })
  .map(({ cel, ...fields }) => {
    const ff = FlowFilter.fromPartial({ ...fields, experimental: cel.length > 0 ? { celExpression: cel } : undefined });
    // HTTP fields need an event type list that can select L7 events, or none.
    const hasHttp =
      ff.httpStatusCode.length + ff.httpMethod.length + ff.httpPath.length + ff.httpUrl.length + ff.httpHeader.length >
      0;
    if (hasHttp && ff.eventType.length > 0 && !ff.eventType.some((t) => t.type === 129)) {
      ff.eventType.push({ type: 129, matchSubType: false, subType: 0 });
    }
    return ff;
  });

/** Mostly small filters: a random subset of the fields of a random full filter. */
const smallFilterArb = fc
  .tuple(filterArb, fc.subarray(Object.keys(FlowFilter.fromPartial({})) as (keyof FlowFilter)[], { maxLength: 3 }))
  .map(([full, keep]) => {
    const ff = FlowFilter.fromPartial({});
    for (const k of keep) (ff as unknown as Record<string, unknown>)[k] = full[k];
    if (keep.some((k) => k.startsWith('http')) && ff.eventType.length > 0)
      ff.eventType.push({ type: 129, matchSubType: false, subType: 0 });
    return ff;
  });

const randomFlowArb: fc.Arbitrary<Flow> = fc
  .record(
    {
      verdict: fc.constantFrom(0, 1, 2, 5),
      IP: fc.record({
        source: fc.constantFrom(...IPS, '', 'garbage'),
        destination: fc.constantFrom('10.0.2.20', '::1', ''),
        ipVersion: fc.constantFrom(0, 1, 2),
        encrypted: bool,
      }),
      l4: fc.oneof(
        fc.record({ TCP: fc.record({ sourcePort: fc.nat(70000), destinationPort: fc.nat(65535), flags: tcpFlags }) }),
        fc.record({ UDP: fc.record({ sourcePort: fc.nat(65535), destinationPort: fc.nat(65535) }) }),
        fc.record({ ICMPv6: fc.record({ type: fc.nat(255), code: fc.nat(255) }) }),
      ),
      source: fc.record({
        namespace: fc.constantFrom('', 'default', 'db'),
        podName: fc.constantFrom('', 'xwing-1', 'postgres-0'),
        labels: some('k8s:org=empire', 'reserved:world', 'cidr:10.1.0.0/16', 'k8s:replicas=7', ':odd', '$host', 'junk'),
        identity: fc.nat(70000),
      }),
      l7: fc.record({
        http: fc.record({
          code: fc.nat(1200),
          method: fc.constantFrom('', 'get', 'PUT'),
          url: fc.constantFrom('', '/v1/x?force=true', 'http://a/%zz', 'not a url', 'http://api.github.com/'),
        }),
      }),
      eventType: fc.record({ type: fc.constantFrom(1, 4, 129), subType: fc.nat(255) }),
      nodeName: fc.constantFrom('', 'k8s-worker-1', 'other-cluster/db-node-1.example.com', 'UPPER'),
      sourceNames: some('api.github.com', 'API.GITHUB.COM', 'x_y.github.com'),
      isReply: fc.option(bool, { nil: undefined }),
    },
    { requiredKeys: [] },
  )
  .map((partial) => Flow.fromPartial(partial as DeepPartial<Flow>));

const flowArb = fc.oneof(fc.constantFrom(...flows.values()), randomFlowArb);

describe('random valid filters over random flows', () => {
  it('compile and evaluate without throwing', () => {
    fc.assert(
      fc.property(filterArb, fc.array(flowArb, { minLength: 1, maxLength: 8 }), (ff, fs) => {
        const pass = compileFlowFilters([ff], []);
        for (const f of fs) expect(typeof pass(f)).toBe('boolean');
      }),
      { numRuns: 150 },
    );
  });

  it('select nothing when the same filter is also denied', () => {
    fc.assert(
      fc.property(smallFilterArb, flowArb, (ff, flow) => {
        expect(compileFlowFilters([ff], [ff])(flow)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('OR allow filters and AND NOT deny filters', () => {
    fc.assert(
      fc.property(smallFilterArb, smallFilterArb, smallFilterArb, flowArb, (a, b, d, flow) => {
        const one = (ff: FlowFilter) => compileFlowFilters([ff], [])(flow);
        expect(compileFlowFilters([a, b], [d])(flow)).toBe((one(a) || one(b)) && !one(d));
      }),
      { numRuns: 300 },
    );
  });

  it('decide flows the same way whether given as flows or as events', () => {
    fc.assert(
      fc.property(smallFilterArb, smallFilterArb, flowArb, (a, d, flow) => {
        expect(compileEventFilters([a], [d])({ kind: 'flow', flow })).toBe(compileFlowFilters([a], [d])(flow));
      }),
      { numRuns: 200 },
    );
  });
});
