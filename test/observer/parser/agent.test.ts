import { describe, expect, it } from 'vitest';
import { AgentEvent as FlowAgentEvent, AgentEventType } from '../../../src/api/flow/flow.js';
import { AgentNotification, encodeAgentNotify } from '../../../src/monitor/agentNotify.js';
import { decodeAgentEvent, parseRfc3339 } from '../../../src/observer/parser/agent.js';

describe('agent event parser', () => {
  it('turns an agent start into AGENT_STARTED with the start time to the nanosecond', () => {
    const event = decodeAgentEvent({
      type: AgentNotification.START,
      message: '{"time":"2024-05-01T10:00:00.123456789+02:00"}',
    });
    expect(event.type).toBe(AgentEventType.AGENT_STARTED);
    expect(event.agentStart?.time).toEqual({ seconds: Date.UTC(2024, 4, 1, 8) / 1000, nanos: 123456789 });
  });

  it('leaves the time unset when the agent wrote it in a form that is not RFC 3339', () => {
    const event = decodeAgentEvent({
      type: AgentNotification.START,
      message: '{"time":"2024-05-01 10:00:00 +0000 UTC"}',
    });
    expect(event.type).toBe(AgentEventType.AGENT_STARTED);
    expect(event.agentStart).toEqual({ time: undefined });
  });

  it('maps the monitor numbering onto flow.AgentEventType for every shaped notification', () => {
    const cases: [number, string, AgentEventType, keyof FlowAgentEvent][] = [
      [
        AgentNotification.POLICY_UPDATED,
        '{"labels":["a=b"],"revision":4,"rule_count":3}',
        AgentEventType.POLICY_UPDATED,
        'policyUpdate',
      ],
      [AgentNotification.POLICY_DELETED, '{"rule_count":1}', AgentEventType.POLICY_DELETED, 'policyUpdate'],
      [
        AgentNotification.ENDPOINT_REGENERATE_SUCCESS,
        '{"id":5}',
        AgentEventType.ENDPOINT_REGENERATE_SUCCESS,
        'endpointRegenerate',
      ],
      [
        AgentNotification.ENDPOINT_REGENERATE_FAIL,
        '{"id":5,"error":"x"}',
        AgentEventType.ENDPOINT_REGENERATE_FAILURE,
        'endpointRegenerate',
      ],
      [
        AgentNotification.ENDPOINT_CREATED,
        '{"id":5,"pod-name":"p","namespace":"n"}',
        AgentEventType.ENDPOINT_CREATED,
        'endpointUpdate',
      ],
      [AgentNotification.ENDPOINT_DELETED, '{"id":5}', AgentEventType.ENDPOINT_DELETED, 'endpointUpdate'],
      [
        AgentNotification.IPCACHE_UPSERTED,
        '{"cidr":"1.2.3.4/32","id":7,"encrypt-key":0}',
        AgentEventType.IPCACHE_UPSERTED,
        'ipcacheUpdate',
      ],
      [
        AgentNotification.IPCACHE_DELETED,
        '{"cidr":"1.2.3.4/32","id":7,"encrypt-key":0}',
        AgentEventType.IPCACHE_DELETED,
        'ipcacheUpdate',
      ],
      [
        AgentNotification.SERVICE_UPSERTED,
        '{"id":1,"frontend-address":{"ip":"10.96.0.1","port":443},"backend-addresses":null}',
        AgentEventType.SERVICE_UPSERTED,
        'serviceUpsert',
      ],
      [AgentNotification.SERVICE_DELETED, '{"id":1}', AgentEventType.SERVICE_DELETED, 'serviceDelete'],
    ];
    for (const [type, message, flowType, field] of cases) {
      const event = decodeAgentEvent({ type, message });
      expect(event.type, `notification ${type}`).toBe(flowType);
      expect(event[field], `notification ${type}`).toBeDefined();
    }
  });

  it('carries every IPCache field, the old identity only when there was one', () => {
    const event = decodeAgentEvent({
      type: AgentNotification.IPCACHE_UPSERTED,
      message:
        '{"cidr":"10.0.0.5/32","id":1234,"old-id":99,"host-ip":"192.168.1.2","encrypt-key":3,"namespace":"default","pod-name":"web-0"}',
    });
    expect(event.ipcacheUpdate).toEqual({
      cidr: '10.0.0.5/32',
      identity: 1234,
      oldIdentity: 99,
      hostIp: '192.168.1.2',
      oldHostIp: '',
      encryptKey: 3,
      namespace: 'default',
      podName: 'web-0',
    });
    const fresh = decodeAgentEvent({
      type: AgentNotification.IPCACHE_UPSERTED,
      message: '{"cidr":"10.0.0.5/32","id":1,"encrypt-key":0}',
    });
    expect(fresh.ipcacheUpdate?.oldIdentity).toBeUndefined();
  });

  it("fills a service upsert as Hubble does, including Go's text for a missing frontend address", () => {
    const payload = encodeAgentNotify({
      kind: 'serviceUpsert',
      type: AgentNotification.SERVICE_UPSERTED,
      notification: {
        id: 3,
        'frontend-address': { ip: null, port: 443 },
        'backend-addresses': [
          { ip: '10.0.0.2', port: 6443 },
          { ip: null, port: 1 },
        ],
        type: 'ClusterIP',
        'traffic-policy': 'Cluster',
        name: 'kubernetes',
        namespace: 'default',
      },
    });
    expect(decodeAgentEvent(payload).serviceUpsert).toEqual({
      id: 3,
      frontendAddress: { ip: '<nil>', port: 443 },
      backendAddresses: [
        { ip: '10.0.0.2', port: 6443 },
        { ip: '', port: 1 },
      ],
      type: 'ClusterIP',
      trafficPolicy: 'Cluster',
      extTrafficPolicy: 'Cluster',
      intTrafficPolicy: '',
      name: 'kubernetes',
      namespace: 'default',
    });
  });

  it.each([
    ['a generic message', AgentNotification.GENERIC, '"hello"'],
    ['an unspecified type', AgentNotification.UNSPEC, '{}'],
    ['a type newer than this code', 42, '{"x":1}'],
    ['a shaped type with malformed JSON', AgentNotification.POLICY_UPDATED, '{"rule_count":"three"}'],
  ])('keeps %s as an unknown event with its type number and text', (_what, type, message) => {
    const event = decodeAgentEvent({ type, message });
    expect(event.type).toBe(AgentEventType.AGENT_EVENT_UNKNOWN);
    expect(event.unknown).toEqual({ type: String(type), notification: message });
  });

  it('produces messages that survive the protobuf wire', () => {
    const event = decodeAgentEvent({
      type: AgentNotification.POLICY_UPDATED,
      message: '{"labels":["a=b"],"revision":4,"rule_count":3}',
    });
    expect(FlowAgentEvent.decode(FlowAgentEvent.encode(event).finish())).toEqual(event);
  });

  it.each([
    ['2024-02-29T23:59:59Z', { seconds: Date.UTC(2024, 1, 29, 23, 59, 59) / 1000, nanos: 0 }],
    ['1970-01-01T00:00:00.5-00:30', { seconds: 1800, nanos: 500_000_000 }],
    ['2023-02-29T00:00:00Z', undefined],
    ['yesterday', undefined],
  ])('parses RFC 3339 %s', (text, want) => {
    expect(parseRfc3339(text)).toEqual(want);
  });
});
