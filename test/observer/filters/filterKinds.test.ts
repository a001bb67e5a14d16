// Each FlowFilter field on its own: flows it selects, flows it does not, and values it refuses.
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
import { compileFlowFilters, FilterError } from '../../../src/observer/filters/index.js';

type Case = [title: string, filter: DeepPartial<FlowFilter>, flow: DeepPartial<Flow>, expected: boolean];
type BadCase = [title: string, filter: DeepPartial<FlowFilter>, message: RegExp];

function matches(filter: DeepPartial<FlowFilter>, flow: DeepPartial<Flow>): boolean {
  return compileFlowFilters([FlowFilter.fromPartial(filter)], [])(Flow.fromPartial(flow));
}

function table(kind: string, cases: Case[], bad: BadCase[] = []): void {
  describe(kind, () => {
    it.each(cases)('%s', (_title, filter, flow, expected) => {
      expect(matches(filter, flow)).toBe(expected);
    });
    if (bad.length > 0) {
      it.each(bad)('refuses %s', (_title, filter, message) => {
        const compile = () => compileFlowFilters([FlowFilter.fromPartial(filter)], []);
        expect(compile).toThrow(FilterError);
        expect(compile).toThrow(message);
      });
    }
  });
}

const NO_FLAGS = {
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
const l7 = { eventType: { type: 129, subType: 0 } };
const http = (h: DeepPartial<NonNullable<NonNullable<Flow['l7']>['http']>>) => ({
  ...l7,
  l7: { http: { method: 'GET', url: 'http://svc/', ...h } },
});

table('uuid', [
  ['selects the flow with that id', { uuid: ['f-1', 'f-2'] }, { uuid: 'f-2' }, true],
  ['passes other flows by', { uuid: ['f-1'] }, { uuid: 'f-3' }, false],
]);

table('event_type', [
  ['selects by type', { eventType: [{ type: 4 }] }, { eventType: { type: 4, subType: 5 } }, true],
  [
    'selects by type and sub type',
    { eventType: [{ type: 4, matchSubType: true, subType: 5 }] },
    { eventType: { type: 4, subType: 5 } },
    true,
  ],
  [
    'tells sub types apart',
    { eventType: [{ type: 4, matchSubType: true, subType: 3 }] },
    { eventType: { type: 4, subType: 5 } },
    false,
  ],
  [
    'matches sub type 0 only when asked to',
    { eventType: [{ type: 4, matchSubType: true, subType: 0 }] },
    { eventType: { type: 4, subType: 0 } },
    true,
  ],
  [
    'ignores sub_type unless match_sub_type',
    { eventType: [{ type: 4, subType: 9 }] },
    { eventType: { type: 4, subType: 5 } },
    true,
  ],
  [
    'reads type 0 as any type',
    { eventType: [{ type: 0, matchSubType: true, subType: 133 }] },
    { eventType: { type: 1, subType: 133 } },
    true,
  ],
  [
    'selects L7 flows by the access log type they carry',
    { eventType: [{ type: 129 }] },
    { Type: 2, eventType: { type: 129 } },
    true,
  ],
  ['passes other types by', { eventType: [{ type: 1 }] }, { eventType: { type: 4 } }, false],
  ['never selects a flow without an event type', { eventType: [{ type: 0 }] }, {}, false],
]);

table(
  'verdict',
  [
    [
      'selects flows with a listed verdict',
      { verdict: [Verdict.DROPPED, Verdict.AUDIT] },
      { verdict: Verdict.AUDIT },
      true,
    ],
    ['passes others by', { verdict: [Verdict.DROPPED] }, { verdict: Verdict.FORWARDED }, false],
  ],
  [['an unknown verdict', { verdict: [42 as Verdict] }, /verdict: 42 is not a known Verdict value/]],
);

table(
  'drop_reason_desc',
  [
    [
      'selects drops with a listed reason',
      { dropReasonDesc: [DropReason.POLICY_DENIED] },
      { verdict: Verdict.DROPPED, dropReasonDesc: DropReason.POLICY_DENIED },
      true,
    ],
    [
      'passes other reasons by',
      { dropReasonDesc: [DropReason.POLICY_DENIED] },
      { verdict: Verdict.DROPPED, dropReasonDesc: DropReason.CT_MAP_INSERTION_FAILED },
      false,
    ],
    [
      'ignores the reason of a flow that was not dropped',
      { dropReasonDesc: [DropReason.POLICY_DENIED] },
      { verdict: Verdict.FORWARDED, dropReasonDesc: DropReason.POLICY_DENIED },
      false,
    ],
  ],
  [
    [
      'an unknown drop reason',
      { dropReasonDesc: [12 as DropReason] },
      /drop_reason_desc: 12 is not a known DropReason value/,
    ],
  ],
);

table('reply', [
  ['selects replies', { reply: [true] }, { isReply: true }, true],
  ['passes non-replies by when asked for replies', { reply: [true] }, { isReply: false }, false],
  ['selects non-replies', { reply: [false] }, { isReply: false }, true],
  ['never selects a flow that does not know', { reply: [true, false] }, { verdict: Verdict.FORWARDED }, false],
  ['counts a drop that does not know as a non-reply', { reply: [false] }, { verdict: Verdict.DROPPED }, true],
  ['does not count such a drop as a reply', { reply: [true] }, { verdict: Verdict.DROPPED }, false],
]);

table('encrypted', [
  ['selects encrypted flows', { encrypted: [true] }, { IP: { encrypted: true } }, true],
  ['passes plain flows by when asked for encrypted', { encrypted: [true] }, { IP: { encrypted: false } }, false],
  ['selects plain flows', { encrypted: [false] }, { IP: { encrypted: false } }, true],
  ['counts a flow without IP as not encrypted', { encrypted: [false] }, {}, true],
  ['never counts a flow without IP as encrypted', { encrypted: [true] }, {}, false],
]);

table('source_identity / destination_identity', [
  ['selects by source identity', { sourceIdentity: [2, 12345] }, { source: { identity: 12345 } }, true],
  [
    'passes other identities by',
    { sourceIdentity: [2] },
    { source: { identity: 3 }, destination: { identity: 2 } },
    false,
  ],
  ['selects by destination identity', { destinationIdentity: [2] }, { destination: { identity: 2 } }, true],
  ['selects identity 0 of an endpoint that has none', { sourceIdentity: [0] }, { source: {} }, true],
  ['never selects a flow without that endpoint', { sourceIdentity: [0] }, {}, false],
]);

table(
  'protocol',
  [
    ['selects TCP whatever the case', { protocol: ['TcP'] }, { l4: { TCP: {} } }, true],
    ['selects UDP', { protocol: ['udp'] }, { l4: { UDP: {} } }, true],
    ['selects ICMPv4 as icmp', { protocol: ['icmp'] }, { l4: { ICMPv4: {} } }, true],
    ['selects ICMPv6 as icmp', { protocol: ['icmp'] }, { l4: { ICMPv6: {} } }, true],
    ['tells icmpv4 from icmpv6', { protocol: ['icmpv4'] }, { l4: { ICMPv6: {} } }, false],
    ['selects icmpv6', { protocol: ['ICMPv6'] }, { l4: { ICMPv6: {} } }, true],
    ['selects SCTP', { protocol: ['sctp'] }, { l4: { SCTP: {} } }, true],
    ['selects VRRP', { protocol: ['vrrp'] }, { l4: { VRRP: {} } }, true],
    ['selects IGMP', { protocol: ['igmp'] }, { l4: { IGMP: {} } }, true],
    ['selects HTTP', { protocol: ['http'] }, { l4: { TCP: {} }, l7: { http: {} } }, true],
    ['selects DNS', { protocol: ['DNS'] }, { l4: { UDP: {} }, l7: { dns: {} } }, true],
    ['selects Kafka', { protocol: ['kafka'] }, { l7: { kafka: {} } }, true],
    ['selects the L4 protocol under an L7 record', { protocol: ['udp'] }, { l4: { UDP: {} }, l7: { dns: {} } }, true],
    ['passes other protocols by', { protocol: ['tcp', 'http'] }, { l4: { UDP: {} }, l7: { dns: {} } }, false],
    ['never selects a flow without L4 or L7', { protocol: ['tcp'] }, {}, false],
  ],
  [
    [
      'an unknown protocol',
      { protocol: ['tcp', 'quic'] },
      /protocol: "quic" is not a known protocol \(tcp, udp, icmp, icmpv4, icmpv6, sctp, vrrp, igmp, http, dns, kafka\)/,
    ],
  ],
);

table(
  'source_ip / destination_ip / source_ip_xlated',
  [
    ['selects an exact IPv4 address', { sourceIp: ['10.0.0.1'] }, { IP: { source: '10.0.0.1' } }, true],
    ['selects an exact IPv6 address', { sourceIp: ['fd00::1'] }, { IP: { source: 'fd00::1' } }, true],
    [
      'compares exact addresses as written, as upstream does',
      { sourceIp: ['FD00::1'] },
      { IP: { source: 'fd00::1' } },
      false,
    ],
    ['selects inside an IPv4 CIDR', { sourceIp: ['10.0.0.0/8'] }, { IP: { source: '10.200.3.4' } }, true],
    ['passes addresses outside the CIDR by', { sourceIp: ['10.0.0.0/16'] }, { IP: { source: '10.1.0.1' } }, false],
    ['ignores host bits in the CIDR', { sourceIp: ['10.1.2.3/8'] }, { IP: { source: '10.9.9.9' } }, true],
    ['matches a /31 boundary exactly', { sourceIp: ['192.168.1.6/31'] }, { IP: { source: '192.168.1.7' } }, true],
    ['and not one past it', { sourceIp: ['192.168.1.6/31'] }, { IP: { source: '192.168.1.8' } }, false],
    [
      'selects inside an IPv6 CIDR',
      { sourceIp: ['2001:db8:aa00::/40'] },
      { IP: { source: '2001:db8:aaff:1::7' } },
      true,
    ],
    [
      'passes IPv6 outside the CIDR by',
      { sourceIp: ['2001:db8:aa00::/40'] },
      { IP: { source: '2001:db8:ab00::1' } },
      false,
    ],
    [
      'never puts an IPv4-mapped IPv6 address in an IPv4 CIDR',
      { sourceIp: ['1.2.3.0/24'] },
      { IP: { source: '::ffff:1.2.3.4' } },
      false,
    ],
    ['never puts an IPv4 address in ::/0', { sourceIp: ['::/0'] }, { IP: { source: '1.2.3.4' } }, false],
    ['puts every IPv4 address in 0.0.0.0/0', { sourceIp: ['0.0.0.0/0'] }, { IP: { source: '1.2.3.4' } }, true],
    ['never puts a zoned address in a CIDR', { sourceIp: ['fe80::/10'] }, { IP: { source: 'fe80::1%eth0' } }, false],
    [
      'selects an embedded IPv4 IPv6 address',
      { sourceIp: ['64:ff9b::/96'] },
      { IP: { source: '64:ff9b::192.0.2.33' } },
      true,
    ],
    [
      'ORs exact addresses and CIDRs',
      { sourceIp: ['10.0.0.1', '192.168.0.0/16'] },
      { IP: { source: '192.168.7.7' } },
      true,
    ],
    ['never selects a flow without IP', { sourceIp: ['0.0.0.0/0'] }, {}, false],
    [
      'selects by destination',
      { destinationIp: ['10.0.0.0/8'] },
      { IP: { source: '1.1.1.1', destination: '10.0.0.9' } },
      true,
    ],
    [
      'looks only at the destination',
      { destinationIp: ['10.0.0.0/8'] },
      { IP: { source: '10.0.0.9', destination: '1.1.1.1' } },
      false,
    ],
    [
      'selects by the SNAT address',
      { sourceIpXlated: ['192.168.10.0/24'] },
      { IP: { source: '10.0.0.1', sourceXlated: '192.168.10.11' } },
      true,
    ],
    [
      'never selects an un-NATed flow by SNAT address',
      { sourceIpXlated: ['10.0.0.1'] },
      { IP: { source: '10.0.0.1' } },
      false,
    ],
  ],
  [
    [
      'a prefix length out of range',
      { sourceIp: ['10.0.0.0/99'] },
      /source_ip: "10.0.0.0\/99" is not an IP address or CIDR/,
    ],
    [
      'an octet over 255',
      { destinationIp: ['10.0.0.256'] },
      /destination_ip: "10.0.0.256" is not an IP address or CIDR: IPv4 field has value >255/,
    ],
    ['an octet with a leading zero', { sourceIp: ['010.0.0.1'] }, /leading zero/],
    ['prefix bits with a leading zero', { sourceIp: ['10.0.0.0/08'] }, /bad bits after slash/],
    ['a zone in a CIDR', { sourceIp: ['fe80::1%eth0/64'] }, /zones cannot be present in a prefix/],
    ['two ::', { sourceIpXlated: ['fd00::1::2'] }, /source_ip_xlated: "fd00::1::2" .*multiple ::/],
    ['a hostname', { sourceIp: ['example.com'] }, /is not an IP address or CIDR/],
    ['an empty address', { sourceIp: [''] }, /source_ip: "" is not an IP address or CIDR/],
  ],
);

table(
  'ip_version',
  [
    ['selects IPv4', { ipVersion: [IPVersion.IPv4] }, { IP: { ipVersion: IPVersion.IPv4 } }, true],
    [
      'passes IPv6 by when asked for IPv4',
      { ipVersion: [IPVersion.IPv4] },
      { IP: { ipVersion: IPVersion.IPv6 } },
      false,
    ],
    ['selects flows without IP as IP_NOT_USED', { ipVersion: [IPVersion.IP_NOT_USED] }, {}, true],
  ],
  [['an unknown version', { ipVersion: [5 as IPVersion] }, /ip_version: 5 is not a known IPVersion value/]],
);

table(
  'source_pod / destination_pod',
  [
    [
      'reads a bare name as a pod name prefix in "default"',
      { sourcePod: ['xwing'] },
      { source: { namespace: 'default', podName: 'xwing-5d8f' } },
      true,
    ],
    [
      'passes the same name in another namespace by',
      { sourcePod: ['xwing'] },
      { source: { namespace: 'rebels', podName: 'xwing' } },
      false,
    ],
    [
      'selects a namespaced prefix',
      { sourcePod: ['kube-system/coredns-'] },
      { source: { namespace: 'kube-system', podName: 'coredns-abc' } },
      true,
    ],
    [
      'matches names by prefix only',
      { sourcePod: ['kube-system/coredns-'] },
      { source: { namespace: 'kube-system', podName: '-coredns-abc' } },
      false,
    ],
    [
      'selects every pod of "ns/"',
      { destinationPod: ['kube-system/'] },
      { destination: { namespace: 'kube-system', podName: 'kube-proxy-x' } },
      true,
    ],
    [
      'reads an empty namespace as any namespace',
      { sourcePod: ['/coredns'] },
      { source: { namespace: 'kube-system', podName: 'coredns-1' } },
      true,
    ],
    ['reads "/" as any pod anywhere', { sourcePod: ['/'] }, { source: { namespace: 'db', podName: 'pg-0' } }, true],
    [
      'never selects an endpoint with neither namespace nor pod',
      { sourcePod: ['/'] },
      { source: { identity: 2 } },
      false,
    ],
    [
      'ignores what follows a second slash',
      { sourcePod: ['default/xwing/extra'] },
      { source: { namespace: 'default', podName: 'xwing-1' } },
      true,
    ],
    [
      'looks only at its own side',
      { destinationPod: ['xwing'] },
      { source: { namespace: 'default', podName: 'xwing' } },
      false,
    ],
  ],
  [
    [
      'an empty pod filter',
      { destinationPod: [''] },
      /destination_pod: "" is not a valid filter: it must be \[namespace\/\]\[<name>\]/,
    ],
  ],
);

table(
  'source_service / destination_service',
  [
    [
      'selects a service in "default"',
      { sourceService: ['deathstar'] },
      { sourceService: { namespace: 'default', name: 'deathstar' } },
      true,
    ],
    [
      'selects a namespaced service prefix',
      { destinationService: ['kube-system/kube-'] },
      { destinationService: { namespace: 'kube-system', name: 'kube-dns' } },
      true,
    ],
    [
      'passes other namespaces by',
      { destinationService: ['default/'] },
      { destinationService: { namespace: 'kube-system', name: 'kube-dns' } },
      false,
    ],
    ['never selects a flow without a service', { sourceService: ['/'] }, {}, false],
  ],
  [['an empty service filter', { sourceService: [''] }, /source_service: "" is not a valid filter/]],
);

table('source_workload / destination_workload', [
  [
    'selects by name of any kind',
    { sourceWorkload: [{ name: 'xwing' }] },
    { source: { workloads: [{ kind: 'Deployment', name: 'xwing' }] } },
    true,
  ],
  [
    'selects by kind of any name',
    { destinationWorkload: [{ kind: 'StatefulSet' }] },
    { destination: { workloads: [{ kind: 'StatefulSet', name: 'pg' }] } },
    true,
  ],
  [
    'needs kind and name to agree when both are given',
    { sourceWorkload: [{ kind: 'StatefulSet', name: 'xwing' }] },
    { source: { workloads: [{ kind: 'Deployment', name: 'xwing' }] } },
    false,
  ],
  ['never selects an endpoint without workloads', { sourceWorkload: [{}] }, { source: { workloads: [] } }, false],
]);

table(
  'source_cluster_name / destination_cluster_name',
  [
    ['selects by cluster', { sourceClusterName: ['aws-1', 'gke-1'] }, { source: { clusterName: 'gke-1' } }, true],
    [
      'compares names exactly, without wildcards',
      { destinationClusterName: ['gke-*'] },
      { destination: { clusterName: 'gke-1' } },
      false,
    ],
    ['never selects a flow without that endpoint', { sourceClusterName: ['aws-1'] }, {}, false],
  ],
  [
    [
      'an empty cluster name',
      { destinationClusterName: ['a', ''] },
      /destination_cluster_name: "" is not a cluster name: it must not be empty/,
    ],
  ],
);

table(
  'source_fqdn / destination_fqdn',
  [
    [
      'selects a name under a wildcard',
      { destinationFqdn: ['*.cilium.io'] },
      { destinationNames: ['docs.cilium.io'] },
      true,
    ],
    ['lets the star span labels', { destinationFqdn: ['*.cilium.io'] }, { destinationNames: ['a.b.cilium.io'] }, true],
    [
      'does not match the bare domain under "*."',
      { destinationFqdn: ['*.cilium.io'] },
      { destinationNames: ['cilium.io'] },
      false,
    ],
    [
      'selects when any of the names matches',
      { sourceFqdn: ['api.github.com'] },
      { sourceNames: ['lb.github.com', 'api.github.com'] },
      true,
    ],
    [
      'canonicalizes the pattern: case, spaces, one trailing dot',
      { sourceFqdn: [' API.GitHub.com. '] },
      { sourceNames: ['api.github.com'] },
      true,
    ],
    [
      'matches flow names as they are (lowercase)',
      { sourceFqdn: ['api.github.com'] },
      { sourceNames: ['API.github.com'] },
      false,
    ],
    [
      'accepts underscores literally',
      { destinationFqdn: ['_sip._tcp.example.com'] },
      { destinationNames: ['_sip._tcp.example.com'] },
      true,
    ],
    [
      'never lets the star match an underscore',
      { destinationFqdn: ['*.example.com'] },
      { destinationNames: ['_sip.example.com'] },
      false,
    ],
    ['never selects a flow without names', { destinationFqdn: ['*'] }, {}, false],
  ],
  [
    ['an empty pattern', { sourceFqdn: ['ok.com', ''] }, /source_fqdn: "" is not a valid FQDN pattern: empty pattern/],
    ['two trailing dots', { destinationFqdn: ['cilium.io..'] }, /multiple trailing dots/],
    ['a space inside', { destinationFqdn: ['foo bar.io'] }, /invalid rune in pattern/],
    ['a slash', { destinationFqdn: ['a/b'] }, /destination_fqdn: "a\/b" is not a valid FQDN pattern/],
  ],
);

table(
  'dns_query',
  [
    [
      'selects queries matching the expression',
      { dnsQuery: ['github\\.com\\.$'] },
      { l7: { dns: { query: 'api.github.com.' } } },
      true,
    ],
    [
      'matches anywhere in the query, as Go MatchString',
      { dnsQuery: ['github'] },
      { l7: { dns: { query: 'api.github.com.' } } },
      true,
    ],
    [
      'understands Go flags such as (?i)',
      { dnsQuery: ['(?i)^API\\.'] },
      { l7: { dns: { query: 'api.github.com.' } } },
      true,
    ],
    ['passes other queries by', { dnsQuery: ['^www\\.'] }, { l7: { dns: { query: 'api.github.com.' } } }, false],
    ['never selects a flow without DNS', { dnsQuery: ['.*'] }, { l7: { http: {} } }, false],
  ],
  [
    [
      'an expression that does not compile',
      { dnsQuery: ['(unclosed'] },
      /dns_query: "\(unclosed" is not a valid regular expression/,
    ],
    ['lookahead, which RE2 does not have', { dnsQuery: ['a(?=b)'] }, /invalid or unsupported Perl syntax/],
  ],
);

table(
  'source_label / destination_label / node_labels',
  [
    [
      'selects a bare key=value in any source',
      { sourceLabel: ['org=empire'] },
      { source: { labels: ['k8s:org=empire'] } },
      true,
    ],
    [
      'selects a source-prefixed key',
      { sourceLabel: ['k8s:org=empire'] },
      { source: { labels: ['k8s:org=empire'] } },
      true,
    ],
    [
      'tells label sources apart',
      { sourceLabel: ['container:org=empire'] },
      { source: { labels: ['k8s:org=empire'] } },
      false,
    ],
    [
      'selects reserved labels',
      { destinationLabel: ['reserved:world'] },
      { destination: { labels: ['reserved:world'] } },
      true,
    ],
    [
      'supports set-based in',
      { sourceLabel: ['k8s:class in (xwing, tiefighter)'] },
      { source: { labels: ['k8s:class=tiefighter'] } },
      true,
    ],
    [
      'supports notin, which also holds without the key',
      { sourceLabel: ['class notin (xwing)'] },
      { source: { labels: ['k8s:org=empire'] } },
      true,
    ],
    ['supports !key', { sourceLabel: ['!k8s:org'] }, { source: { labels: ['k8s:org=empire'] } }, false],
    [
      'ANDs the requirements of one selector',
      { sourceLabel: ['org=empire,class=xwing'] },
      { source: { labels: ['k8s:org=empire', 'k8s:class=tiefighter'] } },
      false,
    ],
    [
      'ORs selectors',
      { sourceLabel: ['class=xwing', 'class=tiefighter'] },
      { source: { labels: ['k8s:class=tiefighter'] } },
      true,
    ],
    [
      'lets a broader CIDR select a narrower CIDR label',
      { destinationLabel: ['cidr:10.0.0.0/8'] },
      { destination: { labels: ['cidr:10.1.2.0/24'] } },
      true,
    ],
    [
      'does not let a narrower CIDR select a broader label',
      { destinationLabel: ['cidr:10.1.2.0/24'] },
      { destination: { labels: ['cidr:10.0.0.0/8'] } },
      false,
    ],
    [
      'selects node labels',
      { nodeLabels: ['topology.kubernetes.io/zone in (a, b)'] },
      { nodeLabels: ['topology.kubernetes.io/zone=b'] },
      true,
    ],
    ['selects !key on a flow without that endpoint', { destinationLabel: ['!reserved:world'] }, {}, true],
  ],
  [
    [
      'a set without parentheses',
      { sourceLabel: ['app in x'] },
      /source_label: "app in x" is not a valid label selector: unable to parse requirement: found 'x' expected: '\('/,
    ],
    [
      'a value with a colon',
      { destinationLabel: ['k8s:app=a:b'] },
      /destination_label: .* must consist of alphanumeric characters/,
    ],
    ['a trailing comma', { nodeLabels: ['a=b,'] }, /node_labels: "a=b," is not a valid label selector/],
    [
      'a key that is not a qualified name',
      { sourceLabel: ['bad-=1'] },
      /name part must consist of alphanumeric characters/,
    ],
  ],
);

table(
  'source_port / destination_port',
  [
    ['selects a TCP source port', { sourcePort: ['80'] }, { l4: { TCP: { sourcePort: 80 } } }, true],
    ['selects a UDP destination port', { destinationPort: ['53'] }, { l4: { UDP: { destinationPort: 53 } } }, true],
    ['selects an SCTP port', { destinationPort: ['36412'] }, { l4: { SCTP: { destinationPort: 36412 } } }, true],
    ['reads leading zeros as Go does', { destinationPort: ['0080'] }, { l4: { TCP: { destinationPort: 80 } } }, true],
    ['selects port 0', { sourcePort: ['0'] }, { l4: { UDP: { sourcePort: 0 } } }, true],
    [
      'looks only at its own side',
      { sourcePort: ['80'] },
      { l4: { TCP: { sourcePort: 4000, destinationPort: 80 } } },
      false,
    ],
    ['never selects ICMP', { sourcePort: ['0'] }, { l4: { ICMPv4: {} } }, false],
    ['never selects a flow without L4', { destinationPort: ['0'] }, {}, false],
  ],
  [
    ['a port over 65535', { destinationPort: ['65536'] }, /destination_port: "65536" is not a port number \(0-65535\)/],
    ['a negative port', { sourcePort: ['-1'] }, /source_port: "-1" is not a port number/],
    ['a sign', { sourcePort: ['+80'] }, /is not a port number/],
    ['an empty port', { sourcePort: [''] }, /source_port: "" is not a port number/],
    ['a service name', { destinationPort: ['http'] }, /is not a port number/],
  ],
);

table(
  'http_status_code',
  [
    ['selects an exact code', { httpStatusCode: ['404'] }, http({ code: 404 }), true],
    ['selects by one-digit prefix', { httpStatusCode: ['5+'] }, http({ code: 503 }), true],
    ['selects by two-digit prefix', { httpStatusCode: ['40+'] }, http({ code: 404 }), true],
    ['tells two-digit prefixes apart', { httpStatusCode: ['40+'] }, http({ code: 410 }), false],
    ['never selects a request (no code)', { httpStatusCode: ['2+'] }, http({ code: 0 }), false],
    ['never selects a flow without HTTP', { httpStatusCode: ['2+'] }, l7, false],
    [
      'accepts an event type list that includes l7',
      { httpStatusCode: ['2+'], eventType: [{ type: 4 }, { type: 129 }] },
      http({ code: 200 }),
      true,
    ],
  ],
  [
    ['a code out of range', { httpStatusCode: ['600'] }, /http_status_code: "600" is not a status code/],
    ['a bare digit', { httpStatusCode: ['4'] }, /http_status_code: "4"/],
    ['a full code with +', { httpStatusCode: ['404+'] }, /http_status_code: "404\+"/],
    [
      'an event type list without l7',
      { httpStatusCode: ['200'], eventType: [{ type: 4 }] },
      /http_status_code: filtering by http status code requires the event type filter to only match 'l7' events/,
    ],
  ],
);

table(
  'http_method',
  [
    ['selects whatever the case', { httpMethod: ['get'] }, http({ method: 'GET' }), true],
    ['passes other methods by', { httpMethod: ['post', 'put'] }, http({ method: 'GET' }), false],
    ['never selects a record without a method', { httpMethod: ['get'] }, http({ method: '' }), false],
  ],
  [
    [
      'an event type list without l7',
      { httpMethod: ['get'], eventType: [{ type: 1 }] },
      /http_method: filtering by http method requires/,
    ],
  ],
);

table(
  'http_path',
  [
    [
      'matches the path of an absolute URL',
      { httpPath: ['^/v1/'] },
      http({ url: 'http://svc.ns:8080/v1/land?x=1' }),
      true,
    ],
    ['leaves the query out', { httpPath: ['x=1'] }, http({ url: 'http://svc/v1/land?x=1' }), false],
    ['matches an absolute path without scheme', { httpPath: ['^/health$'] }, http({ url: '/health' }), true],
    ['decodes percent-escapes', { httpPath: ['^/a b$'] }, http({ url: 'http://svc/a%20b' }), true],
    [
      'keeps a fragment in the path, as ParseRequestURI does',
      { httpPath: ['#top$'] },
      http({ url: 'http://svc/page#top' }),
      true,
    ],
    ['never selects a URL Go cannot parse', { httpPath: ['.*'] }, http({ url: 'relative/path' }), false],
    ['never selects a URL with a bad escape', { httpPath: ['.*'] }, http({ url: 'http://svc/%zz' }), false],
    ['never selects an empty URL', { httpPath: ['.*'] }, http({ url: '' }), false],
  ],
  [
    [
      'an expression with a backreference',
      { httpPath: ['(a)\\1'] },
      /http_path: .* is not a valid regular expression: invalid escape sequence: `\\1`/,
    ],
  ],
);

table(
  'http_url',
  [
    [
      'matches the whole URL, query included',
      { httpUrl: ['force=true$'] },
      http({ url: 'http://svc/exhaust?force=true' }),
      true,
    ],
    ['passes other URLs by', { httpUrl: ['^https://'] }, http({ url: 'http://svc/' }), false],
  ],
  [
    [
      'an expression that does not compile',
      { httpUrl: ['[z-a]'] },
      /http_url: "\[z-a\]" is not a valid regular expression/,
    ],
  ],
);

table('http_header', [
  [
    'selects an exact header',
    { httpHeader: [{ key: 'retry-after', value: '30' }] },
    http({ headers: [{ key: 'retry-after', value: '30' }] }),
    true,
  ],
  [
    'needs the value to match',
    { httpHeader: [{ key: 'retry-after', value: '31' }] },
    http({ headers: [{ key: 'retry-after', value: '30' }] }),
    false,
  ],
  [
    'needs the key to match',
    { httpHeader: [{ key: 'Retry-After', value: '30' }] },
    http({ headers: [{ key: 'retry-after', value: '30' }] }),
    false,
  ],
  [
    'selects when any header matches any entry',
    {
      httpHeader: [
        { key: 'a', value: '1' },
        { key: 'b', value: '2' },
      ],
    },
    http({
      headers: [
        { key: 'c', value: '3' },
        { key: 'b', value: '2' },
      ],
    }),
    true,
  ],
]);

table('tcp_flags', [
  [
    'selects flows having every flag of an entry',
    { tcpFlags: [{ ...NO_FLAGS, SYN: true }] },
    { l4: { TCP: { flags: { ...NO_FLAGS, SYN: true, ACK: true } } } },
    true,
  ],
  [
    'passes flows missing a flag of the entry by',
    { tcpFlags: [{ ...NO_FLAGS, SYN: true, ACK: true }] },
    { l4: { TCP: { flags: { ...NO_FLAGS, SYN: true } } } },
    false,
  ],
  [
    'ORs entries',
    {
      tcpFlags: [
        { ...NO_FLAGS, FIN: true },
        { ...NO_FLAGS, RST: true },
      ],
    },
    { l4: { TCP: { flags: { ...NO_FLAGS, RST: true, ACK: true } } } },
    true,
  ],
  [
    'reads an entry without flags as any TCP flow with flags',
    { tcpFlags: [NO_FLAGS] },
    { l4: { TCP: { flags: NO_FLAGS } } },
    true,
  ],
  ['never selects TCP without flags', { tcpFlags: [NO_FLAGS] }, { l4: { TCP: {} } }, false],
  ['never selects UDP', { tcpFlags: [NO_FLAGS] }, { l4: { UDP: {} } }, false],
]);

table(
  'node_name',
  [
    ['selects by glob', { nodeName: ['k8s*'] }, { nodeName: 'k8s1' }, true],
    [
      'lets a star span name components, as in FQDN patterns',
      { nodeName: ['k8s*'] },
      { nodeName: 'k8s1.example.com' },
      true,
    ],
    ['anchors the pattern at both ends', { nodeName: ['k8s*'] }, { nodeName: 'my-k8s1' }, false],
    ['places a node without cluster in "default"', { nodeName: ['default/k8s1'] }, { nodeName: 'k8s1' }, true],
    [
      'selects a cluster-prefixed node',
      { nodeName: ['prod/*.example.com'] },
      { nodeName: 'prod/n1.example.com' },
      true,
    ],
    ['passes the same node of another cluster by', { nodeName: ['prod/k8s1'] }, { nodeName: 'dev/k8s1' }, false],
    ['reads "cluster/" as every node of it', { nodeName: ['prod/'] }, { nodeName: 'prod/anything.example.com' }, true],
    [
      'reads a pattern without cluster as any cluster',
      { nodeName: ['n1.example.com'] },
      { nodeName: 'prod/n1.example.com' },
      true,
    ],
    ['lowercases the pattern', { nodeName: ['K8S1'] }, { nodeName: 'k8s1' }, true],
    ['never selects a flow without a node name', { nodeName: ['/'] }, {}, false],
  ],
  [
    ['an empty pattern', { nodeName: [''] }, /node_name: "" is not a valid node name pattern: empty pattern/],
    ['too many slashes', { nodeName: ['a/b/c'] }, /too many slashes in pattern/],
    [
      'a character names cannot have',
      { nodeName: ['node!'] },
      /node_name: "node!" is not a valid node name pattern: "!": invalid rune in pattern/,
    ],
  ],
);

table('trace_id', [
  ['selects by trace id', { traceId: ['4bf92f35'] }, { traceContext: { parent: { traceId: '4bf92f35' } } }, true],
  ['passes other ids by', { traceId: ['4bf92f35'] }, { traceContext: { parent: { traceId: 'aaaa' } } }, false],
  ['reads "" as flows without a trace context', { traceId: [''] }, {}, true],
]);

table('ip_trace_id', [
  ['selects by IP trace id', { ipTraceId: [7, 4242] }, { ipTraceId: { traceId: 4242 } }, true],
  ['passes other ids by', { ipTraceId: [7] }, { ipTraceId: { traceId: 4242 } }, false],
  ['never selects a flow without one', { ipTraceId: [0] }, {}, false],
]);

table(
  'traffic_direction',
  [
    [
      'selects by direction',
      { trafficDirection: [TrafficDirection.INGRESS] },
      { trafficDirection: TrafficDirection.INGRESS },
      true,
    ],
    [
      'passes the other direction by',
      { trafficDirection: [TrafficDirection.INGRESS] },
      { trafficDirection: TrafficDirection.EGRESS },
      false,
    ],
  ],
  [
    [
      'an unknown direction',
      { trafficDirection: [3 as TrafficDirection] },
      /traffic_direction: 3 is not a known TrafficDirection value/,
    ],
  ],
);

table('interface', [
  ['selects by name', { interface: [{ name: 'eth0' }] }, { interface: { index: 2, name: 'eth0' } }, true],
  ['selects by index', { interface: [{ index: 2 }] }, { interface: { index: 2, name: 'eth0' } }, true],
  [
    'needs index and name to agree when both are given',
    { interface: [{ index: 3, name: 'eth0' }] },
    { interface: { index: 2, name: 'eth0' } },
    false,
  ],
  ['reads an empty entry as any interface', { interface: [{}] }, { interface: { index: 9, name: 'lxc1' } }, true],
  ['never selects a flow without interface', { interface: [{}] }, {}, false],
]);

table(
  'experimental.cel_expression',
  [
    [
      'selects flows the expression holds for',
      { experimental: { celExpression: ['_flow.verdict == Verdict.DROPPED'] } },
      { verdict: Verdict.DROPPED },
      true,
    ],
    [
      'passes flows it does not hold for by',
      { experimental: { celExpression: ['_flow.verdict == Verdict.DROPPED'] } },
      { verdict: Verdict.FORWARDED },
      false,
    ],
    [
      'reads nested messages with proto field names',
      { experimental: { celExpression: ['_flow.l4.TCP.destination_port >= 1024u'] } },
      { l4: { TCP: { destinationPort: 8080 } } },
      true,
    ],
    [
      'supports has() and string functions',
      { experimental: { celExpression: ["has(_flow.IP) && _flow.IP.source.startsWith('10.')"] } },
      { IP: { source: '10.0.0.1' } },
      true,
    ],
    [
      'ORs expressions',
      { experimental: { celExpression: ['false', '_flow.node_name == "k8s1"'] } },
      { nodeName: 'k8s1' },
      true,
    ],
    [
      'reads an evaluation error as false',
      { experimental: { celExpression: ["_flow.l7.http.headers[0].key == 'x'"] } },
      {},
      false,
    ],
    [
      'evaluates the same expression where data allows',
      { experimental: { celExpression: ["_flow.l7.http.headers[0].key == 'x'"] } },
      { l7: { http: { headers: [{ key: 'x' }] } } },
      true,
    ],
  ],
  [
    [
      'a syntax error',
      { experimental: { celExpression: ['_flow.verdict =='] } },
      /experimental.cel_expression: "_flow.verdict ==" is not a valid CEL expression/,
    ],
    [
      'an unknown field',
      { experimental: { celExpression: ['_flow.no_such_field == 1'] } },
      /field not found: no_such_field/,
    ],
    ['an unknown variable', { experimental: { celExpression: ['flow.verdict == 1'] } }, /unresolved attribute/],
    ['a non-bool result', { experimental: { celExpression: ['_flow.node_name'] } }, /evaluates to string, wanted bool/],
  ],
);
