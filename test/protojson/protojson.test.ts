// protojson output is what a hubble user sees from `hubble observe -o json`: proto field
// names, enum names, omitted defaults, 64-bit integers as strings, RFC 3339 nanosecond time.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AgentEvent,
  AgentEventType,
  Flow,
  FlowType,
  TraceObservationPoint,
  TrafficDirection,
  Verdict,
} from '../../src/api/flow/flow.js';
import { GetFlowsResponse } from '../../src/api/observer/observer.js';
import {
  flowToJson,
  fromProtoJson,
  getFlowsResponseToJson,
  messageToJson,
  ProtoJsonError,
  toProtoJson,
} from '../../src/protojson/protojson.js';

// 2026-11-24T10:00:00Z
const SECONDS = 1795514400;

const tcpFlow = Flow.fromPartial({
  time: { seconds: SECONDS, nanos: 123456789 },
  verdict: Verdict.FORWARDED,
  IP: { source: '10.0.0.1', destination: '10.0.0.2', ipVersion: 1 },
  l4: { TCP: { sourcePort: 443, destinationPort: 51234, flags: { SYN: true, ACK: true } } },
  source: { ID: 1234, identity: 5678, namespace: 'default', labels: ['k8s:app=web'], podName: 'web-0' },
  Type: FlowType.L3_L4,
  nodeName: 'node-1',
  eventType: { type: 4, subType: 3 },
  trafficDirection: TrafficDirection.EGRESS,
  traceObservationPoint: TraceObservationPoint.TO_STACK,
  isReply: true,
  socketCookie: 1234567890123,
});

const tcpFlowJson = {
  time: '2026-11-24T10:00:00.123456789Z',
  verdict: 'FORWARDED',
  IP: { source: '10.0.0.1', destination: '10.0.0.2', ipVersion: 'IPv4' },
  l4: { TCP: { source_port: 443, destination_port: 51234, flags: { SYN: true, ACK: true } } },
  source: { ID: 1234, identity: 5678, namespace: 'default', labels: ['k8s:app=web'], pod_name: 'web-0' },
  Type: 'L3_L4',
  node_name: 'node-1',
  event_type: { type: 4, sub_type: 3 },
  traffic_direction: 'EGRESS',
  trace_observation_point: 'TO_STACK',
  is_reply: true,
  socket_cookie: '1234567890123',
};

describe('flowToJson', () => {
  it('prints a TCP flow exactly as hubble observe -o json does', () => {
    expect(flowToJson(tcpFlow)).toEqual(tcpFlowJson);
  });

  it('survives a binary round trip first', () => {
    expect(flowToJson(Flow.decode(Flow.encode(tcpFlow).finish()))).toEqual(tcpFlowJson);
  });

  it('keeps is_reply=false, because the wrapper makes false different from unknown', () => {
    expect(flowToJson(Flow.fromPartial({ isReply: false }))).toEqual({ is_reply: false });
    expect(flowToJson(Flow.fromPartial({}))).toEqual({});
  });

  const fractions: Array<[number, string]> = [
    [0, '2026-11-24T10:00:00Z'],
    [123000000, '2026-11-24T10:00:00.123Z'],
    [123456000, '2026-11-24T10:00:00.123456Z'],
    [1, '2026-11-24T10:00:00.000000001Z'],
  ];
  for (const [nanos, text] of fractions) {
    it(`prints ${nanos} ns as ${text}`, () => {
      expect(flowToJson(Flow.fromPartial({ time: { seconds: SECONDS, nanos } }))).toEqual({ time: text });
    });
  }
});

describe('getFlowsResponseToJson', () => {
  it("wraps the flow with node_name and time, as one line of hubble's JSON output", () => {
    const response = GetFlowsResponse.fromPartial({
      flow: tcpFlow,
      nodeName: 'node-1',
      time: { seconds: SECONDS, nanos: 123456789 },
    });
    expect(getFlowsResponseToJson(response)).toEqual({
      flow: tcpFlowJson,
      node_name: 'node-1',
      time: '2026-11-24T10:00:00.123456789Z',
    });
  });
});

describe('toProtoJson', () => {
  it('prints int64 and uint64 fields as strings, including negative values', () => {
    const event = AgentEvent.fromPartial({
      type: AgentEventType.POLICY_UPDATED,
      policyUpdate: { labels: ['k8s:io.kubernetes.pod.namespace=default'], revision: 42, ruleCount: -5 },
    });
    expect(messageToJson(AgentEvent, 'flow.AgentEvent', event)).toEqual({
      type: 'POLICY_UPDATED',
      policy_update: { labels: ['k8s:io.kubernetes.pod.namespace=default'], revision: '42', rule_count: '-5' },
    });
  });

  it('rejects an unknown type name with a typed error', () => {
    expect(() => toProtoJson('flow.NoSuchThing', new Uint8Array())).toThrow(
      expect.objectContaining({ code: 'UNKNOWN_MESSAGE_TYPE' }),
    );
  });

  it('rejects truncated wire data with a typed error', () => {
    const bytes = Flow.encode(tcpFlow).finish();
    expect(() => toProtoJson('flow.Flow', bytes.subarray(0, bytes.length - 3))).toThrow(ProtoJsonError);
  });

  it('never throws anything but ProtoJsonError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
        try {
          toProtoJson('flow.Flow', bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(ProtoJsonError);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('fromProtoJson', () => {
  it("parses hubble's JSON back into the same flow", () => {
    expect(Flow.decode(fromProtoJson('flow.Flow', tcpFlowJson))).toEqual(tcpFlow);
  });
});
