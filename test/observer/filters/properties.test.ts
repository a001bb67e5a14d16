// Properties over random FlowFilters built from valid values and random flows: compiling and
// evaluating never throws, a filter denied as well as allowed selects nothing, and the lists
// combine as plain OR / AND-NOT of their members.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AgentEvent,
  AgentEventType,
  DebugEvent,
  DebugEventType,
  DropReason,
  Flow,
  FlowFilter,
  IPVersion,
  TrafficDirection,
  Verdict,
  type DeepPartial,
} from '../../../src/api/flow/flow.js';
import {
  compileEventFilters,
  compileFlowFilter,
  compileFlowFilters,
  type FilterableEvent,
} from '../../../src/observer/filters/index.js';
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
      { type: 130, matchSubType: false, subType: 0 },
      { type: 2, matchSubType: false, subType: 0 },
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

/** Filters a long list is indexed by: addresses and ports, now and then with another field beside them. */
const keyedFilterArb = fc
  .tuple(
    fc.record(
      {
        sourceIp: fc.array(fc.constantFrom(...IPS), { minLength: 1, maxLength: 2 }),
        destinationIp: fc.array(fc.constantFrom(...IPS, '10.0.2.20', '::1'), { minLength: 1, maxLength: 2 }),
        sourceIpXlated: fc.array(fc.constantFrom(...IPS), { minLength: 1, maxLength: 2 }),
        sourcePort: fc.array(fc.constantFrom('80', '0', '53', '0443', '65535'), { minLength: 1, maxLength: 2 }),
        destinationPort: fc.array(fc.constantFrom('80', '53', '443'), { minLength: 1, maxLength: 2 }),
      },
      { requiredKeys: [] },
    ),
    filterArb,
    fc.option(fc.constantFrom<keyof FlowFilter>('verdict', 'protocol', 'sourcePod', 'reply', 'eventType')),
  )
  .filter(([keyed]) => Object.keys(keyed).length > 0)
  .map(([keyed, full, other]) => {
    const ff = FlowFilter.fromPartial(keyed);
    if (other !== null) (ff as unknown as Record<string, unknown>)[other] = full[other];
    return ff;
  });

/** Filters no test flow passes (other addresses, prefixes and ports), so a long list's answer is its few others'. */
const noiseFilterArb = fc
  .record(
    {
      sourceIp: fc.array(
        fc.oneof(
          fc.tuple(fc.nat(255), fc.nat(255)).map(([c, d]) => `198.18.${c}.${d}`),
          fc.tuple(fc.nat(255), fc.constantFrom(16, 24, 32)).map(([c, bits]) => `198.19.${c}.0/${bits}`),
          fc.nat(0xffff).map((w) => `2001:db8:${w.toString(16)}::/48`),
        ),
        { minLength: 1, maxLength: 3 },
      ),
      destinationPort: fc.array(fc.integer({ min: 20000, max: 29999 }).map(String), { minLength: 1, maxLength: 2 }),
    },
    { requiredKeys: [] },
  )
  .filter((partial) => Object.keys(partial).length > 0)
  .map((partial) => FlowFilter.fromPartial(partial));

/** A long list (long enough to be indexed): mostly filters that pass nothing, and a few that may pass a flow. */
const longListArb = fc
  .tuple(
    fc.array(noiseFilterArb, { minLength: 16, maxLength: 40 }),
    fc.array(
      fc.oneof(
        { arbitrary: keyedFilterArb, weight: 4 },
        { arbitrary: smallFilterArb.filter((ff) => compileFlowFilter(ff).length > 0), weight: 1 },
      ),
      { minLength: 1, maxLength: 3 },
    ),
    fc.nat(),
  )
  .map(([noise, others, at]) => {
    const list = [...noise];
    for (const [i, ff] of others.entries()) list.splice((at + i * 7) % (list.length + 1), 0, ff);
    return list;
  });

/** Ports up to `max`, often ones the filters name (65616 is 80 in its low 16 bits, as upstream compares). */
const portArb = (max: number) => fc.oneof(fc.constantFrom(0, 53, 80, 443, 65535, 65616), fc.nat(max));

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
        fc.record({ TCP: fc.record({ sourcePort: portArb(70000), destinationPort: portArb(65535), flags: tcpFlags }) }),
        fc.record({ UDP: fc.record({ sourcePort: portArb(65535), destinationPort: portArb(65535) }) }),
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

const NON_FLOW_EVENTS: FilterableEvent[] = [
  { kind: 'agent', agentEvent: AgentEvent.fromPartial({ type: AgentEventType.POLICY_UPDATED }) },
  { kind: 'debug', debugEvent: DebugEvent.fromPartial({ type: DebugEventType.DBG_CT_LOOKUP4 }) },
  { kind: 'lost' },
];

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

  it('OR and AND NOT long lists as they do short ones (a long list is indexed by address and port)', () => {
    const one = (ff: FlowFilter, flow: Flow) => compileFlowFilters([ff], [])(flow);
    const oneEvent = (ff: FlowFilter, event: FilterableEvent) => compileEventFilters([ff], [])(event);
    fc.assert(
      fc.property(
        longListArb,
        fc.oneof(fc.constant([]), longListArb),
        fc.array(flowArb, { minLength: 1, maxLength: 6 }),
        (allow, deny, fs) => {
          const flowCheck = compileFlowFilters(allow, deny);
          const eventCheck = compileEventFilters(allow, deny);
          for (const flow of fs) {
            const expected = allow.some((ff) => one(ff, flow)) && !deny.some((ff) => one(ff, flow));
            expect(flowCheck(flow)).toBe(expected);
            expect(eventCheck({ kind: 'flow', flow })).toBe(expected);
          }
          for (const event of NON_FLOW_EVENTS) {
            const expected = allow.some((ff) => oneEvent(ff, event)) && !deny.some((ff) => oneEvent(ff, event));
            expect(eventCheck(event)).toBe(expected);
          }
        },
      ),
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
