// Fixed GetFlows responses for the printer tests: one of each kind a user meets.
import {
  Flow,
  type DeepPartial,
  LostEventSource,
  TraceObservationPoint,
  Verdict,
  FlowType,
  L7FlowType,
  TrafficDirection,
  AuthType,
} from '../../src/api/flow/flow.js';
import { GetFlowsResponse } from '../../src/api/observer/observer.js';
import { NodeState } from '../../src/api/relay/relay.js';

const ts = (iso: string, nanos: number) => ({ seconds: Date.parse(iso) / 1000, nanos });
const flow = (partial: DeepPartial<Flow>): Flow => Flow.fromPartial(partial);

/** A TCP SYN from the world to the host, leaving towards the network. */
export const SYN_TO_NETWORK = GetFlowsResponse.fromPartial({
  flow: flow({
    time: ts('2024-11-24T10:00:00Z', 123_456_789),
    verdict: Verdict.FORWARDED,
    IP: { source: '10.0.0.1', destination: '10.0.0.2', ipVersion: 1 },
    l4: { TCP: { sourcePort: 34567, destinationPort: 80, flags: { SYN: true } } },
    source: { identity: 2 },
    destination: { identity: 1 },
    Type: FlowType.L3_L4,
    nodeName: 'node-a',
    eventType: { type: 4, subType: 11 },
    traceObservationPoint: TraceObservationPoint.TO_NETWORK,
    isReply: false,
    Summary: 'TCP Flags: SYN',
  }),
  nodeName: 'node-a',
  time: ts('2024-11-24T10:00:00Z', 123_456_789),
});

/** A DNS answer from coredns back to a client pod: printed client first with "<-". */
export const DNS_REPLY = GetFlowsResponse.fromPartial({
  flow: flow({
    time: ts('2024-11-24T10:00:01Z', 5_000_000),
    verdict: Verdict.FORWARDED,
    IP: { source: '10.0.1.10', destination: '10.0.2.20', ipVersion: 1 },
    l4: { UDP: { sourcePort: 53, destinationPort: 40000 } },
    source: { identity: 5678, namespace: 'kube-system', podName: 'coredns-abc' },
    destination: { identity: 1234, namespace: 'default', podName: 'client' },
    Type: FlowType.L3_L4,
    nodeName: 'node-a',
    eventType: { type: 4, subType: 0 },
    isReply: true,
    Summary: 'UDP',
  }),
  nodeName: 'node-a',
  time: ts('2024-11-24T10:00:01Z', 5_000_000),
});

/** A policy drop between IPv6 addresses whose direction is unknown ("<>"). */
export const POLICY_DROP_V6 = GetFlowsResponse.fromPartial({
  flow: flow({
    time: ts('2024-11-24T10:00:02Z', 0),
    verdict: Verdict.DROPPED,
    dropReasonDesc: 133,
    IP: { source: 'fd00::1', destination: 'fd00::2', ipVersion: 2 },
    l4: { TCP: { sourcePort: 5000, destinationPort: 443, flags: { SYN: true } } },
    source: { identity: 300 },
    destination: { identity: 400 },
    Type: FlowType.L3_L4,
    nodeName: 'node-b',
    eventType: { type: 1, subType: 133 },
    Summary: 'TCP Flags: SYN',
    authType: AuthType.SPIRE,
  }),
  nodeName: 'node-b',
  time: ts('2024-11-24T10:00:02Z', 0),
});

/** An HTTP request to a name learnt from DNS; the URL holds characters Go's JSON encoder escapes. */
export const HTTP_REQUEST = GetFlowsResponse.fromPartial({
  flow: flow({
    time: ts('2024-11-24T10:00:03Z', 999_000_000),
    verdict: Verdict.FORWARDED,
    IP: { source: '10.0.0.5', destination: '93.184.216.34', ipVersion: 1 },
    l4: { TCP: { sourcePort: 51000, destinationPort: 80 } },
    source: { identity: 1234, namespace: 'default', podName: 'client' },
    destination: { identity: 2 },
    destinationNames: ['example.com'],
    Type: FlowType.L7,
    nodeName: 'node-a',
    l7: {
      type: L7FlowType.REQUEST,
      http: { method: 'GET', url: 'http://example.com/?a=1&b=<2>', protocol: 'HTTP/1.1' },
    },
    eventType: { type: 129 },
    isReply: false,
    trafficDirection: TrafficDirection.EGRESS,
    Summary: 'HTTP/1.1 GET http://example.com/?a=1&b=<2>',
  }),
  nodeName: 'node-a',
  time: ts('2024-11-24T10:00:03Z', 999_000_000),
});

/** A policy verdict event: DENIED rather than DROPPED. */
export const POLICY_VERDICT = GetFlowsResponse.fromPartial({
  flow: flow({
    time: ts('2024-11-24T10:00:04Z', 0),
    verdict: Verdict.DROPPED,
    IP: { source: '10.0.0.9', destination: '10.0.0.2', ipVersion: 1 },
    l4: { ICMPv4: { type: 8 } },
    source: { identity: 2 },
    destination: { identity: 1234, namespace: 'default', podName: 'client' },
    Type: FlowType.L3_L4,
    nodeName: 'node-a',
    eventType: { type: 5 },
    trafficDirection: TrafficDirection.INGRESS,
    policyMatchType: 2,
    isReply: false,
    Summary: 'ICMPv4 EchoRequest',
  }),
  nodeName: 'node-a',
  time: ts('2024-11-24T10:00:04Z', 0),
});

export const LOST = GetFlowsResponse.fromPartial({
  lostEvents: { source: LostEventSource.HUBBLE_RING_BUFFER, numEventsLost: 42, cpu: undefined },
  nodeName: 'node-a',
  time: ts('2024-11-24T10:00:05Z', 0),
});

export const NODES_UNAVAILABLE = GetFlowsResponse.fromPartial({
  nodeStatus: { stateChange: NodeState.NODE_UNAVAILABLE, nodeNames: ['node-c', 'node-d'], message: '' },
  nodeName: 'relay',
  time: ts('2024-11-24T10:00:06Z', 0),
});

export const NODES_CONNECTED = GetFlowsResponse.fromPartial({
  nodeStatus: { stateChange: NodeState.NODE_CONNECTED, nodeNames: ['node-a'], message: '' },
  nodeName: 'relay',
  time: ts('2024-11-24T10:00:06Z', 0),
});

export const FIXTURE_RESPONSES = [
  SYN_TO_NETWORK,
  DNS_REPLY,
  POLICY_DROP_V6,
  HTTP_REQUEST,
  POLICY_VERDICT,
  LOST,
  NODES_UNAVAILABLE,
  NODES_CONNECTED,
];
