// Pins the field numbers clients depend on to the values in upstream cilium/cilium
// (flow.pb.go at 018371ba, observer.pb.go at e39cd451, recorder.pb.go at 09cb85a4),
// so an edit to proto/ that shifts a number fails here, not in a user's hubble CLI.
import { createFileRegistry, fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { describe, expect, it } from 'vitest';
import { loadDescriptorSet } from '../../src/api/descriptors.js';
import { Flow } from '../../src/api/flow/flow.js';

const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, loadDescriptorSet()));

const upstream: Record<string, Record<string, number>> = {
  'flow.Flow': {
    time: 1,
    uuid: 34,
    emitter: 41,
    verdict: 2,
    drop_reason: 3,
    auth_type: 35,
    ethernet: 4,
    IP: 5,
    l4: 6,
    tunnel: 39,
    source: 8,
    destination: 9,
    Type: 10,
    node_name: 11,
    node_labels: 37,
    source_names: 13,
    destination_names: 14,
    l7: 15,
    reply: 16,
    event_type: 19,
    source_service: 20,
    destination_service: 21,
    traffic_direction: 22,
    policy_match_type: 23,
    trace_observation_point: 24,
    trace_reason: 36,
    file: 38,
    ip_trace_id: 40,
    drop_reason_desc: 25,
    is_reply: 26,
    debug_capture_point: 27,
    interface: 28,
    proxy_port: 29,
    trace_context: 30,
    sock_xlate_point: 31,
    socket_cookie: 32,
    cgroup_id: 33,
    Summary: 100000,
    extensions: 150000,
    egress_allowed_by: 21001,
    ingress_allowed_by: 21002,
    egress_denied_by: 21004,
    ingress_denied_by: 21005,
    policy_log: 21006,
    aggregate: 21007,
  },
  'flow.Layer4': { TCP: 1, UDP: 2, ICMPv4: 3, ICMPv6: 4, SCTP: 5, VRRP: 6, IGMP: 7 },
  'flow.Endpoint': { ID: 1, identity: 2, cluster_name: 7, namespace: 3, labels: 4, pod_name: 5, workloads: 6 },
  'flow.IP': { source: 1, source_xlated: 5, destination: 2, ipVersion: 3, encrypted: 4 },
  'observer.GetFlowsRequest': {
    number: 1,
    first: 9,
    follow: 3,
    blacklist: 5,
    whitelist: 6,
    since: 7,
    until: 8,
    field_mask: 10,
    experimental: 999,
    extensions: 150000,
  },
  'observer.GetFlowsResponse': { flow: 1, node_status: 2, lost_events: 3, node_name: 1000, time: 1001 },
  'recorder.StartRecording': { filesink: 1, include: 2, max_capture_length: 3, stop_condition: 4 },
  'recorder.RecordingStatistics': { bytes_captured: 1, packets_captured: 2, packets_lost: 3, bytes_lost: 4 },
};

describe('field numbers match upstream', () => {
  for (const [typeName, fields] of Object.entries(upstream)) {
    it(`${typeName} uses upstream's names and numbers`, () => {
      const desc = registry.getMessage(typeName);
      expect(desc).toBeDefined();
      const actual = Object.fromEntries((desc?.fields ?? []).map((f) => [f.name, f.number]));
      expect(actual).toEqual(fields);
    });
  }

  it('ts-proto writes is_reply as field 26 holding a BoolValue', () => {
    // tag (26 << 3 | 2) = 0xd2 0x01, length 2, BoolValue.value (tag 0x08) = 1
    const bytes = Flow.encode(Flow.fromPartial({ isReply: true })).finish();
    expect(Array.from(bytes)).toEqual([0xd2, 0x01, 0x02, 0x08, 0x01]);
  });
});
