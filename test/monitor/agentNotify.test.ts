import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AgentNotification,
  agentNotificationText,
  decodeAgentNotify,
  encodeAgentNotify,
  type AgentNotifyMessage,
} from '../../src/monitor/agentNotify.js';
import { DatapathDecodeError } from '../../src/monitor/datapath/decodeError.js';

describe('agent notifications', () => {
  it('reads the JSON Cilium writes for an IPCache upsert', () => {
    // As Go's encoding/json writes IPCacheNotification: declared field order, omitempty fields left out.
    const message =
      '{"cidr":"10.0.0.5/32","id":1234,"old-id":99,"host-ip":"192.168.1.2","encrypt-key":0,"namespace":"default","pod-name":"web-0"}';
    const decoded = decodeAgentNotify({ type: AgentNotification.IPCACHE_UPSERTED, message });
    expect(decoded).toEqual({
      kind: 'ipcache',
      type: 9,
      notification: {
        cidr: '10.0.0.5/32',
        id: 1234,
        'old-id': 99,
        'host-ip': '192.168.1.2',
        'encrypt-key': 0,
        namespace: 'default',
        'pod-name': 'web-0',
      },
    });
    expect(encodeAgentNotify(decoded).message).toBe(message);
  });

  it.each<AgentNotifyMessage>([
    { kind: 'start', type: 2, notification: { time: '2024-05-01T10:00:00.123456789Z' } },
    { kind: 'policy', type: 5, notification: { labels: ['k8s:app=web'], revision: 7, rule_count: 2 } },
    { kind: 'policy', type: 6, notification: { rule_count: 0 } },
    { kind: 'endpointRegenerate', type: 4, notification: { id: 12, labels: ['a'], error: 'boom' } },
    { kind: 'endpoint', type: 7, notification: { id: 12, 'pod-name': 'web-0', namespace: 'default' } },
    {
      kind: 'serviceUpsert',
      type: 11,
      notification: {
        id: 3,
        'frontend-address': { ip: '10.96.0.1', port: 443 },
        'backend-addresses': [{ ip: '10.0.0.2', port: 6443 }],
        type: 'ClusterIP',
        name: 'kubernetes',
        namespace: 'default',
      },
    },
    { kind: 'serviceDelete', type: 12, notification: { id: 3 } },
    { kind: 'unknown', type: 1, notification: '"hello"' },
    { kind: 'unknown', type: 77, notification: 'not even json' },
  ])('round-trips a $kind notification (type $type)', (message) => {
    const event = encodeAgentNotify(message);
    expect(event.kind).toBe('agent');
    expect(decodeAgentNotify(event)).toEqual(message);
  });

  it('rejects shaped notifications whose JSON is broken or mistyped, with a typed error', () => {
    expect(() => decodeAgentNotify({ type: 2, message: '{' })).toThrow(
      expect.objectContaining({ code: 'INVALID_FIELD' }),
    );
    expect(() => decodeAgentNotify({ type: 9, message: '{"cidr":5,"id":1}' })).toThrow(/"cidr" must be a string/);
    expect(() => decodeAgentNotify({ type: 5, message: '[]' })).toThrow(/not a JSON object/);
  });

  it('throws nothing but DatapathDecodeError for arbitrary text of any type', () => {
    fc.assert(
      fc.property(fc.nat({ max: 14 }), fc.oneof(fc.string(), fc.json()), (type, message) => {
        try {
          decodeAgentNotify({ type, message });
        } catch (error) {
          expect(error).toBeInstanceOf(DatapathDecodeError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('names types as cilium monitor prints them', () => {
    expect(agentNotificationText(AgentNotification.START)).toBe('Cilium agent started');
    expect(agentNotificationText(AgentNotification.IPCACHE_DELETED)).toBe('IPCache entry deleted');
    expect(agentNotificationText(42)).toBe('42');
  });
});
