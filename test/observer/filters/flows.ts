// A fixed set of realistic flows (the Star Wars demo plus DNS, world egress, IPv6, SCTP and a non-IP
// frame) that the filter tests select from by name.
import {
  DropReason,
  Flow,
  FlowType,
  IPVersion,
  L7FlowType,
  TraceObservationPoint,
  TrafficDirection,
  Verdict,
  type DeepPartial,
} from '../../../src/api/flow/flow.js';

const NODE_LABELS_1 = [
  'kubernetes.io/hostname=k8s-worker-1',
  'topology.kubernetes.io/zone=eu-west-1a',
  'node-role.kubernetes.io/worker=',
];
const NODE_LABELS_2 = ['kubernetes.io/hostname=k8s-worker-2', 'topology.kubernetes.io/zone=eu-west-1b'];

const xwing = {
  ID: 1701,
  identity: 12345,
  clusterName: 'test-cluster',
  namespace: 'default',
  podName: 'xwing-6f7d9b8c4-x2k9p',
  labels: [
    'k8s:app.kubernetes.io/name=xwing',
    'k8s:class=xwing',
    'k8s:io.kubernetes.pod.namespace=default',
    'k8s:org=alliance',
  ],
  workloads: [{ kind: 'Deployment', name: 'xwing' }],
};
const tiefighter = {
  ID: 1138,
  identity: 34567,
  clusterName: 'test-cluster',
  namespace: 'default',
  podName: 'tiefighter',
  labels: [
    'k8s:app.kubernetes.io/name=tiefighter',
    'k8s:class=tiefighter',
    'k8s:io.kubernetes.pod.namespace=default',
    'k8s:org=empire',
  ],
  workloads: [],
};
const deathstar = {
  ID: 2187,
  identity: 23456,
  clusterName: 'test-cluster',
  namespace: 'default',
  podName: 'deathstar-7d8f6c5b9-q8w2z',
  labels: [
    'k8s:app.kubernetes.io/name=deathstar',
    'k8s:class=deathstar',
    'k8s:io.kubernetes.pod.namespace=default',
    'k8s:org=empire',
  ],
  workloads: [{ kind: 'Deployment', name: 'deathstar' }],
};
const coredns = {
  ID: 321,
  identity: 102,
  clusterName: 'test-cluster',
  namespace: 'kube-system',
  podName: 'coredns-5d78c9869d-7vz4m',
  labels: ['k8s:io.kubernetes.pod.namespace=kube-system', 'k8s:k8s-app=kube-dns'],
  workloads: [{ kind: 'Deployment', name: 'coredns' }],
};
const world = { identity: 2, labels: ['reserved:world'] };
const remoteDb = {
  ID: 77,
  identity: 45678,
  clusterName: 'other-cluster',
  namespace: 'db',
  podName: 'postgres-0',
  labels: ['k8s:app=postgres', 'k8s:io.kubernetes.pod.namespace=db', 'k8s:tier=backend'],
  workloads: [{ kind: 'StatefulSet', name: 'postgres' }],
};

const tcpFlags = (set: string) => ({
  FIN: set.includes('F'),
  SYN: set.includes('S'),
  RST: set.includes('R'),
  PSH: set.includes('P'),
  ACK: set.includes('A'),
  URG: false,
  ECE: false,
  CWR: false,
  NS: false,
});

const time = (s: number) => ({ seconds: 1_700_000_000 + s, nanos: 0 });
const trace = (sub: TraceObservationPoint | number) => ({ type: 4, subType: sub });
const L7_EVENT = { type: 129, subType: 0 };

const FLOWS = {
  /** xwing opens a connection to the deathstar service backend. */
  'xwing-syn': {
    time: time(1),
    uuid: 'a1b2c3d4-0001-4000-8000-000000000001',
    verdict: Verdict.FORWARDED,
    IP: { source: '10.0.1.15', destination: '10.0.2.20', ipVersion: IPVersion.IPv4 },
    l4: { TCP: { sourcePort: 43210, destinationPort: 80, flags: tcpFlags('S') } },
    source: xwing,
    destination: deathstar,
    Type: FlowType.L3_L4,
    nodeName: 'k8s-worker-1',
    nodeLabels: NODE_LABELS_1,
    eventType: trace(5),
    destinationService: { name: 'deathstar', namespace: 'default' },
    trafficDirection: TrafficDirection.EGRESS,
    traceObservationPoint: TraceObservationPoint.FROM_ENDPOINT,
    isReply: false,
    interface: { index: 12, name: 'lxc8a3f2b1c' },
  },
  /** The deathstar answers. */
  'deathstar-synack': {
    time: time(2),
    uuid: 'a1b2c3d4-0002-4000-8000-000000000002',
    verdict: Verdict.FORWARDED,
    IP: { source: '10.0.2.20', destination: '10.0.1.15', ipVersion: IPVersion.IPv4 },
    l4: { TCP: { sourcePort: 80, destinationPort: 43210, flags: tcpFlags('SA') } },
    source: deathstar,
    destination: xwing,
    Type: FlowType.L3_L4,
    nodeName: 'k8s-worker-1',
    nodeLabels: NODE_LABELS_1,
    eventType: trace(0),
    sourceService: { name: 'deathstar', namespace: 'default' },
    trafficDirection: TrafficDirection.EGRESS,
    traceObservationPoint: TraceObservationPoint.TO_ENDPOINT,
    isReply: true,
    interface: { index: 14, name: 'lxc55d0e9a7' },
  },
  /** The L7 proxy's record of xwing's request. */
  'xwing-http-request': {
    time: time(3),
    uuid: 'a1b2c3d4-0003-4000-8000-000000000003',
    verdict: Verdict.FORWARDED,
    IP: { source: '10.0.1.15', destination: '10.0.2.20', ipVersion: IPVersion.IPv4 },
    l4: { TCP: { sourcePort: 43210, destinationPort: 80 } },
    source: xwing,
    destination: deathstar,
    Type: FlowType.L7,
    nodeName: 'k8s-worker-1',
    nodeLabels: NODE_LABELS_1,
    l7: {
      type: L7FlowType.REQUEST,
      http: {
        method: 'POST',
        url: 'http://deathstar.default.svc.cluster.local/v1/request-landing',
        protocol: 'HTTP/1.1',
        headers: [
          { key: ':authority', value: 'deathstar.default.svc.cluster.local' },
          { key: 'x-request-id', value: 'c0ffee' },
        ],
      },
    },
    eventType: L7_EVENT,
    destinationService: { name: 'deathstar', namespace: 'default' },
    trafficDirection: TrafficDirection.EGRESS,
    isReply: false,
    traceContext: { parent: { traceId: '4bf92f3577b34da6a3ce929d0e0e4736' } },
  },
  /** ...and the response to it. */
  'deathstar-http-200': {
    time: time(4),
    uuid: 'a1b2c3d4-0004-4000-8000-000000000004',
    verdict: Verdict.FORWARDED,
    IP: { source: '10.0.2.20', destination: '10.0.1.15', ipVersion: IPVersion.IPv4 },
    l4: { TCP: { sourcePort: 80, destinationPort: 43210 } },
    source: deathstar,
    destination: xwing,
    Type: FlowType.L7,
    nodeName: 'k8s-worker-1',
    nodeLabels: NODE_LABELS_1,
    l7: {
      type: L7FlowType.RESPONSE,
      latencyNs: 1_200_000,
      http: {
        code: 200,
        method: 'POST',
        url: 'http://deathstar.default.svc.cluster.local/v1/request-landing',
        protocol: 'HTTP/1.1',
        headers: [],
      },
    },
    eventType: L7_EVENT,
    sourceService: { name: 'deathstar', namespace: 'default' },
    trafficDirection: TrafficDirection.EGRESS,
    isReply: true,
    traceContext: { parent: { traceId: '4bf92f3577b34da6a3ce929d0e0e4736' } },
  },
  /** The tiefighter's PUT, refused by the deathstar with a 503. */
  'tiefighter-http-503': {
    time: time(5),
    uuid: 'a1b2c3d4-0005-4000-8000-000000000005',
    verdict: Verdict.FORWARDED,
    IP: { source: '10.0.2.20', destination: '10.0.1.99', ipVersion: IPVersion.IPv4 },
    l4: { TCP: { sourcePort: 80, destinationPort: 51515 } },
    source: deathstar,
    destination: tiefighter,
    Type: FlowType.L7,
    nodeName: 'k8s-worker-1',
    nodeLabels: NODE_LABELS_1,
    l7: {
      type: L7FlowType.RESPONSE,
      http: {
        code: 503,
        method: 'PUT',
        url: 'http://deathstar.default.svc.cluster.local/v1/exhaust-port?force=true',
        protocol: 'HTTP/1.1',
        headers: [{ key: 'retry-after', value: '30' }],
      },
    },
    eventType: L7_EVENT,
    sourceService: { name: 'deathstar', namespace: 'default' },
    trafficDirection: TrafficDirection.INGRESS,
    isReply: true,
  },
  /** The tiefighter's SYN, dropped by policy. */
  'tiefighter-drop': {
    time: time(6),
    uuid: 'a1b2c3d4-0006-4000-8000-000000000006',
    verdict: Verdict.DROPPED,
    dropReason: 133,
    dropReasonDesc: DropReason.POLICY_DENIED,
    IP: { source: '10.0.1.99', destination: '10.0.2.20', ipVersion: IPVersion.IPv4 },
    l4: { TCP: { sourcePort: 51516, destinationPort: 80, flags: tcpFlags('S') } },
    source: tiefighter,
    destination: deathstar,
    Type: FlowType.L3_L4,
    nodeName: 'k8s-worker-2',
    nodeLabels: NODE_LABELS_2,
    eventType: { type: 1, subType: 133 },
    trafficDirection: TrafficDirection.INGRESS,
  },
  /** xwing asks kube-dns where api.github.com is. */
  'xwing-dns': {
    time: time(7),
    uuid: 'a1b2c3d4-0007-4000-8000-000000000007',
    verdict: Verdict.FORWARDED,
    IP: { source: '10.0.1.15', destination: '10.0.3.53', ipVersion: IPVersion.IPv4 },
    l4: { UDP: { sourcePort: 53211, destinationPort: 53 } },
    source: xwing,
    destination: coredns,
    Type: FlowType.L7,
    nodeName: 'k8s-worker-1',
    nodeLabels: NODE_LABELS_1,
    l7: { type: L7FlowType.REQUEST, dns: { query: 'api.github.com.', qtypes: ['A'], observationSource: 'proxy' } },
    eventType: L7_EVENT,
    destinationService: { name: 'kube-dns', namespace: 'kube-system' },
    trafficDirection: TrafficDirection.EGRESS,
    isReply: false,
  },
  /** xwing leaves the cluster for api.github.com, SNATed to the node address. */
  'xwing-world': {
    time: time(8),
    uuid: 'a1b2c3d4-0008-4000-8000-000000000008',
    verdict: Verdict.FORWARDED,
    IP: { source: '10.0.1.15', sourceXlated: '192.168.10.11', destination: '140.82.112.3', ipVersion: IPVersion.IPv4 },
    l4: { TCP: { sourcePort: 38812, destinationPort: 443, flags: tcpFlags('PA') } },
    source: xwing,
    destination: world,
    destinationNames: ['api.github.com'],
    Type: FlowType.L3_L4,
    nodeName: 'k8s-worker-1',
    nodeLabels: NODE_LABELS_1,
    eventType: trace(11),
    trafficDirection: TrafficDirection.EGRESS,
    traceObservationPoint: TraceObservationPoint.TO_NETWORK,
    isReply: false,
    ipTraceId: { traceId: 4242, ipOptionType: 136 },
    interface: { index: 2, name: 'eth0' },
  },
  /** Encrypted IPv6 ping to a database pod in another cluster. */
  'ipv6-ping-remote': {
    time: time(9),
    uuid: 'a1b2c3d4-0009-4000-8000-000000000009',
    verdict: Verdict.FORWARDED,
    IP: { source: 'fd00:10:244:1::2a', destination: 'fd00:20:244:7::5', ipVersion: IPVersion.IPv6, encrypted: true },
    l4: { ICMPv6: { type: 128, code: 0 } },
    source: tiefighter,
    destination: remoteDb,
    Type: FlowType.L3_L4,
    nodeName: 'k8s-worker-2',
    nodeLabels: NODE_LABELS_2,
    eventType: trace(4),
    trafficDirection: TrafficDirection.EGRESS,
    traceObservationPoint: TraceObservationPoint.TO_OVERLAY,
    isReply: false,
  },
  /** SCTP association from another cluster's database, seen on a node of that cluster. */
  'remote-sctp': {
    time: time(10),
    uuid: 'a1b2c3d4-0010-4000-8000-000000000010',
    verdict: Verdict.FORWARDED,
    IP: { source: '10.20.7.5', destination: '10.0.2.20', ipVersion: IPVersion.IPv4 },
    l4: { SCTP: { sourcePort: 38412, destinationPort: 36412 } },
    source: remoteDb,
    destination: deathstar,
    sourceNames: ['db-1.other.example.com'],
    Type: FlowType.L3_L4,
    nodeName: 'other-cluster/db-node-1.example.com',
    eventType: trace(10),
    trafficDirection: TrafficDirection.INGRESS,
    isReply: false,
  },
  /** An ARP frame: no IP header at all. */
  'arp-no-ip': {
    time: time(11),
    uuid: 'a1b2c3d4-0011-4000-8000-000000000011',
    verdict: Verdict.FORWARDED,
    ethernet: { source: '02:42:ac:11:00:02', destination: 'ff:ff:ff:ff:ff:ff' },
    Type: FlowType.L3_L4,
    nodeName: 'k8s-worker-1',
    nodeLabels: NODE_LABELS_1,
    eventType: trace(3),
    interface: { index: 2, name: 'eth0' },
  },
} satisfies Record<string, DeepPartial<Flow>>;

export type FlowName = keyof typeof FLOWS;

/** The fixture flows by name, in time order. */
export const flows: ReadonlyMap<FlowName, Flow> = new Map(
  (Object.entries(FLOWS) as [FlowName, DeepPartial<Flow>][]).map(([name, partial]) => [
    name,
    Flow.fromPartial(partial),
  ]),
);

export const flowNames = [...flows.keys()];

/** Names of the fixture flows a predicate selects, in fixture order. */
export function selected(predicate: (flow: Flow) => boolean): FlowName[] {
  return flowNames.filter((name) => predicate(flows.get(name)!));
}
