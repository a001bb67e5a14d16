// Field numbers and types in the generated ts-proto code agree with two independent
// encoders: @bufbuild/protobuf driven by our descriptor set, and protobufjs parsing the
// .proto sources itself. A number or type mix-up in either path breaks these tests.
import { fileURLToPath } from 'node:url';
import { create, createFileRegistry, fromBinary, toBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { loadDescriptorSet } from '../../src/api/descriptors.js';
import {
  DropReason,
  Flow,
  FlowType,
  TraceObservationPoint,
  TrafficDirection,
  Verdict,
} from '../../src/api/flow/flow.js';
import { GetFlowsRequest } from '../../src/api/observer/observer.js';

const protoRoot = fileURLToPath(new URL('../../proto/', import.meta.url));
const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, loadDescriptorSet()));

function descriptor(typeName: string) {
  const desc = registry.getMessage(typeName);
  if (desc === undefined) throw new Error(`${typeName} missing from descriptor set`);
  return desc;
}

function loadProtobufjs(file: string): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (target.startsWith('google/protobuf/') ? target : `${protoRoot}${target}`);
  return root.loadSync(file, { keepCase: true });
}

// Values chosen so that every field has a distinct, non-default value on the wire.
const expectedFlow = {
  time: { seconds: 1795514400, nanos: 123456789 },
  uuid: '6f2c0d4e-1a2b-4c3d-9e8f-0a1b2c3d4e5f',
  emitter: { name: 'Hubble', version: '1.19.0' },
  verdict: Verdict.DROPPED,
  IP: { source: '10.0.0.1', sourceXlated: '192.0.2.1', destination: '10.0.0.2', ipVersion: 1, encrypted: true },
  l4: { TCP: { sourcePort: 443, destinationPort: 51234, flags: { SYN: true, ACK: true } } },
  source: {
    ID: 1234,
    identity: 5678,
    clusterName: 'c1',
    namespace: 'default',
    labels: ['k8s:app=web'],
    podName: 'web-0',
  },
  Type: FlowType.L3_L4,
  nodeName: 'node-1',
  nodeLabels: ['zone=a'],
  eventType: { type: 1, subType: 133 },
  trafficDirection: TrafficDirection.EGRESS,
  traceObservationPoint: TraceObservationPoint.TO_ENDPOINT,
  dropReasonDesc: DropReason.POLICY_DENIED,
  isReply: false,
  socketCookie: 9007199254740991,
  cgroupId: 4242,
  Summary: 'TCP Flags: SYN, ACK',
  aggregate: { ingressFlowCount: 3, egressFlowCount: 4, unknownDirectionFlowCount: 5 },
  policyLog: ['audit'],
};

function expectDecodedFlow(flow: Flow): void {
  expect(flow).toMatchObject(expectedFlow);
  // Defaults a wrong field number would have filled instead.
  expect(flow.reply).toBe(false);
  expect(flow.destination).toBeUndefined();
}

describe('Flow wire compatibility', () => {
  it('decodes with ts-proto what @bufbuild/protobuf encoded from the descriptor set', () => {
    const desc = descriptor('flow.Flow');
    const message = create(desc, {
      ...expectedFlow,
      time: { seconds: BigInt(expectedFlow.time.seconds), nanos: expectedFlow.time.nanos },
      // @bufbuild/protobuf, like ts-proto, exposes a BoolValue field as a plain boolean.
      isReply: false,
      socketCookie: BigInt(expectedFlow.socketCookie),
      cgroupId: BigInt(expectedFlow.cgroupId),
      l4: { protocol: { case: 'TCP', value: expectedFlow.l4.TCP } },
    } as never);
    expectDecodedFlow(Flow.decode(toBinary(desc, message)));
  });

  it('decodes with ts-proto what protobufjs encoded from the .proto sources', () => {
    const FlowType_ = loadProtobufjs('flow/flow.proto').lookupType('flow.Flow');
    const plain = {
      ...expectedFlow,
      IP: { source: '10.0.0.1', source_xlated: '192.0.2.1', destination: '10.0.0.2', ipVersion: 1, encrypted: true },
      l4: { TCP: { source_port: 443, destination_port: 51234, flags: { SYN: true, ACK: true } } },
      source: {
        ID: 1234,
        identity: 5678,
        cluster_name: 'c1',
        namespace: 'default',
        labels: ['k8s:app=web'],
        pod_name: 'web-0',
      },
      node_name: 'node-1',
      node_labels: ['zone=a'],
      event_type: { type: 1, sub_type: 133 },
      traffic_direction: expectedFlow.trafficDirection,
      trace_observation_point: expectedFlow.traceObservationPoint,
      drop_reason_desc: expectedFlow.dropReasonDesc,
      is_reply: { value: false },
      socket_cookie: expectedFlow.socketCookie,
      cgroup_id: expectedFlow.cgroupId,
      aggregate: { ingress_flow_count: 3, egress_flow_count: 4, unknown_direction_flow_count: 5 },
      policy_log: ['audit'],
    };
    const bytes = FlowType_.encode(FlowType_.fromObject(plain)).finish();
    expectDecodedFlow(Flow.decode(bytes));
  });

  it('encodes with ts-proto what protobufjs decodes field by field', () => {
    const FlowType_ = loadProtobufjs('flow/flow.proto').lookupType('flow.Flow');
    const bytes = Flow.encode(Flow.fromPartial(expectedFlow)).finish();
    const decoded = FlowType_.toObject(FlowType_.decode(bytes), { longs: String, enums: String });
    expect(decoded).toMatchObject({
      time: { seconds: '1795514400', nanos: 123456789 },
      verdict: 'DROPPED',
      IP: { source: '10.0.0.1', source_xlated: '192.0.2.1', destination: '10.0.0.2', ipVersion: 'IPv4' },
      l4: { TCP: { source_port: 443, destination_port: 51234, flags: { SYN: true, ACK: true } } },
      Type: 'L3_L4',
      trace_observation_point: 'TO_ENDPOINT',
      drop_reason_desc: 'POLICY_DENIED',
      is_reply: {},
      socket_cookie: '9007199254740991',
      Summary: 'TCP Flags: SYN, ACK',
      aggregate: { ingress_flow_count: 3, egress_flow_count: 4, unknown_direction_flow_count: 5 },
      emitter: { name: 'Hubble', version: '1.19.0' },
    });
  });
});

describe('GetFlowsRequest wire compatibility', () => {
  it('round-trips filters, follow and since through protobufjs', () => {
    const Request = loadProtobufjs('observer/observer.proto').lookupType('observer.GetFlowsRequest');
    const bytes = Request.encode(
      Request.fromObject({
        number: 20,
        follow: true,
        whitelist: [{ source_ip: ['10.0.0.0/8'], verdict: [2], destination_port: ['53'] }],
        since: { seconds: 1795514400, nanos: 5 },
        field_mask: { paths: ['time', 'IP'] },
      }),
    ).finish();
    expect(GetFlowsRequest.decode(bytes)).toMatchObject({
      number: '20',
      follow: true,
      whitelist: [{ sourceIp: ['10.0.0.0/8'], verdict: [Verdict.DROPPED], destinationPort: ['53'] }],
      since: { seconds: 1795514400, nanos: 5 },
      fieldMask: ['time', 'IP'],
    });
  });
});
